//! `POST /.search` at the SCIM root (RFC 7644 §3.4.3): Users, then Groups, one
//! ListResponse; the filter runs on each resource type whose attributes it names.

use axum::Router;
use axum::routing::post;

use super::call::{Body, Call};
use super::error::ScimResponse;
use super::query::ListQuery;
use super::{filters, list_response};
use crate::services::scim::{ResourceKind as Kind, filter_fits, groups, users};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/.search", post(search_all))
}

async fn search_all(call: Call, Body(body): Body) -> ScimResponse {
    let q = ListQuery::from_search(&body)?;
    let filter = filters::parse(q.filter.as_deref())?;
    let (dir, base) = (&call.dir, &call.base);
    let fits = |k| filter.as_ref().is_none_or(|f| filter_fits(k, f));
    let (with_users, with_groups) = (fits(Kind::Users), fits(Kind::Groups));
    let pool = call.state.pool();
    let offset = q.start_index - 1;
    let (mut total, mut items) = (0, Vec::new());
    if with_users || !with_groups {
        // When the filter fits neither, the Users list answers its invalidFilter.
        let (t, found) = users::list(pool, dir, filter.as_ref(), offset, q.count, base).await?;
        total += t;
        items.extend(found);
    }
    if with_groups {
        let users_total = total;
        let remaining = q.count - items.len() as i64;
        let (t, found) = groups::list(
            pool,
            dir,
            filter.as_ref(),
            (offset - users_total).max(0),
            remaining.max(0),
            q.wants("members"),
            base,
        )
        .await?;
        total += t;
        items.extend(found);
    }
    list_response(
        total,
        q.start_index,
        items.into_iter().map(|r| q.project(r)).collect(),
    )
}
