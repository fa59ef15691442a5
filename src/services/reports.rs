//! Reports auditors ask for, as CSV or JSON: every assignment matching a filter
//! (streamed: read a chunk at a time through a cursor and written as it is read, so a
//! million rows take the memory of one chunk), and what one person can access and why.
//!
//! Who sees what: tenant admins every catalog; catalog owners, readers and assignment
//! managers the assignments of their catalogs; the person report, which spans the
//! whole tenant (groups, roles), tenant admins only.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::{Caller, ServiceResult};
use crate::db;
pub use crate::db::reports::{AccessRow, AssignmentFilter, Source};
use crate::domain::authz::Action;
use crate::domain::error::DomainError;
use crate::domain::ids::{CatalogId, UserId};

/// Rows read from the database at a time.
pub const CHUNK: u32 = 1_000;
/// Chunks written ahead of a slow reader before the reading waits.
const AHEAD: usize = 4;

/// The two encodings of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// A report being written: its chunks arrive on `chunks`; an `Err` means the reading
/// failed part way, and the answer must be cut off rather than look complete.
pub struct Stream {
    pub format: Format,
    pub chunks: mpsc::Receiver<Result<Vec<u8>, String>>,
}

pub const ASSIGNMENT_COLUMNS: [&str; 16] = [
    "assignmentId",
    "catalog",
    "accessPackage",
    "userEmail",
    "userDisplayName",
    "state",
    "startDateTime",
    "endDateTime",
    "createdAt",
    "requestId",
    "requestType",
    "requestedBy",
    "approvedBy",
    "decidedAt",
    "removalReason",
    "endedAt",
];

pub const CONFLICT_COLUMNS: [&str; 9] = [
    "userEmail",
    "userDisplayName",
    "catalog",
    "accessPackage",
    "conflictKind",
    "conflictsWith",
    "assignmentId",
    "since",
    "otherAssignmentId",
];

pub const REVIEW_COLUMNS: [&str; 16] = [
    "accessReviewId",
    "catalog",
    "accessPackage",
    "reviewStart",
    "reviewEnd",
    "reviewState",
    "userEmail",
    "userDisplayName",
    "reviewers",
    "recommendation",
    "decision",
    "justification",
    "decidedBy",
    "decidedAt",
    "appliedResult",
    "assignmentId",
];

pub const AUDIT_COLUMNS: [&str; 12] = [
    "id",
    "at",
    "actorType",
    "actor",
    "actorId",
    "actorTokenId",
    "action",
    "targetType",
    "targetId",
    "target",
    "details",
    "correlationId",
];

/// The columns of a report, in its order.
pub fn columns(source: &Source) -> &'static [&'static str] {
    match source {
        Source::Assignments(_) => &ASSIGNMENT_COLUMNS,
        Source::Conflicts { .. } => &CONFLICT_COLUMNS,
        Source::Reviews { .. } => &REVIEW_COLUMNS,
        Source::Audit(_) => &AUDIT_COLUMNS,
    }
}

pub const ACCESS_COLUMNS: [&str; 10] = [
    "kind",
    "name",
    "via",
    "state",
    "since",
    "until",
    "requestId",
    "requestedBy",
    "approvedBy",
    "decidedAt",
];

fn time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn access_cells(r: &AccessRow) -> [Option<String>; 10] {
    [
        Some(r.kind.clone()),
        Some(r.name.clone()),
        Some(r.via.clone()),
        r.state.clone(),
        time(r.since),
        time(r.until),
        r.request_id.map(|id| id.to_string()),
        r.requested_by.clone(),
        r.approved_by.clone(),
        time(r.decided_at),
    ]
}

/// A cell a spreadsheet shows as text: one that would start a formula gets a `'`.
pub fn csv_cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// Writes rows of `columns` cells as CSV lines or as JSON objects (each after a
/// comma but the first, inside `{"items": [` … `]}` written by [`open`] and [`close`]).
struct Encoder {
    format: Format,
    columns: &'static [&'static str],
    first: bool,
}

impl Encoder {
    fn open(&mut self) -> Result<Vec<u8>, String> {
        match self.format {
            Format::Csv => csv_line(self.columns.iter().map(|c| Some(*c))),
            Format::Json => Ok(b"{\"items\":[".to_vec()),
        }
    }

