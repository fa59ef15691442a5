//! `/tenant/identityProvider`: the tenant's OpenID Connect sign-in (INTEGRATIONS.md §1).
//! The client secret is write-only: answers carry `clientSecretSet` only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use crate::domain::DomainError;
use crate::domain::identity::OidcInput;
use crate::services::{self, oidc::ProviderView};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(
        get_identity_provider,
        put_identity_provider,
        delete_identity_provider
    ))
}

/// The tenant's identity provider.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityProvider {
    /// Always "oidc".
    #[serde(rename = "type")]
    pub kind: String,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_set: bool,
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub allowed_domains: Vec<String>,
    pub create_users: bool,
    pub email_link_sign_in: bool,
    /// Where the provider must send people back (register it with the provider).
    pub redirect_uri: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Settings of the tenant's identity provider. `clientSecret` may be left out when
/// one is set already (it is kept).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityProviderBody {
    #[serde(rename = "type")]
    #[schema(example = "oidc")]
    pub kind: Option<String>,
    #[schema(example = "Contoso SSO")]
    pub display_name: Option<String>,
    #[schema(example = "https://login.example.com")]
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub email_claim: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub create_users: Option<bool>,
    pub email_link_sign_in: Option<bool>,
}

fn answer(state: &AppState, slug: &str, v: ProviderView) -> IdentityProvider {
    IdentityProvider {
        kind: "oidc".into(),
        display_name: v.settings.display_name,
        issuer: v.settings.issuer,
        client_id: v.settings.client_id,
        client_secret_set: v.client_secret_set,
        scopes: v.settings.scopes,
        email_claim: v.settings.email_claim,
        allowed_domains: v.settings.allowed_domains,
        create_users: v.settings.create_users,
        email_link_sign_in: v.settings.email_link_sign_in,
        redirect_uri: redirect_uri(state, slug),
        created_at: v.created_at,
        updated_at: v.updated_at,
    }
}

/// The redirect URI to register with the provider.
pub fn redirect_uri(state: &AppState, slug: &str) -> Option<String> {
    state
        .settings()
        .base_url
        .as_ref()
        .and_then(|b| b.join(&format!("/t/{slug}/oidc/callback")).ok())
        .map(|u| u.to_string())
}

/// The tenant's identity provider (tenant admins); 404 when none is set.
#[utoipa::path(get, path = "/tenant/identityProvider", tag = "tenant",
    responses((status = 200, body = IdentityProvider), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_identity_provider(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<IdentityProvider>, AppError> {
    let view = services::oidc::get(state.pool(), &caller)
        .await?
        .ok_or(DomainError::NotFound("identity provider"))?;
    Ok(Json(answer(&state, &caller.tenant.slug, view)))
}

/// Sets the tenant's identity provider (tenant admins). The issuer's discovery
/// document is fetched at once: 422 on `issuer` saying why when it cannot be used.
#[utoipa::path(put, path = "/tenant/identityProvider", tag = "tenant", request_body = IdentityProviderBody,
    responses((status = 200, body = IdentityProvider), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn put_identity_provider(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<IdentityProviderBody>,
) -> Result<Json<IdentityProvider>, AppError> {
    let input = OidcInput {
        kind: body.kind,
        display_name: body.display_name,
        issuer: body.issuer,
        client_id: body.client_id,
        client_secret: body.client_secret,
        scopes: body.scopes,
        email_claim: body.email_claim,
        allowed_domains: body.allowed_domains,
        create_users: body.create_users,
        email_link_sign_in: body.email_link_sign_in,
    };
    let view = services::oidc::put(
        state.pool(),
        state.providers(),
        state.keys(),
        state.settings().webhook_allow_private,
        &caller,
        input,
        state.now(),
    )
    .await?;
    Ok(Json(answer(&state, &caller.tenant.slug, view)))
}

/// Removes the identity provider: people sign in with emailed links again.
#[utoipa::path(delete, path = "/tenant/identityProvider", tag = "tenant",
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_identity_provider(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<StatusCode, AppError> {
    services::oidc::remove(state.pool(), &caller, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
