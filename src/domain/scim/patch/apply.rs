//! Applies PATCH operations to a resource rendered as JSON. Names match without
//! regard to case; new keys take the schemas' spelling (`canonical_name`). Merging
//! into a multi-valued attribute is linear in its size (identities are compared
//! directly for a few new elements, through a set for many), so a PATCH adding a
//! thousand members stays fast.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{OpKind, PatchOp, PatchPath, PatchRequest, is_manager, normalize_for_path};
use crate::domain::scim::error::{ScimError, ScimType};
use crate::domain::scim::filter::{
    AttrPath, CompareOp, ENTERPRISE_USER_URN, Filter, canonical_name, get_ci, is_core_urn, matches,
};

/// Multi-valued attributes of the core and enterprise schemas (lowercase).
const MULTI_VALUED: &[&str] = &[
    "emails",
    "phonenumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509certificates",
    "members",
];

/// Attributes where a filtered replace that matches nothing adds the element
/// (`emails[type eq "work"].value`), as Entra and Okta expect.
const ADD_WHEN_UNMATCHED: &[&str] = &["emails", "phonenumbers", "addresses"];

/// Applies every operation of `request` in order. Runs of member-style operations on
/// one attribute (an add per member, a `remove members[value eq "…"]` per member) are
/// applied together, so a thousand of them cost one pass over the attribute.
pub fn apply_all(resource: &mut Value, request: &PatchRequest) -> Result<(), ScimError> {
    let ops = &request.ops;
    let mut i = 0;
    while i < ops.len() {
        if let Some(batch) = batch_of(&ops[i]) {
            let mut j = i + 1;
            while j < ops.len() && batch_of(&ops[j]).as_ref() == Some(&batch) {
                j += 1;
            }
            if j - i > 1 {
                apply_batch(resource, &batch, &ops[i..j])?;
                i = j;
                continue;
            }
        }
        apply(resource, &ops[i])?;
        i += 1;
    }
    Ok(())
}

/// Operations that may be applied together: adds of elements to a multi-valued
/// attribute, or removals of its elements by value.
#[derive(PartialEq)]
enum Batch {
    Add(AttrPath),
    Remove(AttrPath),
}

/// The string a `value eq "…"` filter selects, if the filter is just that.
fn value_eq(filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(v),
        } if path.urn.is_none() && path.sub.is_none() && path.attr == "value" => Some(v),
        _ => None,
    }
}

fn batch_of(op: &PatchOp) -> Option<Batch> {
    let path = op.path.as_ref()?;
    if path.attr.sub.is_some()
        || path.sub.is_some()
        || is_read_only(&path.attr)
        || !MULTI_VALUED.contains(&path.attr.attr.as_str())
    {
        return None;
    }
    match (op.op, &path.filter, &op.value) {
        (OpKind::Add, None, Some(Value::Array(_) | Value::Object(_))) => {
            Some(Batch::Add(path.attr.clone()))
        }
        (OpKind::Remove, None, Some(Value::Array(_))) => Some(Batch::Remove(path.attr.clone())),
        (OpKind::Remove, Some(f), None) if value_eq(f).is_some() => {
            Some(Batch::Remove(path.attr.clone()))
        }
        _ => None,
    }
}