    fn rows<'a>(
        &mut self,
        rows: impl Iterator<Item = Vec<Option<String>>> + 'a,
    ) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for cells in rows {
            match self.format {
                Format::Csv => out.extend(csv_line(cells.iter().map(|c| c.as_deref()))?),
                Format::Json => {
                    if !self.first {
                        out.push(b',');
                    }
                    self.first = false;
                    let object: serde_json::Map<String, Value> = self
                        .columns
                        .iter()
                        .zip(cells)
                        .map(|(k, v)| ((*k).to_string(), v.map_or(Value::Null, Value::String)))
                        .collect();
                    serde_json::to_writer(&mut out, &object).map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(out)
    }

    fn close(&self) -> Vec<u8> {
        match self.format {
            Format::Csv => Vec::new(),
            Format::Json => b"]}".to_vec(),
        }
    }
}

fn csv_line<'a>(cells: impl Iterator<Item = Option<&'a str>>) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cells.map(|c| csv_cell(c.unwrap_or("")).into_owned()))
        .map_err(|e| e.to_string())?;
    w.into_inner().map_err(|e| e.to_string())
}

/// The catalogs whose assignments, requests and reviews the caller oversees (reads or
/// manages the assignments of), for callers who are not tenant admins.
pub fn overseen_catalogs(caller: &Caller) -> Vec<CatalogId> {
    caller
        .roles
        .catalogs()
        .filter(|c| {
            caller.roles.allows(Action::ManageAssignments(*c))
                || caller.roles.allows(Action::ReadCatalog(*c))
        })
        .collect()
}

/// The catalogs whose assignments the caller may report on (`None`: all of them).
fn reportable_catalogs(caller: &Caller) -> ServiceResult<Option<Vec<CatalogId>>> {
    if caller.roles.is_tenant_admin() {
        return Ok(None);
    }
    let mine = overseen_catalogs(caller);
    if mine.is_empty() {
        return Err(DomainError::forbidden(
            "Reports are for tenant admins and for the owners, readers and assignment managers of a catalog.",
        )
        .into());
    }
    Ok(Some(mine))
}

/// Starts a report: checks the caller (limiting it to the catalogs they may see) and
/// the filter, opens the cursor, and writes the report as it is read, in a task of its
/// own.
#[tracing::instrument(skip(pool, caller, source), fields(tenant = %caller.tenant_id()))]
pub async fn report(
    pool: &PgPool,
    caller: &Caller,
    mut source: Source,
    format: Format,
) -> ServiceResult<Stream> {
    let tenant = caller.tenant_id();
    let visible = match &source {
        Source::Audit(_) => {
            caller.require(Action::ReadAudit)?;
            None
        }
        _ => reportable_catalogs(caller)?,
    };
    // A transaction owned by the writing task: dropped (rolled back, the cursor
    // closed) however the writing ends.
    let mut conn = pool.begin().await.map_err(db::DbError::from)?;
    match &mut source {
        Source::Assignments(f) => {
            if let Some(c) = f.catalog
                && db::catalogs::get(&mut conn, tenant, c).await?.is_none()
            {
                return Err(DomainError::field("catalogId", "no catalog with this id").into());
            }
            f.catalogs = visible;
        }
        Source::Conflicts { catalogs } => *catalogs = visible,
        Source::Reviews { package, catalogs } => {
            if let Some(p) = *package
                && db::packages::get(&mut conn, tenant, p).await?.is_none()
            {
                return Err(DomainError::field(
                    "accessPackageId",
                    "no access package with this id",
                )
                .into());
            }
            *catalogs = visible;
        }
        Source::Audit(_) => {}
    }
    let columns = columns(&source);
    db::reports::open(&mut conn, tenant, &source).await?;
    let first = db::reports::next_rows(&mut conn, CHUNK).await?;

    let (tx, rx) = mpsc::channel(AHEAD);
    let mut enc = Encoder {
        format,
        columns,
        first: true,
    };
    tokio::spawn(async move {
        let mut rows = first;
        let mut out = enc.open();
        loop {
            let done = rows.len() < CHUNK as usize;
            let chunk = out.and_then(|mut head| {
                head.extend(enc.rows(rows.drain(..).map(|r| r.0))?);
                Ok(head)
            });
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
            if done {
                let _ = tx.send(Ok(enc.close())).await;
                break;
            }
            rows = match db::reports::next_rows(&mut conn, CHUNK).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "a report stopped part way");
                    let _ = tx.send(Err(e.to_string())).await;
                    break;
                }
            };
            out = Ok(Vec::new());
        }
        let _ = conn.rollback().await;
    });
    Ok(Stream { format, chunks: rx })
}

