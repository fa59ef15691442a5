//! `AppError`, the only error that becomes an HTTP response. 4xx answers carry a
//! message a person can act on (RFC 9457 problem+json for the API); 5xx answers log the
//! cause chain and show a generic message.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::domain::values::NO_CONTROL_CHARACTERS;
use crate::domain::{DomainError, FieldErrors};
use crate::services::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The request itself is malformed (bad JSON, wrong content type).
    #[error("{0}")]
    BadRequest(String),
    /// No such route or object.
    #[error("not found")]
    NotFound,
    /// The caller made more calls than its rate allows; it may retry after this many
    /// seconds.
    #[error("rate limited")]
    TooManyRequests { retry_after: u64 },
    /// The body is larger than this endpoint takes (413).
    #[error("{0}")]
    TooLarge(String),
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        Self::Service(ServiceError::Domain(e))
    }
}

impl AppError {
    pub fn validation(errors: FieldErrors) -> Self {
        DomainError::Validation(errors).into()
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        DomainError::field(field, message).into()
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field name → message, for 422 answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:portico:problem:{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
        }
    }

    /// Status, problem kind and detail for an error.
    pub fn from_error(e: &AppError) -> Self {
        match e {
            AppError::BadRequest(detail) => {
                Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
            }
            AppError::NotFound => {
                Self::new(StatusCode::NOT_FOUND, "not-found", "There is nothing here.")
            }
            AppError::TooManyRequests { retry_after } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!(
                    "This API token is making calls faster than its limit allows. Retry in {retry_after} s (see the Retry-After header) and spread calls out."
                ),
            ),
            AppError::TooLarge(detail) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", detail)
            }
            AppError::Service(ServiceError::Unauthenticated(detail)) => {
                Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
            }
            AppError::Service(ServiceError::Domain(d)) => match d {
                DomainError::Validation(errors) => {
                    let detail = errors
                        .0
                        .iter()
                        .map(|(f, m)| format!("{f}: {m}"))
                        .collect::<Vec<_>>()
                        .join("; ");
                    let mut p = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail);
                    p.errors = Some(errors.0.clone());
                    p
                }
                DomainError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
                DomainError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, "forbidden", m),
                DomainError::Stale(m) => {
                    Self::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", m)
                }
                DomainError::NotFound(what) => {
                    let mut what = what.to_string();
                    if let Some(first) = what.get_mut(0..1) {
                        first.make_ascii_uppercase();
                    }
                    Self::new(
                        StatusCode::NOT_FOUND,
                        "not-found",
                        format!("{what} not found."),
                    )
                }
            },
            // The edge refuses control characters; this catches any that still reach
            // PostgreSQL, which cannot store them, as the person's mistake, not ours.
            AppError::Service(ServiceError::Internal(cause))
                if crate::services::unstorable_text(cause) =>
            {
                let mut p = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation",
                    format!("input: {NO_CONTROL_CHARACTERS}"),
                );
                p.errors = Some(BTreeMap::from([(
                    "input".to_string(),
                    NO_CONTROL_CHARACTERS.to_string(),
                )]));
                p
            }
            AppError::Service(ServiceError::Internal(_)) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side; it has been logged. Please try again.",
            ),
        }
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"portico\""),
            );
        }
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let problem = Problem::from_error(&self);
        if let AppError::Service(ServiceError::Internal(cause)) = &self
            && problem.status_code().is_server_error()
        {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut response = problem.into_response();
        if let AppError::TooManyRequests { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
        }
        response
    }
}
