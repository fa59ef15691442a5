//! Importing users from CSV: one transaction, every bad row reported, nothing half-done.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::user_json;
use crate::db;
use crate::db::users::User;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::UserId;
use crate::domain::values::{DisplayName, EmailAddress, UserKind, optional_text};
use crate::services::tx::Work;
use crate::services::{Caller, ServiceResult};

/// One rejected row of a CSV import (`line` counts from 1, the header included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub email: String,
    pub message: String,
}

/// What a CSV import did: everything, or nothing with the reasons.
#[derive(Debug)]
pub enum ImportOutcome {
    Imported(Vec<User>),
    Rejected(Vec<RowError>),
}

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 5000;

const IMPORT_COLUMNS: [&str; 5] = [
    "email",
    "displayName",
    "department",
    "jobTitle",
    "managerEmail",
];

/// Splits CSV text (RFC 4180, read by the `csv` crate: commas, double-quoted fields
/// with `""` escapes and line breaks inside quotes, CRLF or LF, a leading byte-order
/// mark) into records with the line each starts on. Blank lines are skipped. A quote
/// left open at the end of the text is refused: it would swallow every line after it.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    let unreadable = |line: u64, e: &dyn std::fmt::Display| RowError {
        line: usize::try_from(line).unwrap_or(usize::MAX),
        email: String::new(),
        message: format!("this line cannot be read as CSV: {e}"),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let bytes = text.as_bytes();
    let mut records = Vec::new();
    // Where the last record starts, and on which line. A record's position is where
    // the reader began it, which may be on the line end of the one before or on blank
    // lines (the reader's own line count misses a CRLF's LF there); its first line is
    // where its text begins.
    let (mut start, mut line) = (0, 1);
    for record in reader.records() {
        let record = record.map_err(|e| unreadable(e.position().map_or(1, |p| p.line()), &e))?;
        let mut begins = record
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
            .max(start);
        while matches!(bytes.get(begins), Some(b'\r' | b'\n')) {
            begins += 1;
        }
        line += bytes
            .get(start..begins)
            .map_or(0, |skipped| skipped.iter().filter(|b| **b == b'\n').count());
        start = begins;
        records.push((line, record.iter().map(str::to_string).collect()));
    }
    if let Some((line, _)) = records.last()
        && ends_inside_quotes(text.get(start..).unwrap_or_default())
    {
        return Err(RowError {
            line: *line,
            email: String::new(),
            message: "a quoted field is not closed (a \" is missing)".into(),
        });
    }
    Ok(records)
}

/// Whether `record`, the text of a file's last record, ends inside a quoted field (the
/// csv reader ends such a field at the end of the text without a word). Follows the
/// reader's rule: a quote opens a field only as its first character.
fn ends_inside_quotes(record: &str) -> bool {
    let mut in_quotes = false;
    let mut field_start = true;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                chars.next();
            }
            '"' if in_quotes => in_quotes = false,
            '"' if field_start => in_quotes = true,
            ',' | '\n' | '\r' if !in_quotes => {
                field_start = true;
                continue;
            }
            _ => {}
        }
        field_start = false;
    }
    in_quotes
}

/// A parsed import row.
struct ImportRow {
    line: usize,
    email: EmailAddress,
    display_name: DisplayName,
    department: Option<String>,
    job_title: Option<String>,
    manager: Option<String>,
}

