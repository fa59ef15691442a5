//! SCIM resources ⇄ Portico records, as pure functions.
//!
//! What the directory pushes is first made canonical (`canonical_user`,
//! `canonical_group`): only the attributes the `/Schemas` documents declare are kept,
//! under their canonical names (SCIM attribute names are case-insensitive), with the
//! dialects of real clients accepted (booleans as strings, a manager as a bare id,
//! `null` for absent). The canonical document of a user is stored as sent, so a GET
//! answers what was PUT; `user_input` derives from it the fields Portico uses.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::Fail;
use crate::db::users::User;
use crate::domain::ids::UserId;
use crate::domain::values::{DisplayName, EmailAddress, UserKind, optional_text};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The value under `key` of an object, with the name compared without case.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null() && v.as_str() != Some(""))
}

/// A string attribute: absent, `null` and "" are absent; a number or boolean is
/// taken as its text (some clients send ids as numbers); anything else is refused.
fn text(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, Fail> {
    match present(get_ci(obj, key)) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(Fail::bad(
            "invalidValue",
            format!("'{path}' must be a string."),
        )),
    }
}

/// A boolean attribute; "True"/"false" strings (Entra ID) are accepted.
pub fn boolean(v: &Value, path: &str) -> Result<bool, Fail> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(Fail::bad(
            "invalidValue",
            format!("'{path}' must be true or false."),
        )),
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Fail> {
    v.as_object()
        .ok_or_else(|| Fail::bad("invalidValue", format!("'{path}' must be an object.")))
}

fn put(out: &mut Map<String, Value>, key: &str, v: Option<String>) {
    if let Some(v) = v {
        out.insert(key.to_string(), Value::String(v));
    }
}

