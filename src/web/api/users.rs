//! `/users`: the directory's people.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiQuery, Created, List, Pagination};
use crate::domain::ids::UserId;
use crate::domain::values::UserKind;
use crate::model::users::User as UserRow;
use crate::services;
use crate::services::users::UserFields;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, patch_user, delete_user))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub manager_id: Option<Uuid>,
    #[schema(value_type = UserKind)]
    pub kind: String,
    pub active: bool,
    pub external_id: Option<String>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// The IANA time zone the person reads the portals and emails in; null is the
    /// tenant's (the API's own times are always UTC).
    #[schema(example = "Europe/Berlin")]
    pub time_zone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id.0,
            email: u.email,
            display_name: u.display_name,
            department: u.department,
            job_title: u.job_title,
            manager_id: u.manager_id.map(|m| m.0),
            kind: u.kind.as_str().into(),
            active: u.active,
            external_id: u.external_id,
            last_sign_in_at: u.last_sign_in_at,
            time_zone: u.time_zone,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

crate::list_schema!(UserList, User);

/// Body of POST: what `UserBody` parses, with the fields a new user needs.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewUserBody {
    pub email: String,
    pub display_name: String,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub manager_id: Option<Uuid>,
    /// Default member.
    pub kind: Option<UserKind>,
    pub external_id: Option<String>,
    /// An IANA time zone name; absent or null is the tenant's.
    pub time_zone: Option<String>,
}

/// Body of PATCH: any field; null clears the optional ones.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    pub email: Option<String>,
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub manager_id: Option<Option<UserId>>,
    pub kind: Option<UserKind>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    /// PATCH only: false deactivates (as DELETE does), true reactivates.
    pub active: Option<bool>,
    /// An IANA time zone name such as `Europe/Berlin`; null is the tenant's. Anyone
    /// may PATCH this field alone on their own user.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub time_zone: Option<Option<String>>,
}

impl From<UserBody> for UserFields {
    fn from(b: UserBody) -> Self {
        Self {
            email: b.email,
            display_name: b.display_name,
            department: b.department,
            job_title: b.job_title,
            manager_id: b.manager_id,
            kind: b.kind,
            external_id: b.external_id,
            active: b.active,
            time_zone: b.time_zone,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Matches display name or email (case-insensitive, substring).
    pub search: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// Users of the tenant, newest first (members may search; guests may not).
#[utoipa::path(get, path = "/users", tag = "directory", params(UserQuery),
    responses((status = 200, body = UserList), (status = 403, body = Problem)))]
async fn list_users(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<List<User>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let users = services::users::list(state.pool(), &caller, q.search.as_deref(), page).await?;
    Ok(List::from_page(users, User::from))
}

/// Create a user (tenant admins). A user created through the API is active.
#[utoipa::path(post, path = "/users", tag = "directory", request_body = NewUserBody,
    responses((status = 409, body = Problem), (status = 201, body = User), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_user(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Created<User>, AppError> {
    let user = services::users::create(state.pool(), &caller, body.into(), state.now()).await?;
    Ok(Created(user.into()))
}

#[utoipa::path(get, path = "/users/{id}", tag = "directory", params(("id" = Uuid, Path)),
    responses((status = 403, body = Problem), (status = 200, body = User), (status = 404, body = Problem)))]
async fn get_user(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<User>, AppError> {
    Ok(Json(
        services::users::get(state.pool(), &caller, id)
            .await?
            .into(),
    ))
}

/// Change a user (tenant admins; anyone may PATCH their own `timeZone` alone); `active: false` deactivates.
#[utoipa::path(patch, path = "/users/{id}", tag = "directory", params(("id" = Uuid, Path)),
    request_body = UserBody,
    responses((status = 403, body = Problem), (status = 409, body = Problem), (status = 200, body = User), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn patch_user(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Json<User>, AppError> {
    let user = services::users::update(state.pool(), &caller, id, body.into(), state.now()).await?;
    Ok(Json(user.into()))
}

/// Deactivate a user: their assignments end, open requests are canceled, tokens and
/// links stop working. Users are never erased.
#[utoipa::path(delete, path = "/users/{id}", tag = "directory", params(("id" = Uuid, Path)),
    responses((status = 403, body = Problem), (status = 409, body = Problem), (status = 200, body = User), (status = 404, body = Problem)))]
async fn delete_user(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<UserId>,
) -> Result<(StatusCode, Json<User>), AppError> {
    let user = services::users::deactivate(state.pool(), &caller, id, state.now()).await?;
    Ok((StatusCode::OK, Json(user.into())))
}
