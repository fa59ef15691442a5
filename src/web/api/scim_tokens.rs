//! `/tenant/scimTokens`: the bearer tokens the tenant's identity provider uses for the
//! SCIM server (tenant admins). The token itself is shown once, in the 201 answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiJson, ApiPath, Created};
use crate::domain::ids::ScimTokenId;
use crate::services;
use crate::services::scim::ScimToken as Record;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_scim_tokens, create_scim_token))
        .routes(routes!(revoke_scim_token))
}

/// A SCIM token without its secret.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimToken {
    pub id: Uuid,
    pub name: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Record> for ScimToken {
    fn from(t: Record) -> Self {
        Self {
            id: t.id.0,
            name: t.name,
            created_by: t.created_by.map(|u| u.0),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// The 201 answer: the only time the token is shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedScimToken {
    pub id: Uuid,
    /// `pscim_…`: give it to the identity provider as its bearer token.
    pub token: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimTokenList {
    pub items: Vec<ScimToken>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct NewScimToken {
    /// A name to recognise the token by (default "SCIM").
    pub name: Option<String>,
}

#[utoipa::path(get, path = "/tenant/scimTokens", tag = "directory",
    responses((status = 200, body = ScimTokenList), (status = 403, body = Problem)))]
async fn list_scim_tokens(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<ScimTokenList>, AppError> {
    let tokens = services::scim::tokens::list(state.pool(), &caller).await?;
    Ok(Json(ScimTokenList {
        items: tokens.into_iter().map(ScimToken::from).collect(),
    }))
}

#[utoipa::path(post, path = "/tenant/scimTokens", tag = "directory", request_body = NewScimToken,
    responses((status = 201, body = CreatedScimToken), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_scim_token(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<NewScimToken>,
) -> Result<Created<CreatedScimToken>, AppError> {
    let (token, plain) =
        services::scim::tokens::create(state.pool(), &caller, body.name.as_deref(), state.now())
            .await?;
    Ok(Created(CreatedScimToken {
        id: token.id.0,
        token: plain,
        name: token.name,
        created_at: token.created_at,
    }))
}

/// Revoke a SCIM token at once (409 when it already is).
#[utoipa::path(delete, path = "/tenant/scimTokens/{id}", tag = "directory", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn revoke_scim_token(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<ScimTokenId>,
) -> Result<StatusCode, AppError> {
    services::scim::tokens::revoke(state.pool(), &caller, id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
