//! Turns a parsed SCIM filter into a SQL `WHERE` fragment for the SCIM server's list
//! queries. The caller maps each attribute path to a column; every value is bound
//! (never written into the SQL text). Each comparison is wrapped in
//! `coalesce(…, false)` so `not (…)` also selects rows whose column is null, as SCIM's
//! "absent does not equal" expects.

use sqlx::{Postgres, QueryBuilder};

use crate::domain::scim::filter::{AttrPath, CompareOp, Filter};
use crate::domain::scim::{ScimError, ScimType};

/// How a column compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Text compared without regard to case (`userName`, `displayName`).
    Text,
    /// Text compared exactly (`externalId` where the caller wants it exact).
    CaseExactText,
    /// A boolean (`active`): eq, ne and pr only.
    Bool,
    /// A `timestamptz` (`meta.lastModified`); values are RFC 3339 timestamps.
    Time,
    /// A `uuid` (`id`): eq, ne and pr; a value that is no uuid matches nothing.
    Uuid,
}

/// A SQL expression (a column, possibly qualified) and how it compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    pub sql: &'static str,
    pub kind: ColumnKind,
}

fn invalid(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidFilter, detail)
}

/// Appends the SQL of `f` to `qb` (a boolean expression, parenthesised). `column`
/// maps an attribute path to its column, or None when it cannot be filtered on (400
/// `invalidFilter` naming it). Inside a value path (`emails[value eq "x"]`) the
/// caller is asked for `emails.value`; an unmapped `type eq "work"` or
/// `primary eq true` there is true (Portico keeps one work email, its primary one).
pub fn push_filter(
    qb: &mut QueryBuilder<Postgres>,
    f: &Filter,
    column: &dyn Fn(&AttrPath) -> Option<Column>,
) -> Result<(), ScimError> {
    push(qb, f, column, None)
}

fn push(
    qb: &mut QueryBuilder<Postgres>,
    f: &Filter,
    column: &dyn Fn(&AttrPath) -> Option<Column>,
    within: Option<&AttrPath>,
) -> Result<(), ScimError> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            qb.push("(");
            push(qb, a, column, within)?;
            qb.push(if matches!(f, Filter::And(..)) {
                " and "
            } else {
                " or "
            });
            push(qb, b, column, within)?;
            qb.push(")");
        }
        Filter::Not(inner) => {
            qb.push("(not ");
            push(qb, inner, column, within)?;
            qb.push(")");
        }
        Filter::ValuePath { path, filter } => {
            if within.is_some() {
                return Err(invalid(format!(
                    "a value filter cannot nest inside another ('{path}')"
                )));
            }
            push(qb, filter, column, Some(path))?;
        }
        Filter::Present(path) => {
            let path = resolve(path, within)?;
            let col = lookup(&path, column)?;
            match col.kind {
                ColumnKind::Text | ColumnKind::CaseExactText => qb
                    .push("(")
                    .push(col.sql)
                    .push(" is not null and ")
                    .push(col.sql)
                    .push(" <> '')"),
                _ => qb.push("(").push(col.sql).push(" is not null)"),
            };
        }
        Filter::Compare { path, op, value } => {
            let full = resolve(path, within)?;
            match column(&full) {
                Some(col) => push_compare(qb, &full, col, *op, value)?,
                None if within.is_some() && always_true(path, *op, value) => {
                    qb.push("true");
                }
                None => return Err(unsupported(&full)),
            }
        }
    }
    Ok(())
}

/// `type eq "work"` and `primary eq true` inside a value path, when unmapped.
fn always_true(path: &AttrPath, op: CompareOp, value: &serde_json::Value) -> bool {
    op == CompareOp::Eq
        && ((path.is("type", None)
            && value
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case("work")))
            || (path.is("primary", None) && value.as_bool() == Some(true)))
}

fn unsupported(path: &AttrPath) -> ScimError {
    invalid(format!("the filter cannot use the attribute '{path}'"))
}

/// The path relative to a value path's attribute made absolute (`value` inside
/// `emails[…]` is `emails.value`).
fn resolve(path: &AttrPath, within: Option<&AttrPath>) -> Result<AttrPath, ScimError> {
    match within {
        None => Ok(path.clone()),
        Some(outer) => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(invalid(format!(
                    "'{path}' inside '{outer}[…]' must be a sub-attribute name"
                )));
            }
            Ok(AttrPath {
                urn: outer.urn.clone(),
                attr: outer.attr.clone(),
                sub: Some(path.attr.clone()),
            })
        }
    }
}

