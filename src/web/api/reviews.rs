//! `/accessReviews`: review instances, their items, reviewers' decisions, and stopping
//! an instance early or applying its results.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiQuery, List, Pagination};
use crate::domain::ids::{AccessReviewId, PackageId, PolicyId, ReviewItemId};
use crate::domain::request::Decision;
use crate::domain::review::{AppliedResult, IfNoResponseValue, ItemDecision, ReviewState};
use crate::model::reviews::{ItemRow, ReviewRow};
use crate::services;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews))
        .routes(routes!(get_review))
        .routes(routes!(list_review_items))
        .routes(routes!(decide_review_item))
        .routes(routes!(stop_review))
        .routes(routes!(apply_review))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessReview {
    pub id: Uuid,
    pub access_package_id: Uuid,
    pub policy_id: Uuid,
    /// n: this instance covers [startDate + n × recurrence, + durationDays).
    pub period_index: i32,
    pub start_date_time: DateTime<Utc>,
    pub end_date_time: DateTime<Utc>,
    pub state: ReviewState,
    /// When reviewers with undecided items are (or were) reminded.
    pub remind_date_time: DateTime<Utc>,
    pub reminded_date_time: Option<DateTime<Utc>>,
    /// The policy's settings when this instance started.
    pub auto_apply: bool,
    pub if_no_response: IfNoResponseValue,
    pub require_justification: bool,
    pub stopped_early: bool,
    pub created_at: DateTime<Utc>,
    pub completed_date_time: Option<DateTime<Utc>>,
    pub applied_date_time: Option<DateTime<Utc>>,
}

impl From<ReviewRow> for AccessReview {
    fn from(r: ReviewRow) -> Self {
        Self {
            id: r.id.0,
            access_package_id: r.package_id.0,
            policy_id: r.policy_id.0,
            period_index: r.period_index,
            start_date_time: r.start_at,
            end_date_time: r.end_at,
            state: r.state,
            remind_date_time: r.remind_at,
            reminded_date_time: r.reminded_at,
            auto_apply: r.auto_apply,
            if_no_response: r.if_no_response,
            require_justification: r.require_justification,
            stopped_early: r.stopped_early,
            created_at: r.created_at,
            completed_date_time: r.completed_at,
            applied_date_time: r.applied_at,
        }
    }
}

crate::list_schema!(AccessReviewList, AccessReview);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessReviewItem {
    pub id: Uuid,
    pub access_review_id: Uuid,
    pub assignment_id: Uuid,
    pub target_user_id: Uuid,
    pub reviewer_ids: Vec<Uuid>,
    /// From the target user's last sign-in; null when there is none to make.
    pub recommendation: Option<Decision>,
    /// The last decision counts.
    pub decision: ItemDecision,
    pub justification: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Set once the results are applied.
    pub applied_result: Option<AppliedResult>,
}

impl From<ItemRow> for AccessReviewItem {
    fn from(i: ItemRow) -> Self {
        Self {
            id: i.id.0,
            access_review_id: i.review_id.0,
            assignment_id: i.assignment_id.0,
            target_user_id: i.target_user_id.0,
            reviewer_ids: i.reviewer_ids,
            recommendation: i.recommendation,
            decision: i.decision,
            justification: i.justification,
            decided_by: i.decided_by.map(|u| u.0),
            decided_at: i.decided_at,
            applied_result: i.applied_result,
        }
    }
}

crate::list_schema!(AccessReviewItemList, AccessReviewItem);

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ReviewQuery {
    #[param(value_type = Option<ReviewState>)]
    pub state: Option<String>,
    pub access_package_id: Option<Uuid>,
    pub policy_id: Option<Uuid>,
    /// Only instances where the caller reviews an item.
    pub mine: Option<bool>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// Review instances the caller may see (tenant admins, roles in the package's catalog,
/// reviewers), newest first.
#[utoipa::path(get, path = "/accessReviews", tag = "reviews", params(ReviewQuery),
    responses((status = 200, body = AccessReviewList), (status = 422, body = Problem)))]
async fn list_reviews(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<ReviewQuery>,
) -> Result<List<AccessReview>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let query = services::reviews::ListQuery {
        state: q.state.as_deref(),
        package: q.access_package_id.map(PackageId),
        policy: q.policy_id.map(PolicyId),
        mine: q.mine.unwrap_or(false),
    };
    let page = services::reviews::list(state.pool(), &caller, query, page).await?;
    Ok(List::from_page(page, AccessReview::from))
}

#[utoipa::path(get, path = "/accessReviews/{id}", tag = "reviews", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccessReview), (status = 404, body = Problem)))]
async fn get_review(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<AccessReviewId>,
) -> Result<Json<AccessReview>, AppError> {
    Ok(Json(
        services::reviews::get(state.pool(), &caller, id)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// Only the items the caller reviews (reviewers without a catalog role see only
    /// theirs anyway).
    pub mine: Option<bool>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// Items of an instance: one per assignment that was active when it started.
#[utoipa::path(get, path = "/accessReviews/{id}/items", tag = "reviews", params(("id" = Uuid, Path), ItemQuery),
    responses((status = 200, body = AccessReviewItemList), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_review_items(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<AccessReviewId>,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> Result<List<AccessReviewItem>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let page =
        services::reviews::items(state.pool(), &caller, id, q.mine.unwrap_or(false), page).await?;
    Ok(List::from_page(page, AccessReviewItem::from))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDecisionBody {
    pub decision: Decision,
    /// Required when the review says so.
    pub justification: Option<String>,
}

/// Decide an item (its reviewers only); a later decision replaces an earlier one until
/// the end; 409 once the review has ended.
#[utoipa::path(post, path = "/accessReviews/{id}/items/{itemId}/decision", tag = "reviews",
    params(("id" = Uuid, Path), ("itemId" = Uuid, Path)), request_body = ReviewDecisionBody,
    responses((status = 200, body = AccessReviewItem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn decide_review_item(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath((id, item)): ApiPath<(AccessReviewId, ReviewItemId)>,
    ApiJson(body): ApiJson<ReviewDecisionBody>,
) -> Result<Json<AccessReviewItem>, AppError> {
    let item = services::reviews::decide(
        state.pool(),
        &caller,
        id,
        item,
        body.decision,
        body.justification,
        state.now(),
    )
    .await?;
    Ok(Json(item.into()))
}

/// End an instance early (tenant admins, the catalog's owners and assignment managers);
/// with `autoApply` its results are applied at once.
#[utoipa::path(post, path = "/accessReviews/{id}/stop", tag = "reviews", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccessReview), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
async fn stop_review(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<AccessReviewId>,
) -> Result<Json<AccessReview>, AppError> {
    Ok(Json(
        services::reviews::stop(state.pool(), &caller, id, state.now())
            .await?
            .into(),
    ))
}

/// Apply the results of a completed instance whose review does not apply them
/// automatically: each deny (and each unanswered item, per `ifNoResponse`) removes the
/// assignment with reason `review`. 409 while in progress or once applied.
#[utoipa::path(post, path = "/accessReviews/{id}/apply", tag = "reviews", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccessReview), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
async fn apply_review(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<AccessReviewId>,
) -> Result<Json<AccessReview>, AppError> {
    Ok(Json(
        services::reviews::apply(state.pool(), &caller, id, state.now())
            .await?
            .into(),
    ))
}
