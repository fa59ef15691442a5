//! Read models of access reviews: for the requester portal, the instances where the
//! caller reviews an item and one instance with the caller's items; for the admin
//! portal, the instances with their progress, one instance's results, and its results
//! as rows of text for an export.

use sqlx::PgPool;
use uuid::Uuid;

use super::names::{Names, Wanted};
use crate::db::PageRequest;
use crate::db::reviews::{ItemRow, ReviewRow};
use crate::domain::ids::AccessReviewId;
use crate::domain::request::Decision;
use crate::domain::review::{AppliedResult, ItemDecision};
use crate::services::reviews::{AdminQuery, Overview, Results};
use crate::services::{Caller, ServiceResult, reviews};

/// Review instances where the caller reviews an item.
pub struct ReviewList {
    pub items: Vec<ReviewRow>,
    pub next: Option<Uuid>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn my_reviews(
    pool: &PgPool,
    caller: &Caller,
    page: PageRequest,
) -> ServiceResult<ReviewList> {
    let found = reviews::list(
        pool,
        caller,
        reviews::ListQuery {
            mine: true,
            ..Default::default()
        },
        page,
    )
    .await?;
    let mut wanted = Wanted::default();
    for r in &found.items {
        wanted.package(r.package_id.0);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(ReviewList {
        items: found.items,
        next: found.next,
        names,
    })
}

/// One review instance with the caller's items.
pub struct ReviewDetail {
    pub review: ReviewRow,
    pub items: Vec<ItemRow>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn my_review(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
) -> ServiceResult<ReviewDetail> {
    let (review, items) = reviews::my_items(pool, caller, id).await?;
    let mut wanted = Wanted::default();
    wanted.package(review.package_id.0);
    for i in &items {
        wanted.user(i.target_user_id.0);
        if let Some(u) = i.decided_by {
            wanted.user(u.0);
        }
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(ReviewDetail {
        review,
        items,
        names,
    })
}

// ---------------------------------------------------------------------------------
// Admin portal

/// Instances with their progress, and the names of their packages and policies.
pub struct AdminReviewList {
    pub overview: Overview,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn admin_reviews(
    pool: &PgPool,
    caller: &Caller,
    q: AdminQuery,
    page: PageRequest,
) -> ServiceResult<AdminReviewList> {
    let overview = reviews::overview(pool, caller, q, page).await?;
    let mut wanted = Wanted::default();
    for p in &overview.packages {
        wanted.package(p.0);
    }
    for (r, _) in &overview.reviews.items {
        wanted.package(r.package_id.0);
        wanted.policy(r.policy_id);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(AdminReviewList { overview, names })
}

/// One instance's results with the names of its package, policy and people.
pub struct AdminReview {
    pub results: Results,
    pub names: Names,
}

fn item_people(wanted: &mut Wanted, i: &ItemRow) {
    wanted.user(i.target_user_id.0);
    for r in &i.reviewer_ids {
        wanted.user(*r);
    }
    if let Some(u) = i.decided_by {
        wanted.user(u.0);
    }
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn admin_review(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    page: PageRequest,
) -> ServiceResult<AdminReview> {
    let results = reviews::results(pool, caller, id, page).await?;
    let mut wanted = Wanted::default();
    wanted.package(results.review.package_id.0);
    wanted.policy(results.review.policy_id);
    for r in &results.reviewers {
        wanted.user(r.reviewer_id);
    }
    for i in &results.items.items {
        item_people(&mut wanted, i);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(AdminReview { results, names })
}

/// The headings of an exported review's rows.
pub const RESULT_HEADINGS: [&str; 12] = [
    "Holder",
    "Holder email",
    "Decision",
    "Decided by",
    "Decided by email",
    "Decided at (UTC)",
    "Justification",
    "Recommendation",
    "Result",
    "Reviewers",
    "Assignment ID",
    "Item ID",
];

/// An instance's results as text: one row per item, in the order of `RESULT_HEADINGS`.
pub struct ExportedResults {
    pub review: ReviewRow,
    pub package: String,
    pub rows: Vec<[String; 12]>,
}

/// How a decision reads in the results.
pub fn decision_text(d: ItemDecision) -> &'static str {
    match d {
        ItemDecision::NotReviewed => "Not reviewed",
        ItemDecision::Approve => "Approve",
        ItemDecision::Deny => "Deny",
    }
}

/// How a recommendation reads in the results.
pub fn recommendation_text(r: Option<Decision>) -> &'static str {
    match r {
        Some(Decision::Approve) => "Approve",
        Some(Decision::Deny) => "Deny",
        None => "None",
    }
}

/// What applying the results did to an item's assignment, if they are applied.
pub fn result_text(r: Option<AppliedResult>) -> &'static str {
    match r {
        None => "Not applied",
        Some(AppliedResult::Kept) => "Kept",
        Some(AppliedResult::Removed) => "Removed",
        Some(AppliedResult::AlreadyEnded) => "Already ended",
    }
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn exported_results(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
) -> ServiceResult<ExportedResults> {
    let (review, items) = reviews::results_for_export(pool, caller, id).await?;
    let mut wanted = Wanted::default();
    wanted.package(review.package_id.0);
    for i in &items {
        item_people(&mut wanted, i);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    let rows = items
        .iter()
        .map(|i| {
            let reviewers: Vec<String> = i
                .reviewer_ids
                .iter()
                .map(|r| names.user_email(*r))
                .collect();
            [
                names.user(i.target_user_id.0),
                names.user_email(i.target_user_id.0),
                decision_text(i.decision).to_string(),
                i.decided_by.map(|u| names.user(u.0)).unwrap_or_default(),
                i.decided_by
                    .map(|u| names.user_email(u.0))
                    .unwrap_or_default(),
                i.decided_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
                i.justification.clone().unwrap_or_default(),
                recommendation_text(i.recommendation).to_string(),
                result_text(i.applied_result).to_string(),
                reviewers.join("; "),
                i.assignment_id.to_string(),
                i.id.to_string(),
            ]
        })
        .collect();
    Ok(ExportedResults {
        package: names.package(review.package_id.0),
        review,
        rows,
    })
}
