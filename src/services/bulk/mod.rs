//! Bulk work on assignments: assigning a package to many people at once (pasted
//! addresses, a CSV or the direct members of a group) and removing or extending many
//! assignments at once. Every row is checked by the same rules as a single request
//! (each row is the request `requests::submit` would make, under its own savepoint),
//! and the result names each row. All or nothing: when any row is refused, the
//! transaction is rolled back and nothing at all is written.

mod assign;
mod change;
mod input;

pub use assign::{BulkAssignment, People, assign};
pub use change::{extend, remove};
pub use input::{PersonRow, parse_csv, parse_emails};

use crate::db::requests::RequestRow;
use crate::domain::ids::AssignmentId;
use crate::domain::{DomainError, FieldErrors};

/// The most rows one call may hold.
pub const MAX_ROWS: usize = 10_000;

/// A call writes the history of its rows (audit events, emails) whenever this many
/// wait, inside its transaction: holding all of it to the end took about 6 KB of
/// memory a row, and one statement's parameters for all of it at once.
const TRAIL_FLUSH: usize = 2_000;

/// What became of one row.
#[derive(Clone, Debug)]
pub struct RowResult {
    /// From 1: the line of the input (or the position of the id).
    pub row: usize,
    /// The email address of the person (or, when unknown, what was sent).
    pub email: String,
    pub assignment_id: Option<AssignmentId>,
    /// The refusal of this row: (field, message); `None` when the row is good.
    pub error: Option<(String, String)>,
    /// The request written for this row (only when the whole call was carried out).
    pub request: Option<RequestRow>,
}

impl RowResult {
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The answer to a bulk call: `done` when every row was good and all were written;
/// otherwise nothing was written and the bad rows say why.
#[derive(Clone, Debug)]
pub struct BulkOutcome {
    pub done: bool,
    pub rows: Vec<RowResult>,
}

impl BulkOutcome {
    fn new(rows: Vec<RowResult>) -> Self {
        Self {
            done: rows.iter().all(RowResult::is_ok),
            rows,
        }
    }

    pub fn failed(&self) -> usize {
        self.rows.iter().filter(|r| !r.is_ok()).count()
    }

    /// The refusals as field errors, one per bad row, under `rows[<index>].<field>`
    /// (index from 0, in the order of the input).
    pub fn field_errors(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        for (i, r) in self.rows.iter().enumerate() {
            if let Some((field, message)) = &r.error {
                errors.add(
                    format!("rows[{i}].{field}"),
                    format!("row {} ({}): {message}", r.row, r.email),
                );
            }
        }
        errors
    }
}

/// The row's field and message for a refusal of the rules; `subject` is the field that
/// names the row (`email`, `id`).
fn row_error(e: &DomainError, subject: &str) -> (String, String) {
    match e {
        DomainError::Validation(fields) => fields
            .0
            .iter()
            .next()
            .map(|(field, message)| {
                let field = match field.as_str() {
                    "schedule.endDateTime" | "schedule" => "end",
                    "schedule.startDateTime" => "start",
                    "justification" => "justification",
                    _ => subject,
                };
                (field.to_string(), message.clone())
            })
            .unwrap_or_else(|| (subject.to_string(), e.to_string())),
        other => (subject.to_string(), other.to_string()),
    }
}

/// Refuses an empty call or one over the limit.
fn check_size(n: usize, field: &str, what: &str) -> Result<(), DomainError> {
    if n == 0 {
        return Err(DomainError::field(
            field,
            format!("there is no {what} to act on"),
        ));
    }
    if n > MAX_ROWS {
        return Err(DomainError::field(
            field,
            format!("at most {MAX_ROWS} rows can be sent at once; this has {n}"),
        ));
    }
    Ok(())
}
