//! `/Groups`: list (filter, paging, attributes), create, read, replace, patch, delete.
//! `excludedAttributes=members` (what Entra ID asks) skips loading members at all.

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

use super::error::{ScimResponse, scim_json};
use super::query::ListQuery;
use super::{base_url, body_json, filters, list_response, no_content, resource};
use crate::services::scim::{Directory, groups};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/Groups", get(list_groups).post(create_group))
        .route("/Groups/.search", axum::routing::post(search_groups))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
}

async fn list_groups(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    RawQuery(query): RawQuery,
) -> ScimResponse {
    let q = ListQuery::parse(query.as_deref())?;
    answer_list(&state, &dir, q).await
}

/// `POST /Groups/.search`: a list whose parameters come in the body.
async fn search_groups(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResponse {
    let q = ListQuery::from_search(&body_json(&headers, &body)?)?;
    answer_list(&state, &dir, q).await
}

async fn answer_list(state: &AppState, dir: &Directory, q: ListQuery) -> ScimResponse {
    let base = base_url(state, &dir.tenant.slug);
    let filter = filters::parse(q.filter.as_deref())?;
    let (total, items) = groups::list(
        state.pool(),
        dir,
        filter.as_ref(),
        q.start_index - 1,
        q.count,
        q.wants("members"),
        &base,
    )
    .await?;
    list_response(
        total,
        q.start_index,
        items.into_iter().map(|r| q.project(r)).collect(),
    )
}

async fn create_group(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResponse {
    let body = body_json(&headers, &body)?;
    let base = base_url(&state, &dir.tenant.slug);
    let written = groups::create(state.pool(), &dir, &body, &base, state.now()).await?;
    Ok(resource(
        StatusCode::CREATED,
        &written.resource,
        written.counts,
    ))
}

async fn get_group(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ScimResponse {
    let q = ListQuery::parse(query.as_deref())?;
    let base = base_url(&state, &dir.tenant.slug);
    let found = groups::get(state.pool(), &dir, &id, q.wants("members"), &base).await?;
    Ok(scim_json(StatusCode::OK, &q.project(found)))
}

async fn replace_group(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResponse {
    let body = body_json(&headers, &body)?;
    let base = base_url(&state, &dir.tenant.slug);
    let written = groups::replace(state.pool(), &dir, &id, &body, &base, state.now()).await?;
    Ok(resource(StatusCode::OK, &written.resource, written.counts))
}

async fn patch_group(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResponse {
    let body = body_json(&headers, &body)?;
    let ops = super::filters::parse_patch(&body)?;
    let base = base_url(&state, &dir.tenant.slug);
    let needs_members = crate::services::scim::patching::needs_members(&ops);
    let plan = |current: &serde_json::Value, members: &[crate::domain::ids::UserId]| {
        crate::services::scim::patching::plan_group(current, members, &ops, &base)
    };
    let written = groups::patch(
        state.pool(),
        &dir,
        &id,
        &plan,
        needs_members,
        &base,
        state.now(),
    )
    .await?;
    Ok(resource(StatusCode::OK, &written.resource, written.counts))
}

async fn delete_group(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
) -> ScimResponse {
    let counts = groups::delete(state.pool(), &dir, &id, state.now()).await?;
    Ok(no_content(counts))
}
