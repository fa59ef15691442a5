//! `/me` (the caller) and `/tenant` (the caller's tenant and its settings).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use super::users::User;
use crate::model::tenants::Tenant as TenantRow;
use crate::services;
use crate::services::tenants::TenantPatch;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me))
        .routes(routes!(get_tenant, patch_tenant))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleHeld {
    #[schema(value_type = crate::domain::authz::Role)]
    pub role: String,
    pub catalog_id: Option<uuid::Uuid>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub user: User,
    pub tenant: String,
    pub roles: Vec<RoleHeld>,
}

/// The caller: their user, tenant slug and roles (direct or through groups).
#[utoipa::path(get, path = "/me", tag = "directory",
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
async fn get_me(ApiCaller(caller): ApiCaller) -> Json<Me> {
    let roles = caller
        .roles
        .grants()
        .iter()
        .map(|g| RoleHeld {
            role: g.role.as_str().into(),
            catalog_id: g.catalog.map(|c| c.0),
        })
        .collect();
    Json(Me {
        tenant: caller.tenant.slug.clone(),
        user: caller.user.into(),
        roles,
    })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: uuid::Uuid,
    pub slug: String,
    pub display_name: String,
    pub reply_to: Option<String>,
    pub approval_links_require_sign_in: bool,
    /// The IANA time zone the portals and emails show times in (the API's times are
    /// always UTC).
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TenantRow> for Tenant {
    fn from(t: TenantRow) -> Self {
        Self {
            id: t.id.0,
            slug: t.slug,
            display_name: t.display_name,
            reply_to: t.reply_to,
            approval_links_require_sign_in: t.approval_links_require_sign_in,
            time_zone: t.time_zone,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct TenantPatchBody {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub reply_to: Option<Option<String>>,
    pub approval_links_require_sign_in: Option<bool>,
    /// An IANA time zone name such as `Europe/Berlin`.
    pub time_zone: Option<String>,
}

/// The caller's tenant.
#[utoipa::path(get, path = "/tenant", tag = "tenant",
    responses((status = 200, body = Tenant), (status = 401, body = Problem)))]
async fn get_tenant(ApiCaller(caller): ApiCaller) -> Json<Tenant> {
    Json(caller.tenant.into())
}

/// Change the tenant's settings (tenant admins).
#[utoipa::path(patch, path = "/tenant", tag = "tenant", request_body = TenantPatchBody,
    responses((status = 200, body = Tenant), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn patch_tenant(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<TenantPatchBody>,
) -> Result<Json<Tenant>, AppError> {
    let patch = TenantPatch {
        display_name: body.display_name,
        reply_to: body.reply_to,
        approval_links_require_sign_in: body.approval_links_require_sign_in,
        time_zone: body.time_zone,
    };
    let tenant = services::tenants::update(state.pool(), &caller, patch, state.now()).await?;
    Ok(Json(tenant.into()))
}