fn apply_batch(resource: &mut Value, batch: &Batch, ops: &[PatchOp]) -> Result<(), ScimError> {
    let root = resource.as_object_mut().ok_or_else(|| {
        ScimError::bad_request(ScimType::InvalidValue, "the resource is not a JSON object")
    })?;
    match batch {
        Batch::Add(attr) => {
            let mut all = Vec::new();
            for op in ops {
                match &op.value {
                    Some(Value::Array(items)) => all.extend(items.iter().cloned()),
                    Some(one) => all.push(one.clone()),
                    None => {}
                }
            }
            let path = PatchPath {
                attr: attr.clone(),
                filter: None,
                sub: None,
            };
            apply_path(root, OpKind::Add, &path, Some(&Value::Array(all)))
        }
        Batch::Remove(attr) => {
            // Listed values compare exactly (as `identity`), filter values as a filter
            // does: without regard to case.
            let mut exact = HashSet::new();
            let mut folded = HashSet::new();
            for op in ops {
                match (&op.value, op.path.as_ref().and_then(|p| p.filter.as_ref())) {
                    (Some(Value::Array(items)), _) => exact.extend(items.iter().map(identity)),
                    (_, Some(f)) => folded.extend(value_eq(f).map(str::to_lowercase)),
                    _ => {}
                }
            }
            let Some(obj) = container(root, attr, false)? else {
                return Ok(());
            };
            let key = key_for(obj, &attr.attr);
            if let Some(Value::Array(items)) = obj.get_mut(&key) {
                items.retain(|e| {
                    let folded_hit = !folded.is_empty()
                        && e.as_object()
                            .and_then(|o| get_ci(o, "value"))
                            .and_then(Value::as_str)
                            .is_some_and(|v| folded.contains(&v.to_lowercase()));
                    !folded_hit && !exact.contains(&identity(e))
                });
                if items.is_empty() {
                    obj.remove(&key);
                }
            }
            Ok(())
        }
    }
}

/// Applies one operation to `resource` (a JSON object).
pub fn apply(resource: &mut Value, op: &PatchOp) -> Result<(), ScimError> {
    let root = resource.as_object_mut().ok_or_else(|| {
        ScimError::bad_request(ScimType::InvalidValue, "the resource is not a JSON object")
    })?;
    match &op.path {
        Some(path) if whole_extension(path) => match (op.op, &op.value) {
            (OpKind::Remove, _) => {
                let key = key_for(root, ENTERPRISE_USER_URN);
                root.remove(&key);
                Ok(())
            }
            (kind, Some(v)) => apply_entry(root, kind, ENTERPRISE_USER_URN, v, true),
            (_, None) => Err(ScimError::bad_request(
                ScimType::InvalidValue,
                format!("the operation on '{ENTERPRISE_USER_URN}' needs a value"),
            )),
        },
        Some(path) => apply_path(root, op.op, path, op.value.as_ref()),
        None => match &op.value {
            Some(Value::Object(values)) => values
                .iter()
                .try_for_each(|(k, v)| apply_entry(root, op.op, k, v, true)),
            _ => Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "add and replace without a path need an object value",
            )),
        },
    }
}

fn mutability(name: &str) -> ScimError {
    ScimError::bad_request(
        ScimType::Mutability,
        format!("the attribute '{name}' cannot be changed"),
    )
}

fn invalid_path(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, detail)
}

/// `id`, `schemas` and all of `meta` (its sub-attributes included) belong to the server.
fn is_read_only(path: &AttrPath) -> bool {
    path.urn.as_deref().is_none_or(is_core_urn)
        && ["id", "meta", "schemas"].contains(&path.attr.as_str())
}

/// Whether the path is a whole extension schema (`urn:…:enterprise:2.0:User`), which
/// `AttrPath` reads as the attribute `user` of the URN `urn:…:enterprise:2.0`.
fn whole_extension(path: &PatchPath) -> bool {
    path.filter.is_none()
        && path.attr.sub.is_none()
        && path.attr.urn.as_deref().is_some_and(|urn| {
            let whole = format!("{urn}:{}", path.attr.attr);
            whole.eq_ignore_ascii_case(ENTERPRISE_USER_URN)
        })
}

/// Whether `key` names a schema whose attributes the object value holds.
fn is_schema_urn(root: &Map<String, Value>, key: &str) -> bool {
    is_core_urn(key)
        || key.eq_ignore_ascii_case(ENTERPRISE_USER_URN)
        || get_ci(root, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter()
                    .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(key)))
            })
}

