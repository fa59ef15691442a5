//! The JSON API under `/api/v1` (contract: API.md). Each submodule exposes `router()`,
//! an `OpenApiRouter` whose handlers are annotated, so `/api/v1/openapi.json` is
//! generated from the code that serves it.

pub mod assignments;
pub mod audit;
pub mod audit_stream;
pub mod bulk;
pub mod catalogs;
pub mod chat;
pub mod config;
mod contract;
pub mod extensions;
pub mod groups;
pub mod identity_provider;
pub mod me;
pub mod outbox;
pub mod packages;
pub mod reports;
pub mod requests;
pub mod reviews;
pub mod roles;
pub mod scim_tokens;
pub mod users;
mod versions;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::error::{AppError, Problem};
use super::path::PathIds;
use crate::domain::FieldErrors;
use crate::paging::{Page, PageRequest};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portico API",
        version = "1",
        description = "Self-hosted entitlement management: catalogs, access packages, policies, requests, approvals, assignments and access reviews. Authenticate with `Authorization: Bearer <token>` (create one with `portico token create`)."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(
        Problem,
        requests::ApprovalFilter,
        crate::domain::request::RequestState,
        crate::domain::assignment::AssignmentState,
        crate::domain::review::ReviewState,
        crate::domain::outbox::OutboxState,
        crate::domain::outbox::OutboxKind,
        reports::ReportFormat
    ))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API router with `/api/v1/openapi.json`.
pub fn router() -> axum::Router<AppState> {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(me::router())
        .merge(users::router())
        .merge(groups::router())
        .merge(roles::router())
        .merge(catalogs::router())
        .merge(packages::router())
        .merge(audit::router())
        .merge(requests::router())
        .merge(assignments::router())
        .merge(reviews::router())
        .merge(outbox::router())
        .merge(reports::router())
        .merge(identity_provider::router())
        .merge(scim_tokens::router())
        .merge(chat::router())
        .merge(extensions::router())
        .merge(config::router())
        .merge(audit_stream::router())
        .merge(bulk::router())
        .split_for_parts();
    // `web::router` nests these routes under /api/v1; the description names full paths.
    let mut api = api;
    api.paths.paths = std::mem::take(&mut api.paths.paths)
        .into_iter()
        .map(|(path, item)| (format!("/api/v1{path}"), item))
        .collect();
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    contract::complete(&mut doc);
    let doc = std::sync::Arc::new(doc);
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { AppError::NotFound })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BODY))
}

/// JSON body whose errors are problem+json: malformed JSON is 400; a wrong type or an
/// unknown enum value is 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.split(';').next().unwrap_or("").trim();
                v == "application/json" || v.ends_with("+json")
            });
        if !is_json {
            return Err(AppError::BadRequest(
                "Send the body as JSON with 'Content-Type: application/json'.".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::TooLarge(format!(
                        "The body is larger than the {} KiB the API takes.",
                        MAX_JSON_BODY / 1024
                    ))
                } else {
                    AppError::BadRequest(format!("The body could not be read: {e}"))
                }
            })?;
        if has_escaped_control(&bytes) {
            return Err(control_character_error(&bytes));
        }
        // Every body of the API is an object; serde would read a struct from an array
        // of its fields in order (`[null, null]`), which no client means.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            let mut errors = FieldErrors::new();
            errors.add("body", "the body must be a JSON object, not an array");
            return Err(AppError::validation(errors));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(value) => Ok(Self(value)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    Err(AppError::BadRequest(format!(
                        "The body is not valid JSON: {inner}"
                    )))
                } else {
                    let field = if path == "." {
                        "body".to_string()
                    } else {
                        path
                    };
                    let message = inner
                        .to_string()
                        .split(" at line ")
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let mut errors = FieldErrors::new();
                    errors.add(field, message);
                    Err(AppError::validation(errors))
                }
            }
        }
    }
}

/// The largest JSON body the API reads; a larger one answers 413.
pub const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

