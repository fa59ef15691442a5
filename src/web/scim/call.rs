//! What the `/Users` and `/Groups` handlers share: `Call` (the state, the directory the
//! token proved and the tenant's SCIM base URL), `Body` (the JSON body, checked as
//! `body_json` does), and the answers of a write.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::ScimError;
use super::{base_url, body_json, resource};
use crate::services::scim::Directory;
use crate::services::scim::users::Written;
use crate::state::AppState;

/// A SCIM call that passed the token check (`auth::authenticate`).
pub struct Call {
    pub state: AppState,
    pub dir: Directory,
    /// The tenant's SCIM base URL, for `meta.location` and `$ref`.
    pub base: String,
}

impl Call {
    pub fn now(&self) -> DateTime<Utc> {
        self.state.now()
    }
}

impl FromRequestParts<AppState> for Call {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(dir) = parts.extensions.get::<Directory>().cloned() else {
            // The SCIM router's middleware puts it there before any handler runs.
            return Err(ScimError::new(401, None, "Send a SCIM token.").into_response());
        };
        let base = base_url(state, &dir.tenant.slug);
        Ok(Self {
            state: state.clone(),
            dir,
            base,
        })
    }
}

/// A JSON object body sent as `application/scim+json` or `application/json`.
pub struct Body(pub Value);

impl FromRequest<AppState> for Body {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ScimError::new(e.status().as_u16(), None, e.body_text()).into_response()
        })?;
        body_json(&headers, &bytes)
            .map(Body)
            .map_err(IntoResponse::into_response)
    }
}

/// 201 with the created resource and its `Location`.
pub fn created(w: Written) -> Response {
    resource(StatusCode::CREATED, &w.resource, w.counts)
}

/// 200 with the replaced or patched resource.
pub fn written(w: Written) -> Response {
    resource(StatusCode::OK, &w.resource, w.counts)
}