/// One key of a no-path object value: an attribute, a schema URN holding an object of
/// attributes, or a URN-prefixed attribute given flat (`"urn:…:User:manager": "id"`).
fn apply_entry(
    root: &mut Map<String, Value>,
    kind: OpKind,
    key: &str,
    value: &Value,
    top: bool,
) -> Result<(), ScimError> {
    if top && key.len() > 4 && key[..4].eq_ignore_ascii_case("urn:") && is_schema_urn(root, key) {
        let Value::Object(attrs) = value else {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                format!("the value of '{key}' must be an object of its attributes"),
            ));
        };
        for (name, v) in attrs {
            if is_core_urn(key) {
                apply_entry(root, kind, name, v, false)?;
            } else {
                let attr = AttrPath::parse(&format!("{key}:{name}")).map_err(invalid_path)?;
                write_entry(root, kind, attr, v)?;
            }
        }
        return Ok(());
    }
    let attr = AttrPath::parse(key).map_err(invalid_path)?;
    if is_read_only(&attr) {
        // Clients echo the resource's own id (Okta's group replace): unchanged is fine.
        if get_ci(root, &attr.attr) == Some(value) {
            return Ok(());
        }
        return Err(mutability(key));
    }
    write_entry(root, kind, attr, value)
}

fn write_entry(
    root: &mut Map<String, Value>,
    kind: OpKind,
    attr: AttrPath,
    value: &Value,
) -> Result<(), ScimError> {
    let path = PatchPath {
        attr,
        filter: None,
        sub: None,
    };
    let value = normalize_for_path(&path, value.clone());
    apply_path(root, kind, &path, Some(&value))
}

/// The key of `obj` naming `name` (any case), or the schemas' spelling for a new one.
fn key_for(obj: &Map<String, Value>, name: &str) -> String {
    obj.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| canonical_name(name))
}

/// The object holding the path's attribute: the resource, or its extension object
/// (created, and its URN listed in `schemas`, when `create`).
fn container<'a>(
    root: &'a mut Map<String, Value>,
    path: &AttrPath,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    let urn = match &path.urn {
        Some(urn) if !is_core_urn(urn) => urn,
        _ => return Ok(Some(root)),
    };
    let key = root.keys().find(|k| k.eq_ignore_ascii_case(urn)).cloned();
    let key = match key {
        Some(k) => k,
        None if !create => return Ok(None),
        None => {
            let canonical = if urn.eq_ignore_ascii_case(ENTERPRISE_USER_URN) {
                ENTERPRISE_USER_URN.to_string()
            } else {
                urn.clone()
            };
            let schemas_key = key_for(root, "schemas");
            if let Value::Array(schemas) = root
                .entry(schemas_key)
                .or_insert_with(|| Value::Array(Vec::new()))
                && !schemas.iter().any(|s| s.as_str() == Some(&canonical))
            {
                schemas.push(Value::from(canonical.as_str()));
            }
            root.insert(canonical.clone(), Value::Object(Map::new()));
            canonical
        }
    };
    match root.get_mut(&key) {
        Some(Value::Object(ext)) => Ok(Some(ext)),
        Some(_) if !create => Ok(None),
        Some(slot) => {
            *slot = Value::Object(Map::new());
            Ok(slot.as_object_mut())
        }
        None => Ok(None),
    }
}

