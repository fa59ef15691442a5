//! SCIM PATCH (RFC 7644 §3.5.2): `parse` reads a `PatchOp` request body into typed
//! operations, `apply` performs one operation on a resource rendered as JSON (the
//! server renders, applies every operation, then reads the JSON back).
//!
//! The dialects of common clients are accepted: capitalised op names (`Replace`),
//! booleans as strings (`"False"`), `Operations` or `operations`, the enterprise
//! `manager` as a bare id, extension attributes given flat inside a no-path object,
//! and Azure's `remove members` carrying the members to remove as its value.

mod apply;
#[cfg(test)]
mod tests;

pub use apply::{apply, apply_all};

use serde_json::{Map, Value};

use super::error::{ScimError, ScimType};
use super::filter::{self, AttrPath, ENTERPRISE_USER_URN, Filter, get_ci};

/// The schema URN a PATCH request body must carry.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A parsed PATCH request.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchRequest {
    pub ops: Vec<PatchOp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One operation; `value` already normalised (see `normalize_value`).
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A PATCH path: `attr[filter].sub`, e.g. `members[value eq "1"]`,
/// `emails[type eq "work"].value`, `name.givenName` (then `attr.sub` is `givenname`
/// and `sub` is None), `urn:…:enterprise:2.0:User:manager`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

impl PatchPath {
    /// Parses a path; errors are 400 `invalidPath`.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        let bad = |why: &str| {
            ScimError::bad_request(
                ScimType::InvalidPath,
                format!("the path '{text}' is not valid: {why}"),
            )
        };
        let text_trimmed = text.trim();
        if text_trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        if text_trimmed.len() > filter::MAX_FILTER_LEN {
            return Err(bad("it is too long"));
        }
        let Some(open) = text_trimmed.find('[') else {
            let attr = AttrPath::parse(text_trimmed).map_err(|e| bad(&e))?;
            return Ok(Self {
                attr,
                filter: None,
                sub: None,
            });
        };
        let attr = AttrPath::parse(&text_trimmed[..open]).map_err(|e| bad(&e))?;
        if attr.sub.is_some() {
            return Err(bad("a value filter must follow a multi-valued attribute"));
        }
        let close = closing_bracket(text_trimmed, open).ok_or_else(|| bad("'[' is not closed"))?;
        let inner = &text_trimmed[open + 1..close];
        let filter = filter::parse_value_filter(inner).map_err(|e| bad(&e.detail))?;
        let rest = &text_trimmed[close + 1..];
        let sub = if rest.is_empty() {
            None
        } else {
            let name = rest
                .strip_prefix('.')
                .ok_or_else(|| bad("only '.subAttribute' may follow ']'"))?;
            let sub = AttrPath::parse(name).map_err(|e| bad(&e))?;
            if sub.urn.is_some() || sub.sub.is_some() {
                return Err(bad("only one sub-attribute may follow ']'"));
            }
            Some(sub.attr)
        };
        Ok(Self {
            attr,
            filter: Some(filter),
            sub,
        })
    }

    /// The lowercased name of the attribute the operation finally writes.
    pub fn leaf(&self) -> &str {
        self.sub
            .as_deref()
            .or(self.attr.sub.as_deref())
            .unwrap_or(&self.attr.attr)
    }
}

/// The `]` closing the `[` at `open`, skipping brackets inside quoted strings.
fn closing_bracket(text: &str, open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[open + 1..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ']' {
            return Some(open + 1 + i);
        }
    }
    None
}

fn invalid_value(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

/// Parses a PATCH request body (RFC 7644 §3.5.2). `schemas` must list the PatchOp
/// URN; `Operations` (or `operations`) must be a non-empty array of `{op, path?, value?}`.
pub fn parse(body: &Value) -> Result<PatchRequest, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| invalid_value("the PATCH body must be a JSON object"))?;
    let has_schema = get_ci(obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .any(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
        });
    if !has_schema {
        return Err(invalid_value(format!(
            "the PATCH body must list \"{PATCH_OP_SCHEMA}\" in schemas"
        )));
    }
    let ops = get_ci(obj, "Operations")
        .ok_or_else(|| invalid_value("the PATCH body has no Operations"))?
        .as_array()
        .ok_or_else(|| invalid_value("Operations must be an array"))?;
    if ops.is_empty() {
        return Err(invalid_value("Operations is empty"));
    }
    let ops = ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            parse_op(op).map_err(|e| ScimError {
                detail: format!("Operations[{i}]: {}", e.detail),
                ..e
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PatchRequest { ops })
}

fn parse_op(raw: &Value) -> Result<PatchOp, ScimError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| invalid_value("an operation must be an object"))?;
    let name = get_ci(obj, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_value("an operation needs \"op\": add, replace or remove"))?;
    let op = match name.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "replace" => OpKind::Replace,
        "remove" => OpKind::Remove,
        _ => {
            return Err(invalid_value(format!(
                "unknown op '{name}': use add, replace or remove"
            )));
        }
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(PatchPath::parse(p)?),
        Some(_) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                "path must be a string",
            ));
        }
    };
    let value = get_ci(obj, "value")
        .filter(|v| !v.is_null())
        .cloned()
        .map(normalize_value);
    let value = match (&path, value) {
        (Some(p), Some(v)) => Some(normalize_for_path(p, v)),
        (_, v) => v,
    };
    match (op, &path, &value) {
        (OpKind::Remove, None, _) => Err(ScimError::bad_request(
            ScimType::NoTarget,
            "remove needs a path",
        )),
        (OpKind::Add | OpKind::Replace, None, Some(Value::Object(_))) => Ok(()),
        (OpKind::Add | OpKind::Replace, None, _) => Err(invalid_value(
            "add and replace without a path need an object value",
        )),
        (OpKind::Add | OpKind::Replace, Some(_), None) => {
            Err(invalid_value(format!("{name} needs a value")))
        }
        _ => Ok(()),
    }?;
    Ok(PatchOp { op, path, value })
}

/// Booleans sent as strings become booleans: in every object (recursively), the keys
/// `active` and `primary` holding "true"/"false" in any case.
pub fn normalize_value(v: Value) -> Value {
    match v {
        Value::Object(obj) => Value::Object(
            obj.into_iter()
                .map(|(k, v)| {
                    let v = if is_boolean_attr(&k) {
                        string_bool(v)
                    } else {
                        normalize_value(v)
                    };
                    (k, v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_value).collect()),
        other => other,
    }
}

fn is_boolean_attr(name: &str) -> bool {
    name.eq_ignore_ascii_case("active") || name.eq_ignore_ascii_case("primary")
}

fn string_bool(v: Value) -> Value {
    match &v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => v,
    }
}

/// Whether `path` is the enterprise extension's `manager` (the whole attribute).
pub(crate) fn is_manager(path: &AttrPath) -> bool {
    path.urn
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE_USER_URN))
        && path.attr == "manager"
        && path.sub.is_none()
}

/// A value normalised for the attribute its path writes: a boolean attribute given as
/// "True"/"False", and the manager given as a bare id (`{"value": id}`).
pub(crate) fn normalize_for_path(path: &PatchPath, value: Value) -> Value {
    if is_boolean_attr(path.leaf()) {
        return string_bool(value);
    }
    if path.filter.is_none()
        && is_manager(&path.attr)
        && let Value::String(id) = value
    {
        return serde_json::json!({ "value": id });
    }
    value
}
