//! The SCIM 2.0 server under `/scim/v2/{slug}` (INTEGRATIONS.md §2): discovery
//! documents, `/Users` and `/Groups`. Bearer SCIM tokens only (no session, no CSRF),
//! and every answer, errors and unknown paths included, is `application/scim+json`.
//! Handlers parse the query and body, call one `services::scim` function and render.

mod auth;
mod call;
mod discovery;
pub mod error;
mod filters;
mod groups;
mod query;
mod search;
mod users;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use self::error::{ScimError, ScimResponse, scim_json};
use crate::services::scim::ScimCounts;
use crate::services::scim::activity::Recorder;
use crate::services::scim::represent::LIST_SCHEMA;
use crate::state::AppState;

/// The largest body a SCIM call may send (a PATCH of a few thousand members fits).
const MAX_BODY: usize = 4 * 1024 * 1024;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(discovery::router())
        .merge(users::router())
        .merge(groups::router())
        .merge(search::router())
        .fallback(|| async {
            ScimError::new(404, None, "There is no such SCIM endpoint.").into_response()
        })
        .method_not_allowed_fallback(|| async {
            ScimError::new(405, None, "This SCIM endpoint does not take this method.")
                .into_response()
        })
        .layer(middleware::from_fn_with_state(
            (state, Recorder::default()),
            auth::authenticate,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// The SCIM base URL of the tenant, for `meta.location` and `$ref`.
pub fn base_url(state: &AppState, slug: &str) -> String {
    let origin = state
        .settings()
        .base_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_string())
        .unwrap_or_default();
    format!("{origin}/scim/v2/{slug}")
}

/// A JSON body sent as `application/scim+json` or `application/json` (or without a
/// type, as some clients do). Anything else is 415; bad JSON is 400 invalidSyntax.
pub fn body_json(headers: &HeaderMap, body: &Bytes) -> Result<Value, ScimError> {
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(ct.is_empty()
            || ct == "application/json"
            || ct.ends_with("+json")
            || ct == "text/plain")
        {
            return Err(ScimError::new(
                415,
                None,
                "Send the body as 'application/scim+json' or 'application/json'.",
            ));
        }
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("The body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ScimError::bad(
            "invalidSyntax",
            "The body must be a JSON object.",
        ));
    }
    if has_control(&value) {
        return Err(ScimError::bad(
            "invalidValue",
            crate::domain::values::NO_CONTROL_CHARACTERS,
        ));
    }
    Ok(value)
}

fn has_control(v: &Value) -> bool {
    use crate::domain::values::has_control_characters;
    match v {
        Value::String(s) => has_control_characters(s, true),
        Value::Array(items) => items.iter().any(has_control),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| has_control_characters(k, true) || has_control(v)),
        _ => false,
    }
}

/// A resource answer with its `Location` (for 201) and what it counts for.
pub fn resource(status: StatusCode, body: &Value, counts: ScimCounts) -> Response {
    let mut response = scim_json(status, body);
    if let Some(loc) = body
        .pointer("/meta/location")
        .and_then(Value::as_str)
        .and_then(|l| l.parse().ok())
    {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    response.extensions_mut().insert(counts);
    response
}

/// A ListResponse (RFC 7644 §3.4.2); `count=0` answers only the total.
pub fn list_response(total: i64, start_index: i64, items: Vec<Value>) -> ScimResponse {
    let mut body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": items.len(),
    });
    body["Resources"] = Value::Array(items);
    Ok(scim_json(StatusCode::OK, &body))
}

/// 204 of a DELETE, counted.
pub fn no_content(counts: ScimCounts) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.extensions_mut().insert(counts);
    response
}
