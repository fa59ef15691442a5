//! What the requester writes: the justification and the answers to the policy's
//! questions, each problem reported at its field.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::error::FieldErrors;
use crate::domain::policy::{Question, QuestionKind};
use crate::domain::values::{NO_CONTROL_CHARACTERS, has_control_characters};

/// A justification: trimmed, at most 2000 characters; blank means none.
pub fn parse_justification(
    raw: Option<&str>,
    required: bool,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = raw.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if required => {
            errors.add(field, "a justification is required");
            None
        }
        Some(v) if v.chars().count() > 2000 => {
            errors.add(field, "a justification has at most 2000 characters");
            None
        }
        Some(v) if has_control_characters(v, true) => {
            errors.add(field, format!("a justification {NO_CONTROL_CHARACTERS}"));
            None
        }
        v => v.map(str::to_string),
    }
}

/// An answer as sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerInput {
    pub question_id: Uuid,
    pub value: String,
}

/// An answer as kept on the request (with the question's text as it was asked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub question_id: Uuid,
    pub question: String,
    pub value: String,
}

/// Checks answers against the policy's questions.
pub fn check_answers(
    questions: &[Question],
    answers: &[AnswerInput],
    errors: &mut FieldErrors,
) -> Vec<Answer> {
    let mut out = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        if !questions.iter().any(|q| q.id == Some(a.question_id)) {
            errors.add(
                format!("answers[{i}].questionId"),
                "this policy has no such question",
            );
        }
        if answers[..i].iter().any(|b| b.question_id == a.question_id) {
            errors.add(
                format!("answers[{i}].questionId"),
                "this question is answered twice",
            );
        }
    }
    for q in questions {
        let Some(id) = q.id else { continue };
        let field = format!("answers.{id}");
        let value = answers
            .iter()
            .find(|a| a.question_id == id)
            .map(|a| a.value.trim())
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            if q.required {
                errors.add(
                    field,
                    format!("an answer to “{}” is required", q.text.trim()),
                );
            }
            continue;
        };
        let max = match q.kind {
            QuestionKind::ShortText | QuestionKind::Choice => 200,
            QuestionKind::LongText => 4000,
        };
        if value.chars().count() > max {
            errors.add(field, format!("an answer has at most {max} characters"));
            continue;
        }
        if has_control_characters(value, q.kind == QuestionKind::LongText) {
            errors.add(field, format!("an answer {NO_CONTROL_CHARACTERS}"));
            continue;
        }
        if q.kind == QuestionKind::Choice && !q.options.iter().any(|o| o.trim() == value) {
            errors.add(field, format!("choose one of: {}", q.options.join(", ")));
            continue;
        }
        out.push(Answer {
            question_id: id,
            question: q.text.trim().to_string(),
            value: value.to_string(),
        });
    }
    out
}