/// The enterprise extension's object, whether sent under its URN or (a common
/// dialect) flattened as `urn:…:User:department`.
fn enterprise(doc: &Map<String, Value>) -> Result<Map<String, Value>, Fail> {
    let mut out = Map::new();
    if let Some(ext) = present(get_ci(doc, ENTERPRISE)) {
        let ext = object(ext, ENTERPRISE)?;
        put(
            &mut out,
            "department",
            text(ext, "department", "department")?,
        );
        if let Some(m) = present(get_ci(ext, "manager")) {
            out.insert("manager".into(), manager(m)?);
        }
    }
    let prefix = format!("{ENTERPRISE}:");
    for (k, v) in doc {
        if k.len() > prefix.len() && k[..prefix.len()].eq_ignore_ascii_case(&prefix) {
            match k[prefix.len()..].to_ascii_lowercase().as_str() {
                "department" => {
                    let one = Map::from_iter([("d".to_string(), v.clone())]);
                    put(&mut out, "department", text(&one, "d", "department")?);
                }
                "manager" if present(Some(v)).is_some() => {
                    out.insert("manager".into(), manager(v)?);
                }
                "manager" => {
                    out.remove("manager");
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// `manager`: `{value, $ref}`, or a bare id (Entra ID's PATCH sends the id alone).
fn manager(v: &Value) -> Result<Value, Fail> {
    let mut out = Map::new();
    match v {
        Value::String(s) => {
            out.insert("value".into(), Value::String(s.clone()));
        }
        Value::Object(m) => {
            put(&mut out, "value", text(m, "value", "manager.value")?);
            put(&mut out, "$ref", text(m, "$ref", "manager.$ref")?);
        }
        _ => {
            return Err(Fail::bad(
                "invalidValue",
                "'manager' must be an object with a 'value'.",
            ));
        }
    }
    Ok(Value::Object(out))
}

fn emails(v: &Value) -> Result<Vec<Value>, Fail> {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![v],
        _ => {
            return Err(Fail::bad(
                "invalidValue",
                "'emails' must be a list of {value, type, primary}.",
            ));
        }
    };
    let mut out = Vec::new();
    for item in items {
        let m = object(item, "emails")?;
        let mut e = Map::new();
        put(&mut e, "value", text(m, "value", "emails.value")?);
        put(&mut e, "type", text(m, "type", "emails.type")?);
        if let Some(p) = present(get_ci(m, "primary")) {
            e.insert("primary".into(), Value::Bool(boolean(p, "emails.primary")?));
        }
        if !e.is_empty() {
            out.push(Value::Object(e));
        }
    }
    Ok(out)
}

/// The declared attributes of a pushed user, canonical (see the module header).
pub fn canonical_user(doc: &Value) -> Result<Value, Fail> {
    let doc = object(doc, "body")?;
    let mut out = Map::new();
    put(
        &mut out,
        "externalId",
        text(doc, "externalId", "externalId")?,
    );
    put(&mut out, "userName", text(doc, "userName", "userName")?);
    if let Some(n) = present(get_ci(doc, "name")) {
        let n = object(n, "name")?;
        let mut name = Map::new();
        for key in ["formatted", "familyName", "givenName"] {
            put(&mut name, key, text(n, key, &format!("name.{key}"))?);
        }
        if !name.is_empty() {
            out.insert("name".into(), Value::Object(name));
        }
    }
    for key in ["displayName", "title", "userType", "timezone"] {
        put(&mut out, key, text(doc, key, key)?);
    }
    if let Some(a) = present(get_ci(doc, "active")) {
        out.insert("active".into(), Value::Bool(boolean(a, "active")?));
    }
    if let Some(e) = present(get_ci(doc, "emails")) {
        let list = emails(e)?;
        if !list.is_empty() {
            out.insert("emails".into(), Value::Array(list));
        }
    }
    let ext = enterprise(doc)?;
    if !ext.is_empty() {
        out.insert(ENTERPRISE.into(), Value::Object(ext));
    }
    Ok(Value::Object(out))
}

/// What Portico takes from a canonical user document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInput {
    pub email: String,
    pub display_name: String,
    pub job_title: Option<String>,
    pub kind: UserKind,
    pub department: Option<String>,
    pub manager_id: Option<UserId>,
    pub external_id: Option<String>,
    pub active: Option<bool>,
    /// The core `timezone` (an IANA name) when the directory sends a known one.
    pub time_zone: Option<String>,
}

fn str_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(doc, |v, k| v.get(*k))
        .and_then(Value::as_str)
}

/// The sign-in email: `userName` when it is an email address (Entra ID, Okta, Google),
/// otherwise the primary, then the work, then the first of `emails` (JumpCloud and
/// OneLogin may send a plain user name).
fn sign_in_email(doc: &Value) -> Result<String, Fail> {
    let user_name = str_at(doc, &["userName"])
        .ok_or_else(|| Fail::bad("invalidValue", "'userName' is required."))?;
    if let Ok(e) = EmailAddress::parse(user_name) {
        return Ok(e.to_string());
    }
    let list = doc
        .get("emails")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let pick = list
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| {
            list.iter().find(|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| list.first())
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str);
    match pick {
        Some(v) => EmailAddress::parse(v).map(|e| e.to_string()).map_err(|e| {
            Fail::bad(
                "invalidValue",
                format!("'emails.value' is not an email address: {e}"),
            )
        }),
        None => Err(Fail::bad(
            "invalidValue",
            format!(
                "'userName' ('{user_name}') is not an email address and no 'emails' value was sent: Portico needs an email address to sign people in."
            ),
        )),
    }
}

/// Portico's fields from a canonical user document.
pub fn user_input(doc: &Value) -> Result<UserInput, Fail> {
    let email = sign_in_email(doc)?;
    let given_family = [
        str_at(doc, &["name", "givenName"]),
        str_at(doc, &["name", "familyName"]),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let name = str_at(doc, &["displayName"])
        .or_else(|| str_at(doc, &["name", "formatted"]))
        .or(Some(given_family.as_str()).filter(|s| !s.trim().is_empty()))
        .or_else(|| str_at(doc, &["userName"]))
        .unwrap_or(&email);
    let display_name = DisplayName::parse(name)
        .map_err(|e| Fail::bad("invalidValue", format!("displayName: {e}")))?
        .into_string();
    let bounded = |v: Option<&str>, field: &str| {
        optional_text(v, 256).map_err(|e| Fail::bad("invalidValue", format!("{field}: {e}")))
    };
    let manager_id = match str_at(doc, &[ENTERPRISE, "manager", "value"]) {
        None => None,
        Some(v) => Some(v.parse::<UserId>().map_err(|_| {
            Fail::bad(
                "invalidValue",
                format!("manager.value '{v}' is not the id of a user of this directory."),
            )
        })?),
    };
    Ok(UserInput {
        email,
        display_name,
        job_title: bounded(str_at(doc, &["title"]), "title")?,
        kind: match str_at(doc, &["userType"]) {
            Some(t) if t.eq_ignore_ascii_case("guest") => UserKind::Guest,
            _ => UserKind::Member,
        },
        department: bounded(str_at(doc, &[ENTERPRISE, "department"]), "department")?,
        manager_id,
        external_id: bounded(str_at(doc, &["externalId"]), "externalId")?,
        active: doc.get("active").and_then(Value::as_bool),
        // A zone Portico does not know is left out rather than failing the push: the
        // person then reads the tenant's zone.
        time_zone: str_at(doc, &["timezone"])
            .and_then(|z| crate::time_text::parse_zone(z).ok())
            .map(|z| z.name().to_string()),
    })
}

/// `meta` of a resource: its type, times, address and a weak version.
pub fn meta(kind: &str, created: DateTime<Utc>, modified: DateTime<Utc>, location: &str) -> Value {
    json!({
        "resourceType": kind,
        "created": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "lastModified": modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "location": location,
        "version": format!("W/\"{}\"", modified.timestamp_micros()),
    })
}

/// A user as SCIM shows it. A user the directory pushed shows the document it sent
/// (with Portico's `active`); any other user shows Portico's fields.
pub fn user_resource(u: &User, doc: Option<&Value>, base: &str) -> Value {
    let location = format!("{base}/Users/{}", u.id);
    let mut out = match doc.and_then(Value::as_object) {
        Some(d) => d.clone(),
        None => {
            let mut m = Map::new();
            m.insert("userName".into(), json!(u.email));
            m.insert("displayName".into(), json!(u.display_name));
            put(&mut m, "externalId", u.external_id.clone());
            put(&mut m, "title", u.job_title.clone());
            if u.is_guest() {
                m.insert("userType".into(), json!("Guest"));
            }
            m.insert(
                "emails".into(),
                json!([{"value": u.email, "type": "work", "primary": true}]),
            );
            let mut ext = Map::new();
            put(&mut ext, "department", u.department.clone());
            if let Some(mgr) = u.manager_id {
                ext.insert(
                    "manager".into(),
                    json!({"value": mgr.to_string(), "$ref": format!("{base}/Users/{mgr}")}),
                );
            }
            if !ext.is_empty() {
                m.insert(ENTERPRISE.into(), Value::Object(ext));
            }
            m
        }
    };
    let mut schemas = vec![json!(USER_SCHEMA)];
    if out.contains_key(ENTERPRISE) {
        schemas.push(json!(ENTERPRISE));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(u.id.to_string()));
    // `active` shows Portico's state, unless the directory never sent it (or removed
    // it): then, as for every attribute it pushes, it reads back what it sent.
    if doc.is_none() || out.contains_key("active") {
        out.insert("active".into(), json!(u.active));
    }
    out.insert(
        "meta".into(),
        meta("User", u.created_at, u.updated_at, &location),
    );
    Value::Object(out)
}

/// What a pushed group holds besides its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
}

pub fn group_input(doc: &Value) -> Result<GroupInput, Fail> {
    let doc = object(doc, "body")?;
    let name = text(doc, "displayName", "displayName")?
        .ok_or_else(|| Fail::bad("invalidValue", "'displayName' is required."))?;
    let display_name = DisplayName::parse(&name)
        .map_err(|e| Fail::bad("invalidValue", format!("displayName: {e}")))?
        .into_string();
    let external_id = optional_text(text(doc, "externalId", "externalId")?.as_deref(), 256)
        .map_err(|e| Fail::bad("invalidValue", format!("externalId: {e}")))?;
    Ok(GroupInput {
        display_name,
        external_id,
    })
}

/// The user ids of a `members` value: a list of `{value}` (or one object, or bare
/// ids). A value that is not a user id is refused (RFC 7644 §3.5.2: invalidValue).
pub fn member_ids(v: &Value) -> Result<Vec<UserId>, Fail> {
    let items: Vec<&Value> = match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let raw = match item {
            Value::String(s) => Some(s.as_str()),
            Value::Object(m) => get_ci(m, "value").and_then(Value::as_str),
            _ => None,
        }
        .ok_or_else(|| {
            Fail::bad(
                "invalidValue",
                "each member must be an object with the user's id as 'value'.",
            )
        })?;
        let id = raw.trim().parse::<UserId>().map_err(|_| {
            Fail::bad(
                "invalidValue",
                format!("member '{raw}' is not the id of a user of this directory."),
            )
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A member as a group shows it.
pub fn member(id: UserId, base: &str) -> Value {
    json!({"value": id.to_string(), "$ref": format!("{base}/Users/{id}")})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_user_keeps_declared_attributes_under_canonical_names() {
        let doc = canonical_user(&json!({
            "schemas": [USER_SCHEMA], "UserName": "ada@example.com", "ACTIVE": "False",
            "nickName": "dropped", "name": {"GivenName": "Ada", "familyName": "Lovelace"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "0193a0f4-0000-7000-8000-000000000001"
        }))
        .unwrap();
        assert_eq!(doc["userName"], "ada@example.com");
        assert_eq!(doc["active"], false);
        assert_eq!(doc["name"]["givenName"], "Ada");
        assert!(doc.get("nickName").is_none());
        assert_eq!(
            doc[ENTERPRISE]["manager"]["value"],
            "0193a0f4-0000-7000-8000-000000000001"
        );
    }

    #[test]
    fn the_sign_in_email_falls_back_to_the_primary_email() {
        let doc = canonical_user(&json!({"userName": "ada", "emails": [
            {"value": "other@example.com", "type": "home"},
            {"value": "ada@example.com", "type": "work", "primary": "true"}]}))
        .unwrap();
        let input = user_input(&doc).unwrap();
        assert_eq!(input.email, "ada@example.com");
        assert_eq!(input.display_name, "ada");
    }

    #[test]
    fn a_user_without_any_email_is_refused_as_invalid_value() {
        let doc = canonical_user(&json!({"userName": "ada"})).unwrap();
        assert!(matches!(
            user_input(&doc),
            Err(Fail::Scim {
                status: 400,
                scim_type: Some("invalidValue"),
                ..
            })
        ));
    }

    #[test]
    fn guest_user_type_and_display_name_fallbacks() {
        let doc = canonical_user(&json!({"userName": "g@example.com", "userType": "GUEST",
            "name": {"givenName": "Grace", "familyName": "Hopper"}}))
        .unwrap();
        let input = user_input(&doc).unwrap();
        assert_eq!(input.kind, UserKind::Guest);
        assert_eq!(input.display_name, "Grace Hopper");
    }

    #[test]
    fn member_ids_accept_objects_and_bare_ids_and_refuse_others() {
        let a = "0193a0f4-0000-7000-8000-000000000001";
        assert_eq!(member_ids(&json!([{"value": a}, a])).unwrap().len(), 1);
        assert!(member_ids(&json!([{"value": "nope"}])).is_err());
    }
}
