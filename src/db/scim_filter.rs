//! Turns a parsed SCIM filter into a SQL `WHERE` fragment for the SCIM server's list
//! queries. The caller maps each attribute path to a column, and each multi-valued
//! attribute a value path may run on to the rows of its elements (`Columns`); every
//! value is bound (never written into the SQL text). Each comparison is wrapped in
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

/// A multi-valued attribute a value path (`emails[type eq "work"]`,
/// `members[value eq "…"]`) runs on: one row per element, and the columns of the
/// elements' sub-attributes. The value path becomes `exists (select 1 from {from}
/// where {correlate} and <the inner filter>)`.
#[derive(Clone, Copy, Debug)]
pub struct Elements {
    /// The rows of the elements (a table or a set-returning function, aliased).
    pub from: &'static str,
    /// What ties the rows to the outer resource (`true` when `from` already does).
    pub correlate: &'static str,
    /// The column of a sub-attribute (lowercase name), or None when it cannot be
    /// filtered on.
    pub column: fn(&str) -> Option<Column>,
}

/// What a filter may name: attributes with their columns and, optionally,
/// multi-valued attributes a value path runs on. A plain function from a path to its
/// column is a schema without multi-valued attributes.
pub trait Columns {
    fn column(&self, path: &AttrPath) -> Option<Column>;

    /// The elements of the multi-valued attribute `path` names (its sub-attribute
    /// aside), if a value path may run on it.
    fn elements(&self, _path: &AttrPath) -> Option<Elements> {
        None
    }
}

impl<F: Fn(&AttrPath) -> Option<Column>> Columns for F {
    fn column(&self, path: &AttrPath) -> Option<Column> {
        self(path)
    }
}

fn invalid(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidFilter, detail)
}

/// Where a part of the filter stands: at the top, or inside a value path whose
/// attribute has elements, or inside one whose attribute the schema maps flat (a
/// single column per sub-attribute).
#[derive(Clone, Copy)]
enum Scope<'a> {
    Top,
    Elements(&'a AttrPath, Elements),
    Flat(&'a AttrPath),
}

impl<'a> Scope<'a> {
    fn outer(self) -> Option<&'a AttrPath> {
        match self {
            Scope::Top => None,
            Scope::Elements(p, _) | Scope::Flat(p) => Some(p),
        }
    }
}

/// Appends the SQL of `f` to `qb` (a boolean expression, parenthesised). `columns`
/// maps an attribute path to its column, or None when it cannot be filtered on (400
/// `invalidFilter` naming it).
///
/// A value path (`emails[type eq "work" and value co "@x"]`) on an attribute with
/// `elements` holds when one element satisfies the whole inner filter; a
/// sub-attribute comparison at the top (`emails.type eq "work"`) that has no column of
/// its own is the same as its value path. On an attribute without `elements` the
/// inner paths are asked as `emails.value`, and an unmapped `type eq "work"` or
/// `primary eq true` there is true (a schema that keeps one work email, its primary).
pub fn push_filter(
    qb: &mut QueryBuilder<Postgres>,
    f: &Filter,
    columns: &dyn Columns,
) -> Result<(), ScimError> {
    push(qb, f, columns, Scope::Top)
}

