//! Read models of access reviews for the requester portal: the instances where the
//! caller reviews an item, and one instance with the caller's items.

use sqlx::PgPool;
use uuid::Uuid;

use super::names::{Names, Wanted};
use crate::db::PageRequest;
use crate::db::reviews::{ItemRow, ReviewRow};
use crate::domain::ids::AccessReviewId;
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
