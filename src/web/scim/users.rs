//! `/Users`: list (filter, paging, attributes), create, read, replace, patch, delete.

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

use super::error::{ScimResponse, scim_json};
use super::query::ListQuery;
use super::{base_url, body_json, filters, list_response, no_content, resource};
use crate::services::scim::{Directory, users};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", axum::routing::post(search_users))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
}

async fn list_users(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    RawQuery(query): RawQuery,
) -> ScimResponse {
    let q = ListQuery::parse(query.as_deref())?;
    answer_list(&state, &dir, q).await
}

/// `POST /Users/.search`: a list whose parameters come in the body.
async fn search_users(
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
    let (total, items) = users::list(
        state.pool(),
        dir,
        filter.as_ref(),
        q.start_index - 1,
        q.count,
        &base,
    )
    .await?;
    list_response(
        total,
        q.start_index,
        items.into_iter().map(|r| q.project(r)).collect(),
    )
}

async fn create_user(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResponse {
    let body = body_json(&headers, &body)?;
    let base = base_url(&state, &dir.tenant.slug);
    let written = users::create(state.pool(), &dir, &body, &base, state.now()).await?;
    Ok(resource(
        StatusCode::CREATED,
        &written.resource,
        written.counts,
    ))
}

async fn get_user(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ScimResponse {
    let q = ListQuery::parse(query.as_deref())?;
    let base = base_url(&state, &dir.tenant.slug);
    let found = users::get(state.pool(), &dir, &id, &base).await?;
    Ok(scim_json(StatusCode::OK, &q.project(found)))
}

async fn replace_user(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResponse {
    let body = body_json(&headers, &body)?;
    let base = base_url(&state, &dir.tenant.slug);
    let written = users::replace(state.pool(), &dir, &id, &body, &base, state.now()).await?;
    Ok(resource(StatusCode::OK, &written.resource, written.counts))
}

async fn patch_user(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResponse {
    let body = body_json(&headers, &body)?;
    let ops = super::filters::parse_patch(&body)?;
    let base = base_url(&state, &dir.tenant.slug);
    let apply = |doc: &mut serde_json::Value| crate::services::scim::patching::apply_all(doc, &ops);
    let written = users::patch(state.pool(), &dir, &id, &apply, &base, state.now()).await?;
    Ok(resource(StatusCode::OK, &written.resource, written.counts))
}

async fn delete_user(
    State(state): State<AppState>,
    Extension(dir): Extension<Directory>,
    Path((_, id)): Path<(String, String)>,
) -> ScimResponse {
    let base = base_url(&state, &dir.tenant.slug);
    let counts = users::delete(state.pool(), &dir, &id, &base, state.now()).await?;
    Ok(no_content(counts))
}
