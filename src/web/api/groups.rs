//! `/groups` and their members (each membership listed with its sources).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiQuery, Created, List, Pagination};
use crate::domain::ids::{GroupId, UserId};
use crate::model::groups::MemberRow;
use crate::services;
use crate::services::groups::{GroupFields, GroupView};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, patch_group, delete_group))
        .routes(routes!(list_members, add_member))
        .routes(routes!(remove_member))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: Uuid,
    pub display_name: String,
    pub description: String,
    pub owner_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<GroupView> for Group {
    fn from(v: GroupView) -> Self {
        Self {
            id: v.group.id.0,
            display_name: v.group.display_name,
            description: v.group.description,
            owner_ids: v.owner_ids.into_iter().map(|u| u.0).collect(),
            created_at: v.group.created_at,
            updated_at: v.group.updated_at,
        }
    }
}

crate::list_schema!(GroupList, Group);

/// Body of POST: what `GroupBody` parses, with the fields a new group needs.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewGroupBody {
    pub display_name: String,
    pub description: Option<String>,
    /// Direct owners. Default [].
    pub owner_ids: Option<Vec<Uuid>>,
}

/// Body of PATCH: any field.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct GroupBody {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Direct owners; on PATCH the list replaces the direct owners.
    #[schema(value_type = Option<Vec<Uuid>>)]
    pub owner_ids: Option<Vec<UserId>>,
}

impl From<GroupBody> for GroupFields {
    fn from(b: GroupBody) -> Self {
        Self {
            display_name: b.display_name,
            description: b.description,
            owner_ids: b.owner_ids,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    pub search: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/groups", tag = "directory", params(GroupQuery),
    responses((status = 200, body = GroupList), (status = 403, body = Problem)))]
async fn list_groups(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<GroupQuery>,
) -> Result<List<Group>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let groups = services::groups::list(state.pool(), &caller, q.search.as_deref(), page).await?;
    Ok(List::from_page(groups, Group::from))
}

#[utoipa::path(post, path = "/groups", tag = "directory", request_body = NewGroupBody,
    responses((status = 201, body = Group), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_group(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<Created<Group>, AppError> {
    let group = services::groups::create(state.pool(), &caller, body.into(), state.now()).await?;
    Ok(Created(group.into()))
}

#[utoipa::path(get, path = "/groups/{id}", tag = "directory", params(("id" = Uuid, Path)),
    responses((status = 403, body = Problem), (status = 200, body = Group), (status = 404, body = Problem)))]
async fn get_group(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<GroupId>,
) -> Result<Json<Group>, AppError> {
    Ok(Json(
        services::groups::get(state.pool(), &caller, id)
            .await?
            .into(),
    ))
}

#[utoipa::path(patch, path = "/groups/{id}", tag = "directory", params(("id" = Uuid, Path)),
    request_body = GroupBody,
    responses((status = 403, body = Problem), (status = 200, body = Group), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn patch_group(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<GroupId>,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<Json<Group>, AppError> {
    let group =
        services::groups::update(state.pool(), &caller, id, body.into(), state.now()).await?;
    Ok(Json(group.into()))
}

/// Delete a group (409 while a catalog resource or policy uses it).
#[utoipa::path(delete, path = "/groups/{id}", tag = "directory", params(("id" = Uuid, Path)),
    responses((status = 403, body = Problem), (status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_group(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<GroupId>,
) -> Result<StatusCode, AppError> {
    services::groups::delete(state.pool(), &caller, id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: Uuid,
    /// "direct", "directory" (pushed by the identity provider over SCIM) and/or the ids
    /// of the assignments that delivered the membership.
    pub sources: Vec<String>,
}

impl From<MemberRow> for Member {
    fn from(m: MemberRow) -> Self {
        Self {
            user_id: m.user_id.0,
            sources: m
                .directory
                .then(|| "directory".to_string())
                .into_iter()
                .chain(
                    m.sources
                        .into_iter()
                        .map(|s| s.map_or_else(|| "direct".to_string(), |a| a.to_string())),
                )
                .collect(),
        }
    }
}

crate::list_schema!(MemberList, Member);

/// Members with their sources (tenant admins and the group's owners).
#[utoipa::path(get, path = "/groups/{id}/members", tag = "directory", params(("id" = Uuid, Path), Pagination),
    responses((status = 200, body = MemberList), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn list_members(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<GroupId>,
    ApiQuery(p): ApiQuery<Pagination>,
) -> Result<List<Member>, AppError> {
    let members = services::groups::list_members(state.pool(), &caller, id, p.page()?).await?;
    Ok(List::from_page(members, Member::from))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberBody {
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
}

/// Add the `direct` source of membership (201; 200 when it already existed).
#[utoipa::path(post, path = "/groups/{id}/members", tag = "directory", params(("id" = Uuid, Path)),
    request_body = MemberBody,
    responses((status = 403, body = Problem), (status = 201, body = Member), (status = 200, body = Member), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_member(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<GroupId>,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Response, AppError> {
    let added =
        services::groups::add_member(state.pool(), &caller, id, body.user_id, state.now()).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let member = Member {
        user_id: body.user_id.0,
        sources: vec!["direct".into()],
    };
    Ok((status, Json(member)).into_response())
}

/// Remove the `direct` source only; memberships delivered by assignments stay.
#[utoipa::path(delete, path = "/groups/{id}/members/{userId}", tag = "directory",
    params(("id" = Uuid, Path), ("userId" = Uuid, Path)),
    responses((status = 403, body = Problem), (status = 204), (status = 404, body = Problem)))]
async fn remove_member(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, user)): ApiPath<(GroupId, UserId)>,
) -> Result<StatusCode, AppError> {
    services::groups::remove_member(state.pool(), &caller, id, user, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
