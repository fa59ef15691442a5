//! The query of a SCIM GET: `filter`, `startIndex` (1-based; below 1 counts as 1),
//! `count` (0 answers only the total; capped at `MAX_COUNT`), `attributes` and
//! `excludedAttributes` (RFC 7644 §3.4.2, §3.9). `id`, `schemas` and `meta` are
//! always returned.

use serde_json::{Map, Value};

use super::error::ScimError;

/// The most resources one page holds (also `filter.maxResults` of the
/// ServiceProviderConfig).
pub const MAX_COUNT: i64 = 200;

#[derive(Debug, Default)]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: i64,
    pub count: i64,
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

fn number(name: &str, raw: &str) -> Result<i64, ScimError> {
    raw.trim().parse::<i64>().map_err(|_| {
        ScimError::bad(
            "invalidValue",
            format!("'{name}' must be an integer, not '{raw}'."),
        )
    })
}

fn names(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl ListQuery {
    pub fn parse(query: Option<&str>) -> Result<Self, ScimError> {
        let mut q = ListQuery {
            start_index: 1,
            count: MAX_COUNT,
            ..ListQuery::default()
        };
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match k.to_ascii_lowercase().as_str() {
                "filter" => q.filter = Some(v.to_string()).filter(|f| !f.trim().is_empty()),
                "startindex" => q.start_index = number("startIndex", &v)?.max(1),
                "count" => q.count = number("count", &v)?.clamp(0, MAX_COUNT),
                "attributes" => q.attributes = names(&v),
                "excludedattributes" => q.excluded = names(&v),
                _ => {}
            }
        }
        Ok(q)
    }

    /// A `POST …/.search` body (RFC 7644 §3.4.3): the same parameters as JSON.
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let mut q = ListQuery {
            start_index: 1,
            count: MAX_COUNT,
            ..ListQuery::default()
        };
        let Some(obj) = body.as_object() else {
            return Err(ScimError::bad(
                "invalidSyntax",
                "The body must be a SearchRequest object.",
            ));
        };
        let list = |v: &Value, name: &str| -> Result<Vec<String>, ScimError> {
            match v {
                Value::String(s) => Ok(names(s)),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            ScimError::bad(
                                "invalidValue",
                                format!("'{name}' lists attribute names."),
                            )
                        })
                    })
                    .collect(),
                Value::Null => Ok(Vec::new()),
                _ => Err(ScimError::bad(
                    "invalidValue",
                    format!("'{name}' lists attribute names."),
                )),
            }
        };
        let int = |v: &Value, name: &str| -> Result<i64, ScimError> {
            match v {
                Value::Number(n) => n.as_i64().ok_or_else(|| {
                    ScimError::bad("invalidValue", format!("'{name}' must be an integer."))
                }),
                Value::String(s) => number(name, s),
                _ => Err(ScimError::bad(
                    "invalidValue",
                    format!("'{name}' must be an integer."),
                )),
            }
        };
        for (k, v) in obj {
            match k.to_ascii_lowercase().as_str() {
                "filter" => {
                    q.filter = match v {
                        Value::String(f) if !f.trim().is_empty() => Some(f.clone()),
                        Value::String(_) | Value::Null => None,
                        _ => {
                            return Err(ScimError::bad(
                                "invalidFilter",
                                "'filter' must be a string.",
                            ));
                        }
                    }
                }
                "startindex" => q.start_index = int(v, "startIndex")?.max(1),
                "count" => q.count = int(v, "count")?.clamp(0, MAX_COUNT),
                "attributes" => q.attributes = list(v, "attributes")?,
                "excludedattributes" => q.excluded = list(v, "excludedAttributes")?,
                _ => {}
            }
        }
        Ok(q)
    }

    /// Whether `attr` (a top-level attribute) is part of the answer.
    pub fn wants(&self, attr: &str) -> bool {
        let hit = |list: &[String]| {
            list.iter().any(|a| {
                path_of(a)
                    .first()
                    .is_some_and(|f| f.eq_ignore_ascii_case(attr))
            })
        };
        if !self.attributes.is_empty() {
            return hit(&self.attributes);
        }
        !hit(&self.excluded)
    }

    /// The resource cut down to what was asked.
    pub fn project(&self, resource: Value) -> Value {
        let Value::Object(full) = resource else {
            return resource;
        };
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for keep in ["schemas", "id", "meta"] {
                if let Some(v) = full.get(keep) {
                    out.insert(keep.into(), v.clone());
                }
            }
            for a in &self.attributes {
                copy_path(&full, &mut out, &path_of(a));
            }
            return Value::Object(out);
        }
        let mut out = full;
        for a in &self.excluded {
            let path = path_of(a);
            if path.len() == 1
                && ["schemas", "id", "meta"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&path[0]))
            {
                continue;
            }
            remove_path(&mut out, &path);
        }
        Value::Object(out)
    }
}

