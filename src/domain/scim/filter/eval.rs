//! Evaluates a parsed filter against a SCIM resource rendered as JSON. Strings compare
//! case-insensitively except `id`; a multi-valued attribute matches when any of its
//! elements does; timestamps compare as instants when both sides are RFC 3339.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::{AttrPath, CompareOp, Filter, is_core_urn};

/// Whether `resource` satisfies `filter`.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource) && matches(b, resource),
        Filter::Or(a, b) => matches(a, resource) || matches(b, resource),
        Filter::Not(f) => !matches(f, resource),
        Filter::Present(path) => candidates(resource, path).into_iter().any(is_present),
        Filter::Compare { path, op, value } => compare(resource, path, *op, value),
        Filter::ValuePath { path, filter } => {
            let mut elements = Vec::new();
            if let Some(v) = attribute(resource, path) {
                push_elements(v, &mut elements);
            }
            elements.into_iter().any(|e| matches(filter, e))
        }
    }
}

/// `key` of `obj`, compared without regard to case.
pub(crate) fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The value of the path's attribute (without its sub-attribute).
fn attribute<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let obj = resource.as_object()?;
    let container = match &path.urn {
        Some(urn) if !is_core_urn(urn) => get_ci(obj, urn)?.as_object()?,
        _ => obj,
    };
    get_ci(container, &path.attr)
}

fn push_elements<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

/// Every value the path reaches: the attribute's elements, or their `sub`; a complex
/// element compared without a sub-attribute stands for its `value`.
fn candidates<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let mut elements = Vec::new();
    if let Some(v) = attribute(resource, path) {
        push_elements(v, &mut elements);
    }
    let mut out = Vec::with_capacity(elements.len());
    for e in elements {
        match (&path.sub, e) {
            (Some(sub), Value::Object(o)) => {
                if let Some(v) = get_ci(o, sub) {
                    push_elements(v, &mut out);
                }
            }
            (Some(_), _) => {}
            (None, Value::Object(o)) => {
                if let Some(v) = get_ci(o, "value") {
                    out.push(v);
                }
            }
            (None, v) => out.push(v),
        }
    }
    out
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn compare(resource: &Value, path: &AttrPath, op: CompareOp, expected: &Value) -> bool {
    let found = candidates(resource, path);
    if expected.is_null() {
        let present = found.iter().any(|v| !v.is_null());
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    let case_exact = path.sub.is_none() && path.is("id", None);
    match op {
        CompareOp::Ne => !found
            .iter()
            .any(|v| test(v, CompareOp::Eq, expected, case_exact)),
        _ => found.iter().any(|v| test(v, op, expected, case_exact)),
    }
}

fn fold(s: &str, case_exact: bool) -> String {
    if case_exact {
        s.to_string()
    } else {
        s.to_lowercase()
    }
}

fn test(actual: &Value, op: CompareOp, expected: &Value, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = (fold(a, case_exact), fold(e, case_exact));
            match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Co => a.contains(&e),
                CompareOp::Sw => a.starts_with(&e),
                CompareOp::Ew => a.ends_with(&e),
                _ => ordered(op, order_strings(&a, &e)),
            }
        }
        (Value::Number(a), Value::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
                _ => ordered(op, a.partial_cmp(&e)),
            },
            _ => false,
        },
        (Value::Bool(a), Value::Bool(e)) => match op {
            CompareOp::Eq => a == e,
            CompareOp::Ne => a != e,
            _ => false,
        },
        // Clients send booleans as strings ("True"): compare them as booleans.
        (Value::Bool(a), Value::String(e)) | (Value::String(e), Value::Bool(a)) => {
            let e = match e.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return op == CompareOp::Ne,
            };
            match op {
                CompareOp::Eq => *a == e,
                CompareOp::Ne => *a != e,
                _ => false,
            }
        }
        _ => op == CompareOp::Ne,
    }
}

/// Orders two strings as instants when both are RFC 3339 timestamps, else as text.
fn order_strings(a: &str, e: &str) -> Option<Ordering> {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(e),
    ) {
        (Ok(a), Ok(e)) => Some(a.cmp(&e)),
        _ => Some(a.cmp(e)),
    }
}

fn ordered(op: CompareOp, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        _ => false,
    }
}
