//! `/roleAssignments`: delegated administration.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiQuery, Created, List, Pagination};
use crate::domain::authz::Role;
use crate::domain::ids::{CatalogId, GroupId, RoleAssignmentId, UserId};
use crate::model::roles::RoleAssignment as Row;
use crate::services;
use crate::services::roles::{NewRoleAssignment, Principal};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_role_assignments, create_role_assignment))
        .routes(routes!(delete_role_assignment))
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum PrincipalType {
    User,
    Group,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PrincipalRef {
    #[serde(rename = "type")]
    pub kind: PrincipalType,
    pub id: Uuid,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: Uuid,
    #[schema(value_type = Role)]
    pub role: String,
    pub principal: PrincipalRef,
    pub catalog_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<Row> for RoleAssignment {
    fn from(r: Row) -> Self {
        let principal = match (r.user_id, r.group_id) {
            (Some(u), _) => PrincipalRef {
                kind: PrincipalType::User,
                id: u.0,
            },
            (None, Some(g)) => PrincipalRef {
                kind: PrincipalType::Group,
                id: g.0,
            },
            (None, None) => PrincipalRef {
                kind: PrincipalType::User,
                id: Uuid::nil(),
            },
        };
        Self {
            id: r.id.0,
            role: r.role.as_str().into(),
            principal,
            catalog_id: r.catalog_id.map(|c| c.0),
            created_at: r.created_at,
        }
    }
}

crate::list_schema!(RoleAssignmentList, RoleAssignment);

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentBody {
    pub role: Role,
    pub principal: PrincipalRef,
    pub catalog_id: Option<Uuid>,
}

/// Role assignments: all for tenant admins, their catalogs' for catalog owners/readers.
#[utoipa::path(get, path = "/roleAssignments", tag = "roles", params(Pagination),
    responses((status = 200, body = RoleAssignmentList), (status = 403, body = Problem)))]
async fn list_role_assignments(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(p): ApiQuery<Pagination>,
) -> Result<List<RoleAssignment>, AppError> {
    let page = services::roles::list(state.pool(), &caller, p.page()?).await?;
    Ok(List::from_page(page, RoleAssignment::from))
}

/// Grant a role to a user or group (tenant admins; catalog owners for their catalog).
#[utoipa::path(post, path = "/roleAssignments", tag = "roles", request_body = RoleAssignmentBody,
    responses((status = 201, body = RoleAssignment), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_role_assignment(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<RoleAssignmentBody>,
) -> Result<Created<RoleAssignment>, AppError> {
    let principal = match body.principal.kind {
        PrincipalType::User => Principal::User(UserId(body.principal.id)),
        PrincipalType::Group => Principal::Group(GroupId(body.principal.id)),
    };
    let input = NewRoleAssignment {
        role: body.role,
        principal,
        catalog_id: body.catalog_id.map(CatalogId),
    };
    let row = services::roles::create(state.pool(), &caller, input, state.now()).await?;
    Ok(Created(row.into()))
}

#[utoipa::path(delete, path = "/roleAssignments/{id}", tag = "roles", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_role_assignment(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<RoleAssignmentId>,
) -> Result<StatusCode, AppError> {
    services::roles::delete(state.pool(), &caller, id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