/// Imports users from CSV with the columns email, displayName, department, jobTitle,
/// managerEmail (header row first; the last three optional). Managers may be existing
/// users or rows of the same file. All rows are checked first and written in one
/// transaction: one bad row imports nothing, and every bad row is reported.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn import_csv(
    pool: &PgPool,
    caller: &Caller,
    csv: &str,
    now: DateTime<Utc>,
) -> ServiceResult<ImportOutcome> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let reject = |line: usize, email: &str, message: String| RowError {
        line,
        email: email.to_string(),
        message,
    };
    let records = match parse_csv(csv) {
        Ok(r) => r,
        Err(e) => return Ok(ImportOutcome::Rejected(vec![e])),
    };
    let Some(((header_line, header), rows)) = records.split_first() else {
        return Ok(ImportOutcome::Rejected(vec![reject(
            1,
            "",
            "the file is empty: the first line names the columns (email,displayName,department,jobTitle,managerEmail)".into(),
        )]));
    };
    let mut columns = Vec::new();
    let mut errors = Vec::new();
    for name in header {
        match IMPORT_COLUMNS
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name.trim()))
        {
            Some(c) if columns.contains(c) => errors.push(reject(
                *header_line,
                "",
                format!("the column {c} is named twice"),
            )),
            Some(c) => columns.push(*c),
            None => errors.push(reject(
                *header_line,
                "",
                format!(
                    "unknown column '{}'; the columns are {}",
                    name.trim(),
                    IMPORT_COLUMNS.join(", ")
                ),
            )),
        }
    }
    for required in ["email", "displayName"] {
        if !columns.contains(&required) {
            errors.push(reject(
                *header_line,
                "",
                format!("the column {required} is required"),
            ));
        }
    }
    if rows.is_empty() {
        errors.push(reject(
            *header_line,
            "",
            "the file has no users after its header line".into(),
        ));
    }
    if rows.len() > MAX_IMPORT_ROWS {
        errors.push(reject(
            *header_line,
            "",
            format!(
                "at most {MAX_IMPORT_ROWS} users can be imported at once (the file has {})",
                rows.len()
            ),
        ));
    }
    if !errors.is_empty() {
        return Ok(ImportOutcome::Rejected(errors));
    }
    let mut parsed: Vec<ImportRow> = Vec::new();
    // The rows' addresses (lowercase) and where each is in `parsed`.
    let mut in_file: HashMap<String, usize> = HashMap::new();
    for (line, values) in rows {
        let line = *line;
        let get = |name: &str| {
            columns
                .iter()
                .position(|c| *c == name)
                .and_then(|i| values.get(i))
                .map(|v| v.trim().to_string())
        };
        let raw_email = get("email").unwrap_or_default();
        if values.len() != columns.len() {
            errors.push(reject(
                line,
                &raw_email,
                format!(
                    "this line has {} fields; the header names {}",
                    values.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        let mut problems = Vec::new();
        let email = EmailAddress::parse(&raw_email)
            .map_err(|e| problems.push(format!("email: {e}")))
            .ok();
        let name = DisplayName::parse(&get("displayName").unwrap_or_default())
            .map_err(|e| problems.push(format!("displayName: {e}")))
            .ok();
        let department = optional_text(get("department").as_deref(), 256)
            .map_err(|e| problems.push(format!("department: {e}")))
            .ok()
            .flatten();
        let job_title = optional_text(get("jobTitle").as_deref(), 256)
            .map_err(|e| problems.push(format!("jobTitle: {e}")))
            .ok()
            .flatten();
        let manager = match get("managerEmail").filter(|m| !m.is_empty()) {
            None => None,
            Some(m) => match EmailAddress::parse(&m) {
                Ok(m) => Some(m.as_str().to_lowercase()),
                Err(e) => {
                    problems.push(format!("managerEmail: {e}"));
                    None
                }
            },
        };
        if let Some(e) = &email {
            let key = e.as_str().to_lowercase();
            if manager.as_deref() == Some(key.as_str()) {
                problems.push("a user cannot be their own manager".into());
            }
            if let Some(first) = in_file.get(&key).and_then(|i| parsed.get(*i)) {
                problems.push(format!(
                    "this email address is already on line {}",
                    first.line
                ));
            }
        }
        match (email, name, problems.is_empty()) {
            (Some(email), Some(display_name), true) => {
                in_file.insert(email.as_str().to_lowercase(), parsed.len());
                parsed.push(ImportRow {
                    line,
                    email,
                    display_name,
                    department,
                    job_title,
                    manager,
                });
            }
            _ => errors.push(reject(line, &raw_email, problems.join("; "))),
        }
    }
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    // One query for every address the file names: its users' (which must be new) and
    // their managers' (which must exist unless the file adds them).
    let mut named: Vec<String> = in_file.keys().cloned().collect();
    named.extend(parsed.iter().filter_map(|r| r.manager.clone()));
    named.sort_unstable();
    named.dedup();
    let existing: HashMap<String, UserId> = db::users::by_emails(work.conn(), tenant, &named)
        .await?
        .into_iter()
        .map(|u| (u.email.to_lowercase(), u.id))
        .collect();
    for row in &parsed {
        if existing.contains_key(&row.email.as_str().to_lowercase()) {
            errors.push(reject(
                row.line,
                row.email.as_str(),
                "a user with this email address already exists".into(),
            ));
        }
        if let Some(m) = &row.manager
            && !in_file.contains_key(m)
            && !existing.contains_key(m)
        {
            errors.push(reject(
                row.line,
                row.email.as_str(),
                format!("managerEmail: there is no user {m} in the directory or in this file"),
            ));
        }
    }
    // Managers inside the file must not form a loop.
    for row in &parsed {
        let mut seen = vec![row.email.as_str().to_lowercase()];
        let mut next = row.manager.clone();
        while let Some(m) = next {
            if seen.contains(&m) {
                errors.push(reject(
                    row.line,
                    row.email.as_str(),
                    "the managers in this file form a loop".into(),
                ));
                break;
            }
            next = in_file
                .get(&m)
                .and_then(|i| parsed.get(*i))
                .and_then(|r| r.manager.clone());
            seen.push(m);
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        errors.dedup();
        return Ok(ImportOutcome::Rejected(errors));
    }
    let mut created: Vec<User> = Vec::new();
    for row in &parsed {
        let user = User {
            tenant_id: tenant,
            id: UserId::new(),
            email: row.email.to_string(),
            display_name: row.display_name.to_string(),
            department: row.department.clone(),
            job_title: row.job_title.clone(),
            manager_id: None,
            kind: UserKind::Member,
            active: true,
            external_id: None,
            last_sign_in_at: None,
            directory_managed: false,
            time_zone: None,
            created_at: now,
            updated_at: now,
        };
        db::users::insert(work.conn(), &user).await?;
        created.push(user);
    }
    for (row, i) in parsed.iter().zip(0..) {
        let Some(m) = &row.manager else { continue };
        let manager = match in_file.get(m) {
            Some(j) => created.get(*j).map(|u| u.id),
            None => existing.get(m).copied(),
        };
        if let Some(user) = created.get_mut(i) {
            user.manager_id = manager;
            db::users::update(work.conn(), user).await?;
        }
    }
    for user in &created {
        work.audit(
            AuditAction::UserCreated,
            Target::User(user.id),
            json!({"after": user_json(user), "source": "csvImport"}),
        );
    }
    work.commit(caller.permitted(permit)).await?;
    Ok(ImportOutcome::Imported(created))
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn csv_fields_may_be_quoted_with_commas_quotes_and_line_breaks() {
        let text = "email,displayName\r\na@x.test,\"Vance, Adele\"\n\nb@x.test,\"Say \"\"hi\"\"\nthere\"\nc@x.test,";
        let rows = parse_csv(text).expect("parses");
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[1],
            (2, vec!["a@x.test".to_string(), "Vance, Adele".into()])
        );
        assert_eq!(rows[2].0, 4);
        assert_eq!(rows[2].1[1], "Say \"hi\"\nthere");
        assert_eq!(rows[3], (6, vec!["c@x.test".to_string(), String::new()]));
    }

    #[test]
    fn an_unclosed_quote_names_its_line() {
        let err = parse_csv("email,displayName\na@x.test,\"open").expect_err("refused");
        assert_eq!(err.line, 2);
        let err =
            parse_csv("email,displayName\na@x.test,\"open\nb@x.test,B\n").expect_err("refused");
        assert_eq!(err.line, 2);
        assert!(err.message.contains("not closed"), "{}", err.message);
    }

    #[test]
    fn a_byte_order_mark_crlf_and_quoted_headers_read_as_plain_csv() {
        let rows = parse_csv(
            "\u{feff}\"email\",displayName\r\n\"a@x.test\",\"Ada, \"\"the\"\" first\"\r\n",
        )
        .expect("parses");
        assert_eq!(
            rows,
            vec![
                (1, vec!["email".to_string(), "displayName".into()]),
                (2, vec!["a@x.test".to_string(), "Ada, \"the\" first".into()]),
            ]
        );
    }

    #[test]
    fn quotes_that_do_not_open_a_field_are_kept_as_text() {
        let rows = parse_csv("email,displayName\na@x.test,O\"Neil\nb@x.test,\"closed\"\n")
            .expect("parses");
        assert_eq!(rows[1].1[1], "O\"Neil");
        assert_eq!(rows[2].1[1], "closed");
    }
}