/// `urn:…:User:name.givenName` → [name, givenName]; an extension's URN stays the
/// first step (`urn:…:enterprise:2.0:User:department` → [urn…User, department]).
fn path_of(attr: &str) -> Vec<String> {
    use crate::services::scim::represent::{ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA};
    let lower = attr.to_ascii_lowercase();
    for core in [USER_SCHEMA, GROUP_SCHEMA] {
        let prefix = format!("{}:", core.to_ascii_lowercase());
        if lower.starts_with(&prefix) {
            return attr[prefix.len()..]
                .split('.')
                .map(str::to_string)
                .collect();
        }
    }
    let ext = format!("{}:", ENTERPRISE.to_ascii_lowercase());
    if lower.starts_with(&ext) {
        let mut out = vec![ENTERPRISE.to_string()];
        out.extend(attr[ext.len()..].split('.').map(str::to_string));
        return out;
    }
    if lower == ENTERPRISE.to_ascii_lowercase() {
        return vec![ENTERPRISE.to_string()];
    }
    attr.split('.').map(str::to_string).collect()
}

fn key_ci(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn copy_path(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(key) = key_ci(from, first) else {
        return;
    };
    let value = &from[&key];
    if rest.is_empty() {
        to.insert(key, value.clone());
        return;
    }
    match value {
        Value::Object(inner) => {
            let mut slot = match to.remove(&key) {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            copy_path(inner, &mut slot, rest);
            if !slot.is_empty() {
                to.insert(key, Value::Object(slot));
            }
        }
        Value::Array(items) => {
            let mut existing = match to.remove(&key) {
                Some(Value::Array(a)) => a,
                _ => vec![Value::Object(Map::new()); items.len()],
            };
            for (item, slot) in items.iter().zip(existing.iter_mut()) {
                if let (Value::Object(i), Value::Object(s)) = (item, slot) {
                    copy_path(i, s, rest);
                }
            }
            existing.retain(|v| v.as_object().is_none_or(|m| !m.is_empty()));
            if !existing.is_empty() {
                to.insert(key, Value::Array(existing));
            }
        }
        _ => {}
    }
}

fn remove_path(obj: &mut Map<String, Value>, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(key) = key_ci(obj, first) else {
        return;
    };
    if rest.is_empty() {
        obj.remove(&key);
        return;
    }
    match obj.get_mut(&key) {
        Some(Value::Object(inner)) => remove_path(inner, rest),
        Some(Value::Array(items)) => {
            for item in items {
                if let Value::Object(i) = item {
                    remove_path(i, rest);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_keep_id_schemas_meta_and_the_asked_paths() {
        let q = ListQuery::parse(Some("attributes=userName,name.givenName,emails.value")).unwrap();
        let out = q.project(
            json!({"id": "1", "schemas": [], "meta": {}, "userName": "a",
            "displayName": "A", "name": {"givenName": "G", "familyName": "F"},
            "emails": [{"value": "a@b.c", "type": "work"}]}),
        );
        assert_eq!(
            out,
            json!({"id": "1", "schemas": [], "meta": {}, "userName": "a",
            "name": {"givenName": "G"}, "emails": [{"value": "a@b.c"}]})
        );
    }

    #[test]
    fn excluded_attributes_never_remove_the_id() {
        let q = ListQuery::parse(Some("excludedAttributes=members,id")).unwrap();
        assert!(!q.wants("members"));
        let out = q.project(json!({"id": "1", "displayName": "G", "members": []}));
        assert_eq!(out, json!({"id": "1", "displayName": "G"}));
    }

    #[test]
    fn start_index_below_one_is_one_and_count_is_capped() {
        let q = ListQuery::parse(Some("startIndex=-4&count=5000")).unwrap();
        assert_eq!((q.start_index, q.count), (1, MAX_COUNT));
        assert!(ListQuery::parse(Some("count=abc")).is_err());
    }
}