fn apply_path(
    root: &mut Map<String, Value>,
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if is_read_only(&path.attr) {
        return Err(mutability(&path.attr.to_string()));
    }
    let Some(obj) = container(root, &path.attr, kind != OpKind::Remove)? else {
        return Ok(());
    };
    let key = key_for(obj, &path.attr.attr);
    if let Some(filter) = &path.filter {
        return apply_filtered(obj, &key, kind, path, filter, value);
    }
    if let Some(sub) = &path.attr.sub {
        return apply_sub(obj, &key, kind, path, sub, value);
    }
    let multi = MULTI_VALUED.contains(&path.attr.attr.as_str());
    match (kind, value) {
        (OpKind::Remove, Some(Value::Array(gone)))
            if obj.get(&key).is_some_and(Value::is_array) =>
        {
            // Azure removes members by listing them as the value.
            let gone: HashSet<String> = gone.iter().map(identity).collect();
            if let Some(Value::Array(items)) = obj.get_mut(&key) {
                items.retain(|e| !gone.contains(&identity(e)));
                if items.is_empty() {
                    obj.remove(&key);
                }
            }
            Ok(())
        }
        (OpKind::Remove, _) => {
            obj.remove(&key);
            Ok(())
        }
        (_, None) => Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("the operation on '{}' needs a value", path.attr),
        )),
        (_, Some(v)) => {
            let existing_array = obj.get(&key).is_some_and(Value::is_array);
            if multi || existing_array {
                let new: Vec<Value> = match v {
                    Value::Array(items) => items.clone(),
                    one => vec![one.clone()],
                };
                if kind == OpKind::Add {
                    merge_elements(obj, key, new);
                } else {
                    obj.insert(key, Value::Array(new));
                }
                return Ok(());
            }
            match (obj.get_mut(&key), v) {
                (Some(Value::Object(current)), Value::Object(new))
                    if !is_manager(&path.attr) || kind == OpKind::Add =>
                {
                    for (k, v) in new {
                        let k = key_for(current, k);
                        current.insert(k, v.clone());
                    }
                }
                _ => {
                    obj.insert(key, v.clone());
                }
            }
            Ok(())
        }
    }
}

/// `name.givenName`: a sub-attribute of a singular complex attribute.
fn apply_sub(
    obj: &mut Map<String, Value>,
    key: &str,
    kind: OpKind,
    path: &PatchPath,
    sub: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    match (kind, obj.get_mut(key)) {
        (OpKind::Remove, Some(Value::Object(inner))) => {
            let k = key_for(inner, sub);
            inner.remove(&k);
            Ok(())
        }
        (OpKind::Remove, Some(Value::Array(items))) => {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                let k = key_for(item, sub);
                item.remove(&k);
            }
            Ok(())
        }
        (OpKind::Remove, _) => Ok(()),
        (_, Some(Value::Array(_))) => Err(invalid_path(format!(
            "'{}' is multi-valued: select its elements with a filter, e.g. {}[type eq \"work\"].{}",
            path.attr,
            canonical_name(&path.attr.attr),
            canonical_name(sub)
        ))),
        (_, slot) => {
            let value = value.cloned().ok_or_else(|| {
                ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("the operation on '{}' needs a value", path.attr),
                )
            })?;
            let inner = match slot {
                Some(Value::Object(inner)) => inner,
                Some(Value::Null) | None => {
                    obj.insert(key.to_string(), Value::Object(Map::new()));
                    match obj.get_mut(key).and_then(Value::as_object_mut) {
                        Some(inner) => inner,
                        None => return Ok(()),
                    }
                }
                Some(_) => {
                    return Err(invalid_path(format!(
                        "'{}' has no sub-attributes",
                        canonical_name(&path.attr.attr)
                    )));
                }
            };
            let k = key_for(inner, sub);
            inner.insert(k, value);
            Ok(())
        }
    }
}

/// What identifies an element of a multi-valued attribute: its `value`, else itself.
fn identity(e: &Value) -> String {
    match e.as_object().and_then(|o| get_ci(o, "value")) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => e.to_string(),
    }
}

fn same_element(a: &Value, b: &Value) -> bool {
    match (
        a.as_object().and_then(|o| get_ci(o, "value")),
        b.as_object().and_then(|o| get_ci(o, "value")),
    ) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a == b,
        _ => false,
    }
}

fn is_primary(e: &Value) -> bool {
    e.as_object()
        .and_then(|o| get_ci(o, "primary"))
        .is_some_and(|p| p == &Value::Bool(true))
}

