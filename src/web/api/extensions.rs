//! `/catalogs/{id}/customExtensions`, `/customExtensions/{id}` (INTEGRATIONS.md §4) and
//! the callback that resumes a request an extension holds,
//! `/assignmentRequests/{id}/resume`, which takes no bearer token: the single-use
//! callback token sent with the call is its credential. An extension's secret is
//! accepted on the way in and never shown on the way out (`secretSet`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::requests::Request;
use super::{ApiJson, ApiPath, ApiQuery, Created, List, Pagination};
use crate::domain::extension::{CallbackOutcome, ExtensionBehavior};
use crate::domain::ids::{CatalogId, ExtensionId, RequestId};
use crate::model::extensions::ExtensionRow;
use crate::services;
use crate::services::extensions::ExtensionInput;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_extensions, create_extension))
        .routes(routes!(get_extension, put_extension, delete_extension))
        .routes(routes!(resume_request))
}

/// A custom extension of a catalog.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomExtension {
    pub id: Uuid,
    pub catalog_id: Uuid,
    pub display_name: String,
    pub url: String,
    /// Write-only: whether a signing secret is set (always true).
    pub secret_set: bool,
    pub behavior: ExtensionBehavior,
    /// 1 to 1440.
    pub timeout_minutes: i32,
    pub on_timeout: CallbackOutcome,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ExtensionRow> for CustomExtension {
    fn from(e: ExtensionRow) -> Self {
        Self {
            id: e.id.0,
            catalog_id: e.catalog_id.0,
            display_name: e.display_name,
            url: e.url,
            secret_set: true,
            behavior: e.behavior,
            timeout_minutes: e.timeout_minutes,
            on_timeout: e.on_timeout,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

crate::list_schema!(CustomExtensionList, CustomExtension);

/// Body of POST and PUT. On PUT a missing or empty `secret` keeps the stored one.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomExtensionBody {
    pub display_name: Option<String>,
    pub url: Option<String>,
    /// Signing secret (at least 16 characters; `whsec_<base64>` is decoded).
    pub secret: Option<String>,
    pub behavior: Option<ExtensionBehavior>,
    pub timeout_minutes: Option<i64>,
    pub on_timeout: Option<CallbackOutcome>,
}

impl From<CustomExtensionBody> for ExtensionInput {
    fn from(b: CustomExtensionBody) -> Self {
        Self {
            display_name: b.display_name,
            url: b.url,
            secret: b.secret,
            behavior: b.behavior,
            timeout_minutes: b.timeout_minutes,
            on_timeout: b.on_timeout,
        }
    }
}

/// Custom extensions of a catalog (anyone holding a role in the catalog).
#[utoipa::path(get, path = "/catalogs/{id}/customExtensions", tag = "customExtensions", params(("id" = Uuid, Path), Pagination),
    responses((status = 200, body = CustomExtensionList), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn list_extensions(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<CatalogId>,
    ApiQuery(p): ApiQuery<Pagination>,
) -> Result<List<CustomExtension>, AppError> {
    let page = services::extensions::list(state.pool(), &caller, id, p.page()?).await?;
    Ok(List::from_page(page, CustomExtension::from))
}

/// Add a custom extension to a catalog (tenant admins and the catalog's owners). The
/// URL follows the webhook address rule.
#[utoipa::path(post, path = "/catalogs/{id}/customExtensions", tag = "customExtensions", params(("id" = Uuid, Path)),
    request_body = CustomExtensionBody,
    responses((status = 201, body = CustomExtension), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_extension(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<CatalogId>,
    ApiJson(body): ApiJson<CustomExtensionBody>,
) -> Result<Created<CustomExtension>, AppError> {
    let e = services::extensions::create(
        state.pool(),
        &caller,
        id,
        body.into(),
        state.settings().webhook_allow_private,
        state.keys(),
        state.now(),
    )
    .await?;
    Ok(Created(e.into()))
}

#[utoipa::path(get, path = "/customExtensions/{id}", tag = "customExtensions", params(("id" = Uuid, Path)),
    responses((status = 200, body = CustomExtension), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_extension(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<ExtensionId>,
) -> Result<Json<CustomExtension>, AppError> {
    Ok(Json(
        services::extensions::get(state.pool(), &caller, id)
            .await?
            .into(),
    ))
}

/// Replace a custom extension (tenant admins and the catalog's owners); an empty
/// secret keeps the stored one. A waiting behavior is refused (422) while a policy
/// calls the extension at a stage with no request to hold.
#[utoipa::path(put, path = "/customExtensions/{id}", tag = "customExtensions", params(("id" = Uuid, Path)),
    request_body = CustomExtensionBody,
    responses((status = 200, body = CustomExtension), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn put_extension(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<ExtensionId>,
    ApiJson(body): ApiJson<CustomExtensionBody>,
) -> Result<Json<CustomExtension>, AppError> {
    let e = services::extensions::update(
        state.pool(),
        &caller,
        id,
        body.into(),
        state.settings().webhook_allow_private,
        state.keys(),
        state.now(),
    )
    .await?;
    Ok(Json(e.into()))
}

/// Delete a custom extension (409 naming the policies that call it).
#[utoipa::path(delete, path = "/customExtensions/{id}", tag = "customExtensions", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_extension(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<ExtensionId>,
) -> Result<StatusCode, AppError> {
    services::extensions::delete(state.pool(), &caller, id, state.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of a callback.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResumeBody {
    /// The `callbackToken` of the extension call (single-use).
    pub callback_token: String,
    pub outcome: CallbackOutcome,
    /// Shown in the request's history (at most 1000 characters).
    pub message: Option<String>,
}

/// Resume a request a custom extension holds (`waitingForCallback`): `continue` goes on
/// as if it had not been held, `deny` denies it. No bearer token: the call's
/// `callbackToken` authenticates (401 when unknown or another request's; 409 when
/// already used or the request no longer waits).
#[utoipa::path(post, path = "/assignmentRequests/{id}/resume", tag = "requests", params(("id" = Uuid, Path)),
    request_body = ResumeBody, security(()),
    responses((status = 200, body = Request), (status = 401, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn resume_request(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<RequestId>,
    ApiJson(body): ApiJson<ResumeBody>,
) -> Result<Json<Request>, AppError> {
    let view = services::requests::resume(
        state.pool(),
        id,
        &body.callback_token,
        body.outcome,
        body.message.as_deref(),
        state.now(),
    )
    .await?;
    Ok(Json(view.into()))
}
