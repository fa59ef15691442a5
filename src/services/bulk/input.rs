//! The people of a bulk assignment as sent: pasted email addresses (one a line, or
//! separated by commas or semicolons) or a CSV with an `email` column and optional
//! `end` and `justification` columns. Parsing is pure; each row keeps its number so
//! every result can name the line it came from.

use chrono::{DateTime, Utc};

use crate::domain::DomainError;
use crate::time_text::parse_when;

/// One person to assign, as read from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonRow {
    /// From 1: the position in a pasted list, the line of a CSV.
    pub row: usize,
    pub email: String,
    pub end: Option<DateTime<Utc>>,
    pub justification: Option<String>,
    /// What was wrong with the row itself (field, message).
    pub error: Option<(String, String)>,
}

impl PersonRow {
    fn new(row: usize, email: String) -> Self {
        Self {
            row,
            email,
            end: None,
            justification: None,
            error: None,
        }
    }
}

/// Pasted addresses: one a line, commas and semicolons separate too; blanks are skipped.
pub fn parse_emails(text: &str) -> Vec<PersonRow> {
    text.split(['\n', '\r', ',', ';'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
        .map(|(i, e)| PersonRow::new(i + 1, e.to_string()))
        .collect()
}

/// A CSV whose header names an `email` column (any case), with optional `end` and
/// `justification` columns; other columns are ignored.
pub fn parse_csv(text: &str) -> Result<Vec<PersonRow>, DomainError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DomainError::field("csv", format!("the CSV could not be read: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(email_at) = column("email") else {
        return Err(DomainError::field(
            "csv",
            "the CSV has no email column: its first line must be a header naming the columns, e.g. email,end,justification",
        ));
    };
    let end_at = column("end");
    let justification_at = column("justification");
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record
            .map_err(|e| DomainError::field("csv", format!("the CSV could not be read: {e}")))?;
        // Line numbers as a spreadsheet shows them (the header is line 1).
        let line = record
            .position()
            .map_or(rows.len() + 2, |p| p.line() as usize);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let cell = |at: Option<usize>| {
            at.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let mut row = PersonRow::new(line, cell(Some(email_at)).unwrap_or_default().to_string());
        if row.email.is_empty() {
            row.error = Some(("email".into(), "the email cell is empty".into()));
        }
        if let Some(raw) = cell(end_at) {
            match parse_when(raw) {
                Ok(end) => row.end = end,
                Err(m) => {
                    row.error.get_or_insert(("end".into(), m));
                }
            }
        }
        row.justification = cell(justification_at).map(str::to_string);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_addresses_split_on_lines_commas_and_semicolons() {
        let rows = parse_emails("a@x.test\r\nb@x.test, c@x.test;d@x.test\n\n ,");
        let emails: Vec<_> = rows.iter().map(|r| r.email.as_str()).collect();
        assert_eq!(emails, ["a@x.test", "b@x.test", "c@x.test", "d@x.test"]);
        assert_eq!(rows[3].row, 4);
    }

    #[test]
    fn a_csv_reads_email_end_and_justification_by_header() {
        let rows = parse_csv(
            "Name,EMAIL,end,justification\nAda,ada@x.test,2027-01-31,project\nBob,bob@x.test,,\n",
        )
        .expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].email, "ada@x.test");
        assert_eq!(rows[0].row, 2);
        assert!(rows[0].end.is_some());
        assert_eq!(rows[0].justification.as_deref(), Some("project"));
        assert_eq!(rows[1].row, 3);
        assert_eq!(rows[1].end, None);
    }

    #[test]
    fn a_csv_without_an_email_column_is_refused_clearly() {
        let e = parse_csv("name,mail\nAda,ada@x.test\n").expect_err("no email column");
        assert!(format!("{e:?}").contains("no email column"), "{e:?}");
    }

    #[test]
    fn a_bad_end_or_an_empty_email_is_an_error_of_its_row() {
        let rows = parse_csv("email,end\n,2027-01-01\nada@x.test,soon\n").expect("parses");
        assert_eq!(rows[0].error.as_ref().map(|e| e.0.as_str()), Some("email"));
        assert_eq!(rows[1].error.as_ref().map(|e| e.0.as_str()), Some("end"));
    }
}
