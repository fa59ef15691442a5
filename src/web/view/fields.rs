//! Field errors as forms show them: each next to its field and in a summary, labelled
//! in words (`approval.stages[0].timeoutDays` reads "Approval stage 1 timeout days"),
//! and a form with problems answered again with 422.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::domain::{DomainError, FieldErrors};
use crate::services::ServiceError;

/// Field errors of a form, for the templates, with the form's own labels for the
/// summary where it has them.
#[derive(Clone, Debug, Default)]
pub struct Errors(BTreeMap<String, String>, BTreeMap<String, String>);

impl Errors {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The form's label of a field when it named one (see [`Errors::labelled`]), else
    /// the path as words: `approval.stages[0].timeoutDays` → "Approval stage 1 timeout days".
    pub fn label(&self, field: &str) -> String {
        self.1
            .get(field)
            .cloned()
            .unwrap_or_else(|| field_label(field))
    }

    /// Names each field with a problem as the form labels it, where `label` knows it.
    pub fn labelled(mut self, label: impl Fn(&str) -> Option<String>) -> Self {
        for field in self.0.keys() {
            if let Some(l) = label(field) {
                self.1.insert(field.clone(), l);
            }
        }
        self
    }

    /// Adds the problems of `other` at fields that have none yet.
    pub fn merge(&mut self, other: FieldErrors) {
        for (field, message) in other.0 {
            self.0.entry(field).or_insert(message);
        }
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }
}

impl From<FieldErrors> for Errors {
    fn from(e: FieldErrors) -> Self {
        Self(e.0, BTreeMap::new())
    }
}

/// Turns a field path into words a person reads.
pub fn field_label(field: &str) -> String {
    // Answers are keyed by question id; the message names the question.
    if field.starts_with("answers.") {
        return "Answer".into();
    }
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' | '_' => out.push(' '),
            '[' => {
                let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                let n = digits
                    .parse::<usize>()
                    .map_or(digits.clone(), |n| (n + 1).to_string());
                // "stages[0]" reads "stage 1".
                if out.ends_with('s') {
                    out.pop();
                }
                out.push(' ');
                out.push_str(&n);
            }
            c if c.is_uppercase() => {
                out.push(' ');
                out.extend(c.to_lowercase());
            }
            c => out.push(c),
        }
    }
    let mut words = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(first) = words.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    words
}

/// Splits a service error into the field errors a form shows again (422) and the
/// errors that become an error page.
pub fn form_errors(e: ServiceError) -> Result<Errors, ServiceError> {
    match e {
        ServiceError::Domain(DomainError::Validation(errors)) => Ok(errors.into()),
        // A save from a stale copy: the form comes back with the person's input and
        // says who changed it since, at the top.
        ServiceError::Domain(DomainError::Stale(message)) => {
            let mut errors = Errors::none();
            errors.add("version", message);
            Ok(errors.labelled(|_| Some("Changed since you opened it".into())))
        }
        other => Err(other),
    }
}

/// The time typed into the form's field `name` (in the reader's zone), or `None` when
/// it is empty; a time that does not read is noted in `errors` under `name`.
pub fn form_when(
    form: &crate::web::session::FormData,
    name: &str,
    errors: &mut Errors,
) -> Option<chrono::DateTime<chrono::Utc>> {
    crate::time_text::parse_when(&form.text(name)).unwrap_or_else(|m| {
        errors.add(name, m);
        None
    })
}

/// A re-rendered form: 422 with its errors.
pub fn invalid(page: impl IntoResponse) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_read_as_words() {
        assert_eq!(
            field_label("approval.stages[0].timeoutDays"),
            "Approval stage 1 timeout days"
        );
        assert_eq!(field_label("displayName"), "Display name");
        assert_eq!(field_label("answers.0190"), "Answer");
    }
}