/// What `user` can access and why, written whole (one person's rows are few).
#[tracing::instrument(skip(pool, caller), fields(tenant = %caller.tenant_id()))]
pub async fn person_access(
    pool: &PgPool,
    caller: &Caller,
    user: UserId,
    format: Format,
) -> ServiceResult<(String, Vec<u8>)> {
    let (email, rows) = person_rows(pool, caller, user).await?;
    let mut enc = Encoder {
        format,
        columns: &ACCESS_COLUMNS,
        first: true,
    };
    let mut body = enc.open().map_err(anyhow::Error::msg)?;
    body.extend(
        enc.rows(rows.iter().map(|r| access_cells(r).to_vec()))
            .map_err(anyhow::Error::msg)?,
    );
    body.extend(enc.close());
    Ok((email, body))
}

/// The person's email and the rows of [`person_access`], for pages.
#[tracing::instrument(skip(pool, caller), fields(tenant = %caller.tenant_id()))]
pub async fn person_rows(
    pool: &PgPool,
    caller: &Caller,
    user: UserId,
) -> ServiceResult<(String, Vec<AccessRow>)> {
    if !caller.roles.is_tenant_admin() {
        return Err(DomainError::forbidden(
            "What a person can access spans every catalog, group and role: tenant admins only.",
        )
        .into());
    }
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let person = db::users::get(&mut conn, tenant, user)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    let rows = db::reports::person_access(&mut conn, tenant, user).await?;
    Ok((person.email, rows))
}

/// The person with this email (for the report's search form).
#[tracing::instrument(skip(pool, caller), fields(tenant = %caller.tenant_id()))]
pub async fn person_by_email(
    pool: &PgPool,
    caller: &Caller,
    email: &str,
) -> ServiceResult<Option<UserId>> {
    let mut conn = pool.acquire().await?;
    Ok(
        db::users::by_email(&mut conn, caller.tenant_id(), email.trim())
            .await?
            .map(|u| u.id),
    )
}

/// The rows of a report as JSON values (the admin page's table).
pub fn access_json(rows: &[AccessRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let cells = access_cells(r);
            let mut o = serde_json::Map::new();
            for (k, v) in ACCESS_COLUMNS.iter().zip(cells) {
                o.insert((*k).to_string(), v.map_or(Value::Null, Value::String));
            }
            json!(o)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_start_a_formula_are_kept_as_text() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("Still needs it"), "Still needs it");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn json_rows_are_comma_separated_inside_items_and_csv_cells_never_start_a_formula() {
        let mut enc = Encoder {
            format: Format::Json,
            columns: &["a", "b"],
            first: true,
        };
        let mut out = enc.open().expect("open");
        out.extend(
            enc.rows(
                vec![
                    vec![Some("1".into()), None],
                    vec![Some("2".into()), Some("x".into())],
                ]
                .into_iter(),
            )
            .expect("rows"),
        );
        out.extend(
            enc.rows(vec![vec![Some("3".into()), None]].into_iter())
                .expect("rows"),
        );
        out.extend(enc.close());
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(
            v,
            json!({"items": [{"a": "1", "b": null}, {"a": "2", "b": "x"}, {"a": "3", "b": null}]})
        );

        let mut enc = Encoder {
            format: Format::Csv,
            columns: &["a", "b"],
            first: true,
        };
        let mut out = enc.open().expect("open");
        out.extend(
            enc.rows(vec![vec![Some("=1+1".into()), Some("a,b".into())]].into_iter())
                .expect("rows"),
        );
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "a,b\n'=1+1,\"a,b\"\n"
        );
    }
}
