//! Who calls the SCIM server: a middleware resolves `Authorization: Bearer pscim_…`
//! against the tenant of the path before any handler runs (a SCIM token of another
//! tenant, a revoked one or an API token answer 401), puts the `Directory` in the
//! request, and counts the call into the tenant's SCIM activity afterwards
//! (`services::scim::activity`).

use axum::extract::{OriginalUri, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ScimError;
use crate::services::ServiceError;
use crate::services::scim::activity::Recorder;
use crate::services::scim::{Directory, LastCall, ScimCounts, tokens};
use crate::state::AppState;

/// The tenant slug of a path under `/scim/v2/{slug}`.
pub fn slug_of(path: &str) -> Option<&str> {
    path.strip_prefix("/scim/v2/")
        .and_then(|rest| rest.split('/').next())
        .filter(|s| !s.is_empty())
}

fn bearer(req: &Request) -> Result<&str, ScimError> {
    let unauthenticated = |m: &str| ScimError(ServiceError::Unauthenticated(m.into()).into());
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            unauthenticated(
                "Send a SCIM token in the Authorization header: 'Authorization: Bearer <token>'.",
            )
        })?;
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthenticated(
            "The Authorization header must use the Bearer scheme.",
        ));
    }
    Ok(token.trim())
}

pub async fn authenticate(
    State((state, recorder)): State<(AppState, Recorder)>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().path().to_string(), |u| u.path().to_string());
    let Some(slug) = slug_of(&path).map(str::to_string) else {
        return ScimError::new(404, None, "There is no SCIM server here.").into_response();
    };
    let dir = match bearer(&req) {
        Err(e) => return e.into_response(),
        Ok(token) => tokens::authenticate(state.pool(), &slug, token, state.now()).await,
    };
    let dir: Directory = match dir {
        Ok(d) => d,
        Err(e) => return ScimError(e.into()).into_response(),
    };
    let method = req.method().to_string();
    let tenant = dir.tenant_id();
    req.extensions_mut().insert(dir);
    let response = next.run(req).await;
    let counts = response
        .extensions()
        .get::<ScimCounts>()
        .copied()
        .unwrap_or_default();
    let local = path
        .strip_prefix(&format!("/scim/v2/{slug}"))
        .unwrap_or(&path)
        .to_string();
    let call = LastCall {
        method,
        path: local,
        status: response.status().as_u16(),
        at: state.now(),
    };
    recorder.record(state.pool(), tenant, call, counts).await;
    response
}
