//! `/tenant/config`: configuration as code through the API (INTEGRATIONS.md §6). The
//! document is the one `portico export` writes, as JSON.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiQuery};
use crate::services::{self, config::Document, config::Env, config::Plan};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_config))
        .routes(routes!(plan_config))
        .routes(routes!(apply_config))
}

#[derive(Deserialize, IntoParams, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApplyQuery {
    /// Delete what the document leaves out.
    #[serde(default)]
    pub prune: bool,
}

/// The tenant's configuration (tenant admins): catalogs, resources, connectors
/// without secrets, custom extensions, packages, policies and role assignments. JSON
/// is YAML too: the answer can be kept as it is and applied again.
#[utoipa::path(get, path = "/tenant/config", tag = "tenant",
    responses((status = 200, body = Document), (status = 403, body = Problem)))]
async fn get_config(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Document>, AppError> {
    Ok(Json(services::config::export(state.pool(), &caller).await?))
}

fn env(state: &AppState) -> Env<'_> {
    Env {
        keys: state.keys(),
        allow_private: state.settings().webhook_allow_private,
        now: state.now(),
    }
}

/// Checks the document whole and lists what applying it would create, update and
/// (with `prune`) delete; changes nothing. 422 names every wrong field by its path.
#[utoipa::path(post, path = "/tenant/config/plan", tag = "tenant", params(ApplyQuery),
    request_body = Document,
    responses((status = 200, body = Plan), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn plan_config(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<ApplyQuery>,
    ApiJson(doc): ApiJson<Document>,
) -> Result<Json<Plan>, AppError> {
    let plan = services::config::plan(state.pool(), &caller, env(&state), &doc, q.prune).await?;
    Ok(Json(plan))
}

/// Applies the document in one transaction (nothing is written when any part is
/// wrong: 422 names every wrong field by its path); answers with the changes made.
/// Applying the same document again changes nothing.
#[utoipa::path(post, path = "/tenant/config/apply", tag = "tenant", params(ApplyQuery),
    request_body = Document,
    responses((status = 200, body = Plan), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn apply_config(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<ApplyQuery>,
    ApiJson(doc): ApiJson<Document>,
) -> Result<Json<Plan>, AppError> {
    let plan = services::config::apply(state.pool(), &caller, env(&state), &doc, q.prune).await?;
    Ok(Json(plan))
}