/// Whether a JSON text escapes a control character that text fields may not hold
/// (`\u0000`, and every C0 control but tab, CR and LF, or DEL). JSON cannot hold them
/// raw in strings, so a scan of the escapes finds them without parsing.
fn has_escaped_control(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] != b'\\' {
            i += 1;
            continue;
        }
        if json.get(i + 1) == Some(&b'u')
            && let Some(code) = json
                .get(i + 2..i + 6)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32)
            && crate::domain::values::has_control_characters(&code.to_string(), true)
        {
            return true;
        }
        // Skip the escaped character, so `\\u0000` (a backslash, then text) is not read
        // as an escape.
        i += 2;
    }
    false
}

/// The 422 for a body with a control character, naming the first field that has one.
fn control_character_error(json: &[u8]) -> AppError {
    fn find(value: &serde_json::Value, path: String) -> Option<String> {
        use crate::domain::values::has_control_characters;
        match value {
            serde_json::Value::String(s) if has_control_characters(s, true) => Some(path),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| find(v, format!("{path}[{i}]"))),
            serde_json::Value::Object(fields) => fields.iter().find_map(|(k, v)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if has_control_characters(k, true) {
                    Some(path.clone()).filter(|p| !p.is_empty())
                } else {
                    find(v, here)
                }
            }),
            _ => None,
        }
    }
    let field = serde_json::from_slice::<serde_json::Value>(json)
        .ok()
        .and_then(|v| find(&v, String::new()))
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "body".into());
    AppError::field(&field, crate::domain::values::NO_CONTROL_CHARACTERS)
}

/// The typed ids of the path (`web::path`); a malformed id answers 404 like an
/// unknown one.
pub struct ApiPath<T>(pub T);

impl<T: PathIds + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        super::path::parse(parts, state)
            .await
            .map(Self)
            .ok_or(AppError::NotFound)
    }
}

/// Query parameters; a malformed value answers 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de).map(Self).map_err(|e| {
            let path = e.path().to_string();
            AppError::field(
                if path == "." { "query" } else { &path },
                e.into_inner().to_string(),
            )
        })
    }
}

fn form_urlencoded_parse(query: &str) -> url::form_urlencoded::Parse<'_> {
    url::form_urlencoded::parse(query.as_bytes())
}

/// `?limit=&cursor=` of every list. An empty value is refused like any other that is
/// not a number or a cursor, as the description says.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pagination {
    /// Items per page: 1–500, default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

impl Pagination {
    pub fn page(&self) -> Result<PageRequest, AppError> {
        let limit = match self.limit.as_deref() {
            None => PageRequest::DEFAULT,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=PageRequest::MAX).contains(&n) => n,
                _ => {
                    return Err(AppError::field(
                        "limit",
                        format!("'{v}' is not a number from 1 to {}", PageRequest::MAX),
                    ));
                }
            },
        };
        let before = match self.cursor.as_deref() {
            None => None,
            Some(c) => Some(Uuid::parse_str(c).map_err(|_| {
                AppError::field("cursor", "this cursor is not one that a list returned")
            })?),
        };
        Ok(PageRequest { limit, before })
    }
}

/// `{items, nextCursor}` of every list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: Serialize> List<T> {
    pub fn from_page<R>(page: Page<R>, f: impl FnMut(R) -> T) -> Self {
        let next = page.next;
        Self {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: next.map(|u| u.to_string()),
        }
    }
}

impl<T: Serialize> IntoResponse for List<T> {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

/// 201 with the created representation.
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, Json(self.0)).into_response()
    }
}

/// Declares the OpenAPI schema of a list of `$item` under the name `$name`.
#[macro_export]
macro_rules! list_schema {
    ($name:ident, $item:ty) => {
        #[allow(dead_code)]
        #[derive(utoipa::ToSchema)]
        #[serde(rename_all = "camelCase")]
        #[derive(serde::Serialize)]
        pub struct $name {
            pub items: Vec<$item>,
            pub next_cursor: Option<String>,
        }
    };
}

/// Deserializes a field that may be absent (outer `None`), `null` (`Some(None)`) or a
/// value, for PATCH bodies.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}
