//! `/assignments`: who holds which access package, and the state of each grant.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiPath, ApiQuery, List, Pagination};
use crate::domain::assignment::{AssignmentState, GrantState, RemovalReason};
use crate::domain::ids::{AssignmentId, PackageId, UserId};
use crate::services;
use crate::services::assignments::AssignmentView;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_assignments))
        .routes(routes!(get_assignment))
        .routes(routes!(reprocess_assignment))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    pub resource_role_id: Uuid,
    pub state: GrantState,
    pub error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub id: Uuid,
    pub access_package_id: Uuid,
    pub policy_id: Uuid,
    pub target_user_id: Uuid,
    pub state: AssignmentState,
    pub start_date_time: DateTime<Utc>,
    pub end_date_time: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub request_id: Uuid,
    /// Why a removed assignment was removed (null otherwise).
    pub removal_reason: Option<RemovalReason>,
    pub ended_at: Option<DateTime<Utc>>,
    pub grants: Vec<Grant>,
}

impl From<AssignmentView> for Assignment {
    fn from(v: AssignmentView) -> Self {
        let a = v.assignment;
        Self {
            id: a.id.0,
            access_package_id: a.package_id.0,
            policy_id: a.policy_id.0,
            target_user_id: a.target_user_id.0,
            state: a.state,
            start_date_time: a.start_at,
            end_date_time: a.end_at,
            created_at: a.created_at,
            request_id: a.request_id.0,
            removal_reason: a.removal_reason,
            ended_at: a.ended_at,
            grants: v
                .grants
                .into_iter()
                .map(|g| Grant {
                    resource_role_id: g.resource_role_id.0,
                    state: g.state,
                    error: g.error,
                    updated_at: g.updated_at,
                })
                .collect(),
        }
    }
}

crate::list_schema!(AssignmentList, Assignment);

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AssignmentQuery {
    /// Only the caller's own assignments.
    pub mine: Option<bool>,
    pub access_package_id: Option<Uuid>,
    pub target_user_id: Option<Uuid>,
    #[param(value_type = Option<AssignmentState>)]
    pub state: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// Assignments the caller may see (their own; all of the catalogs they manage).
#[utoipa::path(get, path = "/assignments", tag = "assignments", params(AssignmentQuery),
    responses((status = 200, body = AssignmentList), (status = 422, body = Problem)))]
async fn list_assignments(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<AssignmentQuery>,
) -> Result<List<Assignment>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let query = services::assignments::ListQuery {
        mine: q.mine.unwrap_or(false),
        package: q.access_package_id.map(PackageId),
        target: q.target_user_id.map(UserId),
        state: q.state.as_deref(),
    };
    let page = services::assignments::list(state.pool(), &caller, query, page).await?;
    Ok(List::from_page(page, Assignment::from))
}

#[utoipa::path(get, path = "/assignments/{id}", tag = "assignments", params(("id" = Uuid, Path)),
    responses((status = 200, body = Assignment), (status = 404, body = Problem)))]
async fn get_assignment(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<AssignmentId>,
) -> Result<Json<Assignment>, AppError> {
    Ok(Json(
        services::assignments::get(state.pool(), &caller, id)
            .await?
            .into(),
    ))
}

/// Retry the failed grants of an assignment (admins, assignment managers).
#[utoipa::path(post, path = "/assignments/{id}/reprocess", tag = "assignments", params(("id" = Uuid, Path)),
    responses((status = 200, body = Assignment), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn reprocess_assignment(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<AssignmentId>,
) -> Result<Json<Assignment>, AppError> {
    Ok(Json(
        services::assignments::reprocess(state.pool(), &caller, id, state.now())
            .await?
            .into(),
    ))
}