fn push(
    qb: &mut QueryBuilder<Postgres>,
    f: &Filter,
    columns: &dyn Columns,
    scope: Scope<'_>,
) -> Result<(), ScimError> {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            qb.push("(");
            push(qb, a, columns, scope)?;
            qb.push(if matches!(f, Filter::And(..)) {
                " and "
            } else {
                " or "
            });
            push(qb, b, columns, scope)?;
            qb.push(")");
        }
        Filter::Not(inner) => {
            qb.push("(not ");
            push(qb, inner, columns, scope)?;
            qb.push(")");
        }
        Filter::ValuePath { path, filter } => {
            if let Some(outer) = scope.outer() {
                return Err(invalid(format!(
                    "a value filter cannot nest inside another ('{path}' inside '{outer}[…]')"
                )));
            }
            match columns.elements(path) {
                Some(el) => {
                    push_exists(qb, path, el, |qb, scope| push(qb, filter, columns, scope))?
                }
                None => push(qb, filter, columns, Scope::Flat(path))?,
            }
        }
        Filter::Present(path) => {
            let full = resolve(path, scope.outer())?;
            match column_in(&full, columns, scope) {
                Some(col) => push_present(qb, col),
                None => match top_level_elements(path, columns, scope) {
                    Some((outer, el)) => push_exists(qb, &outer, el, |qb, scope| {
                        push(qb, &Filter::Present(sub_only(path)), columns, scope)
                    })?,
                    None => return Err(unsupported(&full)),
                },
            }
        }
        Filter::Compare { path, op, value } => {
            let full = resolve(path, scope.outer())?;
            match column_in(&full, columns, scope) {
                Some(col) => push_compare(qb, &full, col, *op, value)?,
                None if flat_mapped(columns, scope) && always_true(path, *op, value) => {
                    qb.push("true");
                }
                None => match top_level_elements(path, columns, scope) {
                    Some((outer, el)) => push_exists(qb, &outer, el, |qb, scope| {
                        let inner = Filter::Compare {
                            path: sub_only(path),
                            op: *op,
                            value: value.clone(),
                        };
                        push(qb, &inner, columns, scope)
                    })?,
                    None => return Err(unsupported(&full)),
                },
            }
        }
    }
    Ok(())
}

/// Inside a value path on an attribute the schema maps flat (`emails.value` has a
/// column).
fn flat_mapped(columns: &dyn Columns, scope: Scope<'_>) -> bool {
    match scope {
        Scope::Flat(outer) => {
            let value = AttrPath {
                urn: outer.urn.clone(),
                attr: outer.attr.clone(),
                sub: Some("value".into()),
            };
            columns.column(&value).is_some()
        }
        _ => false,
    }
}

/// The column of a path in its scope: an element's sub-attribute inside a value
/// path with elements, else the schema's column.
fn column_in(full: &AttrPath, columns: &dyn Columns, scope: Scope<'_>) -> Option<Column> {
    match scope {
        Scope::Elements(_, el) => full.sub.as_deref().and_then(el.column),
        Scope::Top | Scope::Flat(_) => columns.column(full),
    }
}

/// `emails.type` at the top whose attribute has elements: (`emails`, its elements).
/// A complex attribute compared without a sub-attribute (`members eq "…"`) stands for
/// its `value`.
fn top_level_elements(
    path: &AttrPath,
    columns: &dyn Columns,
    scope: Scope<'_>,
) -> Option<(AttrPath, Elements)> {
    if !matches!(scope, Scope::Top) {
        return None;
    }
    let outer = AttrPath {
        urn: path.urn.clone(),
        attr: path.attr.clone(),
        sub: None,
    };
    let el = columns.elements(&outer)?;
    Some((outer, el))
}

/// The sub-attribute of `emails.type` as a path of its own (`type`; `value` when
/// none is named).
fn sub_only(path: &AttrPath) -> AttrPath {
    AttrPath::new(path.sub.as_deref().unwrap_or("value"), None)
}

fn push_exists(
    qb: &mut QueryBuilder<Postgres>,
    outer: &AttrPath,
    el: Elements,
    inner: impl FnOnce(&mut QueryBuilder<Postgres>, Scope<'_>) -> Result<(), ScimError>,
) -> Result<(), ScimError> {
    qb.push("exists (select 1 from ")
        .push(el.from)
        .push(" where ")
        .push(el.correlate)
        .push(" and ");
    inner(qb, Scope::Elements(outer, el))?;
    qb.push(")");
    Ok(())
}

fn push_present(qb: &mut QueryBuilder<Postgres>, col: Column) {
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
