//! Who is calling. API: `Authorization: Bearer <token>` resolved to a `Caller` (its
//! tenant, user and roles) before the handler body runs, then held to the per-token
//! rate limit, so one busy or runaway client slows only itself.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::AppError;
use crate::services::{self, Caller, ServiceError};
use crate::state::AppState;

/// The authenticated API caller.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ServiceError::Unauthenticated(
                    "Send an API token in the Authorization header: 'Authorization: Bearer <token>'."
                        .into(),
                )
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ServiceError::Unauthenticated(
                    "The Authorization header must use the Bearer scheme.".into(),
                )
            })?;
        let caller = services::tokens::authenticate(state.pool(), token, state.now()).await?;
        if let Some(token) = caller.token {
            state
                .api_limit()
                .check(token)
                .map_err(|retry_after| AppError::TooManyRequests { retry_after })?;
        }
        Ok(Self(caller))
    }
}
