//! Access reviews in My Access: the reviews where the person reviews someone's
//! access, each item with its recommendation and the approve/deny buttons, and
//! "Accept all recommendations" at once.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::ids::{AccessReviewId, ReviewItemId};
use crate::domain::request::Decision;
use crate::domain::review::{ItemDecision, ReviewState};
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    PageError, PageResult, Params, Posted, SessionCaller, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Pager, when};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/reviews", get(list_reviews))
        .route("/t/{slug}/reviews/{id}", get(show_review))
        .route("/t/{slug}/reviews/{id}/decide", post(decide_item))
        .route("/t/{slug}/reviews/{id}/accept", post(accept_all))
}

struct ReviewRowView {
    href: String,
    package: String,
    state: Badge,
    period: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/reviews.html")]
struct ReviewsPage {
    shell: Shell,
    rows: Vec<ReviewRowView>,
    pager: Pager,
}

async fn list_reviews(State(state): State<AppState>, who: SessionCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let list = services::views::reviews::my_reviews(state.pool(), &who.caller, page).await?;
    let rows = list
        .items
        .iter()
        .map(|r| ReviewRowView {
            href: who.url(&format!("/reviews/{}", r.id)),
            package: list.names.package(r.package_id.0),
            state: Badge::state(r.state),
            period: format!("{} – {}", when(r.start_at), when(r.end_at)),
        })
        .collect();
    Ok(ReviewsPage {
        shell: who.shell("Access reviews", Section::Reviews),
        pager: Pager::new(&who.url("/reviews"), &page, list.next),
        rows,
    }
    .into_response())
}

struct ItemView {
    id: String,
    user: String,
    recommendation: String,
    decision: Badge,
    decided: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/review.html")]
struct ReviewPage {
    shell: Shell,
    slug: String,
    package: String,
    state: Badge,
    period: String,
    open: bool,
    require_justification: bool,
    decide: String,
    accept: String,
    items: Vec<ItemView>,
    recommendations: usize,
}

async fn show_review(
    State(state): State<AppState>,
    who: SessionCaller,
    Ids(id): Ids<AccessReviewId>,
) -> PageResult {
    let d = services::views::reviews::my_review(state.pool(), &who.caller, id).await?;
    let r = &d.review;
    let items: Vec<ItemView> = d
        .items
        .iter()
        .map(|i| ItemView {
            id: i.id.to_string(),
            user: d.names.user(i.target_user_id.0),
            recommendation: match i.recommendation {
                Some(Decision::Approve) => "Approve (signed in within 30 days)".into(),
                Some(Decision::Deny) => "Deny (no sign-in for 30 days)".into(),
                None => "None (sign-in unknown)".into(),
            },
            decision: Badge::state(i.decision),
            decided: i
                .decided_by
                .map(|u| format!("by {}", d.names.user(u.0)))
                .unwrap_or_default(),
        })
        .collect();
    let recommendations = d
        .items
        .iter()
        .filter(|i| i.decision == ItemDecision::NotReviewed && i.recommendation.is_some())
        .count();
    Ok(ReviewPage {
        shell: who.shell("Access review", Section::Reviews),
        slug: who.slug().to_string(),
        package: d.names.package(r.package_id.0),
        state: Badge::state(r.state),
        period: format!("{} – {}", when(r.start_at), when(r.end_at)),
        open: r.state == ReviewState::InProgress && r.end_at > state.now(),
        require_justification: r.require_justification,
        decide: who.url(&format!("/reviews/{id}/decide")),
        accept: who.url(&format!("/reviews/{id}/accept")),
        items,
        recommendations,
    }
    .into_response())
}

async fn decide_item(
    State(state): State<AppState>,
    Ids(id): Ids<AccessReviewId>,
    posted: Posted<SessionCaller>,
) -> PageResult {
    let who = &posted.who;
    let item: ReviewItemId = posted.form.id("item")?.ok_or_else(PageError::not_found)?;
    let Some(decision) = posted.form.get("decision").and_then(Decision::parse) else {
        return Err(PageError::bad_request("Choose Approve or Deny."));
    };
    services::reviews::decide_review_item(
        state.pool(),
        &who.caller,
        id,
        item,
        decision,
        posted.form.opt("justification"),
        state.now(),
    )
    .await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/reviews/{id}")),
        "Decision recorded.",
    ))
}

async fn accept_all(
    State(state): State<AppState>,
    Ids(id): Ids<AccessReviewId>,
    posted: Posted<SessionCaller>,
) -> PageResult {
    let who = &posted.who;
    let n = services::reviews::accept_recommendations(
        state.pool(),
        &who.caller,
        id,
        posted.form.opt("justification"),
        state.now(),
    )
    .await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/reviews/{id}")),
        &format!(
            "{n} recommendation{} accepted.",
            if n == 1 { "" } else { "s" }
        ),
    ))
}
