//! Questions a requestor answers: short or long text, or a choice among options.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::error::FieldErrors;

pub const MAX_QUESTIONS: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = QuestionKindSchema)]
pub enum QuestionKind {
    ShortText,
    LongText,
    Choice,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = QuestionSchema)]
pub struct Question {
    /// Given by Portico; send it back on PUT to keep it.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub text: String,
    pub kind: QuestionKind,
    /// At least two, for `choice` questions only.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub required: bool,
}

/// The number of questions, each one's text and options, and that no two share an id.
pub(super) fn check_questions(questions: &[Question], e: &mut FieldErrors) {
    if questions.len() > MAX_QUESTIONS {
        e.add(
            "questions",
            format!("at most {MAX_QUESTIONS} questions are allowed"),
        );
    }
    for (i, q) in questions.iter().enumerate() {
        let text = q.text.trim();
        if text.is_empty() {
            e.add(format!("questions[{i}].text"), "a question needs its text");
        } else if text.chars().count() > 500 {
            e.add(
                format!("questions[{i}].text"),
                "a question has at most 500 characters",
            );
        }
        match q.kind {
            QuestionKind::Choice => {
                if q.options.iter().filter(|o| !o.trim().is_empty()).count() < 2 {
                    e.add(
                        format!("questions[{i}].options"),
                        "a choice question needs at least two options",
                    );
                }
                if q.options.iter().any(|o| o.trim().is_empty()) {
                    e.add(format!("questions[{i}].options"), "options cannot be empty");
                }
            }
            _ if !q.options.is_empty() => {
                e.add(
                    format!("questions[{i}].options"),
                    "only choice questions have options",
                );
            }
            _ => {}
        }
    }
    for (i, a) in questions.iter().enumerate() {
        if let Some(id) = a.id
            && questions[..i].iter().any(|b| b.id == Some(id))
        {
            e.add(
                format!("questions[{i}].id"),
                "two questions cannot share an id",
            );
        }
    }
}
