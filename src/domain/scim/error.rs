//! `ScimError`: a refusal in SCIM's terms (RFC 7644 §3.12), an HTTP status with an
//! optional `scimType` keyword and a detail a person can act on. `body` renders the
//! error resource the protocol requires (status as a string).

use serde_json::{Value, json};

/// The `scimType` keywords of RFC 7644 §3.12 Portico answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    InvalidPath,
    InvalidValue,
    Mutability,
    NoTarget,
    Uniqueness,
    TooMany,
    InvalidSyntax,
}

impl ScimType {
    /// The keyword as spelled in the RFC (`invalidFilter`, `noTarget`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::InvalidPath => "invalidPath",
            Self::InvalidValue => "invalidValue",
            Self::Mutability => "mutability",
            Self::NoTarget => "noTarget",
            Self::Uniqueness => "uniqueness",
            Self::TooMany => "tooMany",
            Self::InvalidSyntax => "invalidSyntax",
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The schema URN of a SCIM error response.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM protocol error: what the server answers, as is, to the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    /// 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// 404 (no `scimType`).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: 404,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// 409 `uniqueness`.
    pub fn conflict_uniqueness(detail: impl Into<String>) -> Self {
        Self {
            status: 409,
            scim_type: Some(ScimType::Uniqueness),
            detail: detail.into(),
        }
    }

    /// The RFC 7644 §3.12 error resource; `status` is a string there.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), Value::from(t.as_str()));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_follows_the_rfc_with_the_status_as_a_string() {
        let e = ScimError::bad_request(ScimType::InvalidFilter, "bad filter at 3");
        assert_eq!(
            e.body(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "bad filter at 3"
            })
        );
        assert_eq!(e.to_string(), "bad filter at 3");
    }

    #[test]
    fn not_found_has_no_scim_type_and_conflict_is_uniqueness() {
        let nf = ScimError::not_found("no such user");
        assert_eq!(nf.status, 404);
        assert!(nf.body().get("scimType").is_none());
        let c = ScimError::conflict_uniqueness("userName taken");
        assert_eq!(c.status, 409);
        assert_eq!(c.body()["scimType"], "uniqueness");
    }

    #[test]
    fn every_keyword_is_spelled_as_in_the_rfc() {
        let all = [
            (ScimType::InvalidFilter, "invalidFilter"),
            (ScimType::InvalidPath, "invalidPath"),
            (ScimType::InvalidValue, "invalidValue"),
            (ScimType::Mutability, "mutability"),
            (ScimType::NoTarget, "noTarget"),
            (ScimType::Uniqueness, "uniqueness"),
            (ScimType::TooMany, "tooMany"),
            (ScimType::InvalidSyntax, "invalidSyntax"),
        ];
        for (t, s) in all {
            assert_eq!(t.as_str(), s);
        }
    }
}