fn lookup(
    path: &AttrPath,
    column: &dyn Fn(&AttrPath) -> Option<Column>,
) -> Result<Column, ScimError> {
    column(path).ok_or_else(|| unsupported(path))
}

fn push_compare(
    qb: &mut QueryBuilder<Postgres>,
    path: &AttrPath,
    col: Column,
    op: CompareOp,
    value: &serde_json::Value,
) -> Result<(), ScimError> {
    let c = col.sql;
    let wrong_op = || {
        invalid(format!(
            "the operator '{}' does not apply to '{path}'",
            op.as_str()
        ))
    };
    if value.is_null() {
        match op {
            CompareOp::Eq => qb.push("(").push(c).push(" is null)"),
            CompareOp::Ne => qb.push("(").push(c).push(" is not null)"),
            _ => return Err(wrong_op()),
        };
        return Ok(());
    }
    match col.kind {
        ColumnKind::Text | ColumnKind::CaseExactText => {
            let Some(text) = value.as_str() else {
                return Err(invalid(format!(
                    "'{path}' compares with a quoted string, not {value}"
                )));
            };
            let (l, r) = if col.kind == ColumnKind::Text {
                ("lower(", ")")
            } else {
                ("(", ")")
            };
            let lhs = format!("{l}{c}{r}");
            let text = text.to_string();
            match op {
                CompareOp::Ne => {
                    qb.push(format!("({c} is null or {lhs} <> {l}"))
                        .push_bind(text)
                        .push(format!("{r})"));
                }
                CompareOp::Co => {
                    qb.push(format!("coalesce(strpos({lhs}, {l}"))
                        .push_bind(text)
                        .push(format!("{r}) > 0, false)"));
                }
                CompareOp::Sw => {
                    qb.push(format!("coalesce(starts_with({lhs}, {l}"))
                        .push_bind(text)
                        .push(format!("{r}), false)"));
                }
                CompareOp::Ew => {
                    qb.push(format!("coalesce(right({lhs}, char_length({l}"))
                        .push_bind(text.clone())
                        .push(format!("{r})) = {l}"))
                        .push_bind(text)
                        .push(format!("{r}, false)"));
                }
                _ => {
                    qb.push(format!("coalesce({lhs} {} {l}", sql_op(op)))
                        .push_bind(text)
                        .push(format!("{r}, false)"));
                }
            }
        }
        ColumnKind::Bool => {
            let flag = match value {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => {
                    return Err(invalid(format!(
                        "'{path}' compares with true or false, not {value}"
                    )));
                }
            };
            match op {
                CompareOp::Eq => qb
                    .push(format!("coalesce({c} = "))
                    .push_bind(flag)
                    .push(", false)"),
                CompareOp::Ne => qb
                    .push(format!("({c} is distinct from "))
                    .push_bind(flag)
                    .push(")"),
                _ => return Err(wrong_op()),
            };
        }
        ColumnKind::Time => {
            let at = value
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
                .ok_or_else(|| {
                    invalid(format!(
                        "'{path}' compares with an RFC 3339 timestamp such as \"2026-01-31T12:00:00Z\", not {value}"
                    ))
                })?;
            match op {
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => return Err(wrong_op()),
                CompareOp::Ne => qb
                    .push(format!("({c} is distinct from "))
                    .push_bind(at)
                    .push(")"),
                _ => qb
                    .push(format!("coalesce({c} {} ", sql_op(op)))
                    .push_bind(at)
                    .push(", false)"),
            };
        }
        ColumnKind::Uuid => {
            let Some(text) = value.as_str() else {
                return Err(invalid(format!(
                    "'{path}' compares with a quoted id, not {value}"
                )));
            };
            // An id that is no uuid names no resource: eq selects nothing.
            let id = uuid::Uuid::parse_str(text).ok();
            match (op, id) {
                (CompareOp::Eq, Some(id)) => qb
                    .push(format!("coalesce({c} = "))
                    .push_bind(id)
                    .push(", false)"),
                (CompareOp::Ne, Some(id)) => qb
                    .push(format!("({c} is distinct from "))
                    .push_bind(id)
                    .push(")"),
                (CompareOp::Eq, None) => qb.push("false"),
                (CompareOp::Ne, None) => qb.push("true"),
                _ => return Err(wrong_op()),
            };
        }
    }
    Ok(())
}

fn sql_op(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Ne => "<>",
        _ => "=",
    }
}
