//! SCIM errors (RFC 7644 §3.12): `{schemas: [Error], status: "404", scimType?, detail}`
//! with the `application/scim+json` media type, for every failure under `/scim`,
//! authentication and unknown paths included. A 5xx logs its cause and shows a generic
//! detail.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::DomainError;
use crate::services::ServiceError;
use crate::services::scim::Fail;
use crate::services::scim::represent::ERROR_SCHEMA;

pub const MEDIA_TYPE: &str = "application/scim+json";

/// A SCIM answer: a JSON body with the SCIM media type.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))],
        body.to_string(),
    )
        .into_response()
}

/// A failed SCIM call.
#[derive(Debug)]
pub struct ScimError(pub Fail);

impl From<Fail> for ScimError {
    fn from(f: Fail) -> Self {
        Self(f)
    }
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self(Fail::new(status, scim_type, detail))
    }

    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self(Fail::bad(scim_type, detail))
    }
}

fn parts(e: Fail) -> (u16, Option<&'static str>, String) {
    match e {
        Fail::Scim {
            status,
            scim_type,
            detail,
        } => (status, scim_type, detail),
        Fail::Service(ServiceError::Domain(d)) => match d {
            DomainError::Validation(errors) => (
                400,
                Some("invalidValue"),
                errors
                    .0
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            DomainError::Conflict(m) => (409, None, m),
            DomainError::Forbidden(m) => (403, None, m),
            DomainError::NotFound(what) => (404, None, format!("The {what} was not found.")),
            DomainError::Stale(m) => (412, None, m),
        },
        Fail::Service(ServiceError::Unauthenticated(m)) => (401, None, m),
        Fail::Service(ServiceError::Internal(cause)) => {
            tracing::error!(error = ?cause, "SCIM call failed");
            (
                500,
                None,
                "Portico could not complete this call; it has been logged.".to_string(),
            )
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let (status, scim_type, detail) = parts(self.0);
        let mut body =
            json!({"schemas": [ERROR_SCHEMA], "status": status.to_string(), "detail": detail});
        if let Some(t) = scim_type {
            body["scimType"] = json!(t);
        }
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = scim_json(code, &body);
        if status == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"SCIM\""),
            );
        }
        response
    }
}

pub type ScimResponse = Result<Response, ScimError>;
