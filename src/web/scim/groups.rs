//! `/Groups`: list (filter, paging, attributes), create, read, replace, patch, delete.
//! `excludedAttributes=members` (what Entra ID asks) skips loading members at all.

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::call::{Body, Call, created, written};
use super::error::{ScimResponse, scim_json};
use super::query::ListQuery;
use super::{filters, list_response, no_content};
use crate::domain::ids::UserId;
use crate::services::scim::groups;
use crate::services::scim::patching::{needs_members, plan_group};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", post(search_groups))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
}

async fn list_groups(call: Call, RawQuery(query): RawQuery) -> ScimResponse {
    answer_list(&call, ListQuery::parse(query.as_deref())?).await
}

/// `POST /Groups/.search`: a list whose parameters come in the body.
async fn search_groups(call: Call, Body(body): Body) -> ScimResponse {
    answer_list(&call, ListQuery::from_search(&body)?).await
}

async fn answer_list(call: &Call, q: ListQuery) -> ScimResponse {
    let filter = filters::parse(q.filter.as_deref())?;
    let (total, items) = groups::list(
        call.state.pool(),
        &call.dir,
        filter.as_ref(),
        q.start_index - 1,
        q.count,
        q.wants("members"),
        &call.base,
    )
    .await?;
    list_response(
        total,
        q.start_index,
        items.into_iter().map(|r| q.project(r)).collect(),
    )
}

async fn create_group(call: Call, Body(body): Body) -> ScimResponse {
    let w = groups::create(call.state.pool(), &call.dir, &body, &call.base, call.now()).await?;
    Ok(created(w))
}

async fn get_group(
    call: Call,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ScimResponse {
    let q = ListQuery::parse(query.as_deref())?;
    let found = groups::get(
        call.state.pool(),
        &call.dir,
        &id,
        q.wants("members"),
        &call.base,
    )
    .await?;
    Ok(scim_json(StatusCode::OK, &q.project(found)))
}

async fn replace_group(
    call: Call,
    Path((_, id)): Path<(String, String)>,
    Body(body): Body,
) -> ScimResponse {
    let w = groups::replace(
        call.state.pool(),
        &call.dir,
        &id,
        &body,
        &call.base,
        call.now(),
    )
    .await?;
    Ok(written(w))
}

async fn patch_group(
    call: Call,
    Path((_, id)): Path<(String, String)>,
    Body(body): Body,
) -> ScimResponse {
    let ops = filters::parse_patch(&body)?;
    let plan = |current: &serde_json::Value, members: &[UserId]| {
        plan_group(current, members, &ops, &call.base)
    };
    let w = groups::patch(
        call.state.pool(),
        &call.dir,
        &id,
        &plan,
        needs_members(&ops),
        &call.base,
        call.now(),
    )
    .await?;
    Ok(written(w))
}

async fn delete_group(call: Call, Path((_, id)): Path<(String, String)>) -> ScimResponse {
    let counts = groups::delete(call.state.pool(), &call.dir, &id, call.now()).await?;
    Ok(no_content(counts))
}