/// Adds `new` to the array at `key`, skipping elements already there; a new primary
/// element makes the others non-primary.
fn merge_elements(obj: &mut Map<String, Value>, key: String, new: Vec<Value>) {
    let slot = obj.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        let old = slot.take();
        *slot = Value::Array(if old.is_null() { Vec::new() } else { vec![old] });
    }
    let Value::Array(items) = slot else { return };
    let new_primary = new.iter().any(is_primary);
    if new_primary {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            let k = key_for(item, "primary");
            if item.contains_key(&k) {
                item.insert(k, Value::Bool(false));
            }
        }
    }
    if new.len() <= 8 {
        for e in new {
            if !items.iter().any(|x| same_element(x, &e)) {
                items.push(e);
            }
        }
    } else {
        let mut seen: HashSet<String> = items.iter().map(identity).collect();
        for e in new {
            if seen.insert(identity(&e)) {
                items.push(e);
            }
        }
    }
}

/// The `attr eq value` comparisons a filter requires (joined by `and`): the seed of
/// an element added by an unmatched filtered replace.
fn required_values(filter: &Filter, out: &mut Map<String, Value>) {
    match filter {
        Filter::And(a, b) => {
            required_values(a, out);
            required_values(b, out);
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() => {
            out.insert(canonical_name(&path.attr), value.clone());
        }
        _ => {}
    }
}

fn apply_filtered(
    obj: &mut Map<String, Value>,
    key: &str,
    kind: OpKind,
    path: &PatchPath,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let items = match obj.get_mut(key) {
        Some(Value::Array(items)) => Some(items),
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(invalid_path(format!(
                "'{}' is not multi-valued: it takes no filter",
                path.attr
            )));
        }
    };
    if kind == OpKind::Remove {
        let Some(items) = items else { return Ok(()) };
        match &path.sub {
            Some(sub) => {
                for item in items.iter_mut().filter(|e| matches(filter, e)) {
                    if let Some(o) = item.as_object_mut() {
                        let k = key_for(o, sub);
                        o.remove(&k);
                    }
                }
            }
            None => {
                items.retain(|e| !matches(filter, e));
                if items.is_empty() {
                    obj.remove(key);
                }
            }
        }
        return Ok(());
    }
    let value = value.ok_or_else(|| {
        ScimError::bad_request(
            ScimType::InvalidValue,
            format!("the operation on '{}' needs a value", path.attr),
        )
    })?;
    let mut matched = 0;
    if let Some(items) = items {
        for item in items.iter_mut().filter(|e| matches(filter, e)) {
            matched += 1;
            match (&path.sub, item) {
                (Some(sub), Value::Object(o)) => {
                    let k = key_for(o, sub);
                    o.insert(k, value.clone());
                }
                (None, Value::Object(o)) if kind == OpKind::Add => {
                    if let Value::Object(new) = value {
                        for (k, v) in new {
                            let k = key_for(o, k);
                            o.insert(k, v.clone());
                        }
                    }
                }
                (_, item) => *item = value.clone(),
            }
        }
    }
    if matched > 0 {
        return Ok(());
    }
    if !ADD_WHEN_UNMATCHED.contains(&path.attr.attr.as_str()) {
        return Err(ScimError::bad_request(
            ScimType::NoTarget,
            format!("no element of '{}' matches the path's filter", path.attr),
        ));
    }
    let mut element = Map::new();
    required_values(filter, &mut element);
    match (&path.sub, value) {
        (Some(sub), v) => {
            element.insert(canonical_name(sub), v.clone());
        }
        (None, Value::Object(v)) => {
            for (k, v) in v {
                let k = key_for(&element, k);
                element.insert(k, v.clone());
            }
        }
        (None, _) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                format!("the value for '{}' must be an object", path.attr),
            ));
        }
    }
    merge_elements(obj, key.to_string(), vec![Value::Object(element)]);
    Ok(())
}
