//! `/Users`: list (filter, paging, attributes), create, read, replace, patch, delete.

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::call::{Body, Call, created, written};
use super::error::{ScimResponse, scim_json};
use super::query::ListQuery;
use super::{filters, list_response, no_content};
use crate::services::scim::patching::apply_all;
use crate::services::scim::users;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", post(search_users))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
}

async fn list_users(call: Call, RawQuery(query): RawQuery) -> ScimResponse {
    answer_list(&call, ListQuery::parse(query.as_deref())?).await
}

/// `POST /Users/.search`: a list whose parameters come in the body.
async fn search_users(call: Call, Body(body): Body) -> ScimResponse {
    answer_list(&call, ListQuery::from_search(&body)?).await
}

async fn answer_list(call: &Call, q: ListQuery) -> ScimResponse {
    let filter = filters::parse(q.filter.as_deref())?;
    let (total, items) = users::list(
        call.state.pool(),
        &call.dir,
        filter.as_ref(),
        q.start_index - 1,
        q.count,
        &call.base,
    )
    .await?;
    list_response(
        total,
        q.start_index,
        items.into_iter().map(|r| q.project(r)).collect(),
    )
}

async fn create_user(call: Call, Body(body): Body) -> ScimResponse {
    let w = users::create(call.state.pool(), &call.dir, &body, &call.base, call.now()).await?;
    Ok(created(w))
}

async fn get_user(
    call: Call,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ScimResponse {
    let q = ListQuery::parse(query.as_deref())?;
    let found = users::get(call.state.pool(), &call.dir, &id, &call.base).await?;
    Ok(scim_json(StatusCode::OK, &q.project(found)))
}

async fn replace_user(
    call: Call,
    Path((_, id)): Path<(String, String)>,
    Body(body): Body,
) -> ScimResponse {
    let w = users::replace(
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

async fn patch_user(
    call: Call,
    Path((_, id)): Path<(String, String)>,
    Body(body): Body,
) -> ScimResponse {
    let ops = filters::parse_patch(&body)?;
    let apply = |doc: &mut serde_json::Value| apply_all(doc, &ops);
    let w = users::patch(
        call.state.pool(),
        &call.dir,
        &id,
        &apply,
        &call.base,
        call.now(),
    )
    .await?;
    Ok(written(w))
}

async fn delete_user(call: Call, Path((_, id)): Path<(String, String)>) -> ScimResponse {
    let counts = users::delete(call.state.pool(), &call.dir, &id, &call.base, call.now()).await?;
    Ok(no_content(counts))
}
