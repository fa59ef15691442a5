//! Access reviews as the admin portal shows them: the instances of the catalogs where
//! the caller holds a role with their progress, one instance's results (progress by
//! reviewer, every item), reminding its silent reviewers now, and every item for an
//! export of the results.
//!
//! Invariant: these pages show what a catalog role may see (tenant admins: everything);
//! being a reviewer of an item gives nothing here (reviewers decide in the requester
//! portal), and only who manages the catalog's assignments may remind.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::{Access, access, not_found};
use crate::db::reviews::{ItemRow, ProgressRow, ReviewFilter, ReviewRow, ReviewerProgressRow};
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::{AccessReviewId, CatalogId, PackageId, UserId};
use crate::domain::review::{self, ReviewState};
use crate::services::notify::{self, Notice};
use crate::services::tx::Work;
use crate::services::{Caller, ServiceError, ServiceResult};

/// Filters of the admin review list.
#[derive(Clone, Copy, Debug, Default)]
pub struct AdminQuery {
    pub state: Option<ReviewState>,
    pub package: Option<PackageId>,
}

/// A page of instances with each one's progress, and the packages that have any
/// instance the caller may see (for the package filter).
#[derive(Debug)]
pub struct Overview {
    pub reviews: Page<(ReviewRow, ProgressRow)>,
    pub packages: Vec<PackageId>,
}

/// The catalogs whose instances the caller sees here: `None` for tenant admins (all),
/// else those where they hold a role; 403 for someone with neither.
fn visible_catalogs(caller: &Caller) -> ServiceResult<Option<Vec<CatalogId>>> {
    if caller.roles.is_tenant_admin() {
        return Ok(None);
    }
    let catalogs: Vec<CatalogId> = caller
        .roles
        .catalogs()
        .filter(|c| caller.roles.allows(Action::ReadCatalog(*c)))
        .collect();
    if catalogs.is_empty() {
        return Err(DomainError::forbidden(
            "You may not see access reviews here (tenant admins and the roles of a catalog only).",
        )
        .into());
    }
    Ok(Some(catalogs))
}

/// Instances of the catalogs where the caller holds a role (all for tenant admins),
/// newest first, each with its decided and undecided items.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn overview(
    pool: &PgPool,
    caller: &Caller,
    q: AdminQuery,
    page: PageRequest,
) -> ServiceResult<Overview> {
    let tenant = caller.tenant_id();
    let catalogs = visible_catalogs(caller)?;
    let filter = ReviewFilter {
        state: q.state,
        package: q.package,
        catalogs: catalogs.as_deref(),
        ..Default::default()
    };
    let mut conn = pool.acquire().await?;
    let found = db::reviews::list(&mut conn, tenant, &filter, page).await?;
    let ids: Vec<AccessReviewId> = found.items.iter().map(|r| r.id).collect();
    let progress = db::reviews::progress(&mut conn, tenant, &ids).await?;
    let packages = db::reviews::reviewed_packages(&mut conn, tenant, catalogs.as_deref()).await?;
    let items = found
        .items
        .into_iter()
        .map(|r| {
            let p = progress
                .iter()
                .find(|p| p.review_id == r.id)
                .copied()
                .unwrap_or(ProgressRow {
                    review_id: r.id,
                    ..Default::default()
                });
            (r, p)
        })
        .collect();
    Ok(Overview {
        reviews: Page {
            items,
            next: found.next,
        },
        packages,
    })
}

/// One instance with everything its results page shows.
#[derive(Debug)]
pub struct Results {
    pub review: ReviewRow,
    /// Whether the caller may stop it, apply it and remind its reviewers.
    pub may_manage: bool,
    pub progress: ProgressRow,
    pub reviewers: Vec<ReviewerProgressRow>,
    pub items: Page<ItemRow>,
    /// When its reviewers were last reminded.
    pub last_reminded: Option<DateTime<Utc>>,
}

/// The instance, if the caller holds a role in its catalog (or is a tenant admin): 404
/// when they may not see it at all, 403 when they only review items of it.
async fn readable(
    conn: &mut Conn,
    caller: &Caller,
    id: AccessReviewId,
) -> ServiceResult<(ReviewRow, Access)> {
    let r = db::reviews::get(conn, caller.tenant_id(), id)
        .await?
        .ok_or_else(not_found)?;
    match access(conn, caller, &r).await?.0 {
        Access::None => Err(not_found()),
        Access::Reviewer => Err(DomainError::forbidden(
            "You review items of this access review but hold no role in its catalog: decide them under Access reviews in My Access.",
        )
        .into()),
        a => Ok((r, a)),
    }
}

/// An instance's progress (overall and by reviewer) and a page of its items.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn results(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    page: PageRequest,
) -> ServiceResult<Results> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let (review, access) = readable(&mut conn, caller, id).await?;
    let progress = db::reviews::progress(&mut conn, tenant, &[id])
        .await?
        .into_iter()
        .next()
        .unwrap_or(ProgressRow {
            review_id: id,
            ..Default::default()
        });
    let reviewers = db::reviews::reviewer_progress(&mut conn, tenant, id).await?;
    let items = db::reviews::items(&mut conn, tenant, id, None, page).await?;
    let last_reminded = db::reviews::last_reminded(&mut conn, tenant, id).await?;
    Ok(Results {
        review,
        may_manage: access == Access::Manage,
        progress,
        reviewers,
        items,
        last_reminded,
    })
}

/// Every item of an instance, oldest first, for an export of its results.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn results_for_export(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
) -> ServiceResult<(ReviewRow, Vec<ItemRow>)> {
    let mut conn = pool.acquire().await?;
    let (review, _) = readable(&mut conn, caller, id).await?;
    let items = db::reviews::all_items(&mut conn, caller.tenant_id(), id).await?;
    Ok((review, items))
}

/// Emails, now, every active reviewer who still has an undecided item of an instance
/// in progress (tenant admins and who manages the catalog's assignments); the number
/// of reviewers reminded. The scheduled reminder before the end is sent all the same.
/// 409 once the instance has ended, when every item is decided, and within an hour of
/// the last reminder.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn remind_now(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    now: DateTime<Utc>,
) -> ServiceResult<usize> {
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, tenant, now).await?;
    // Shared: a concurrent stop or close waits, and a reminder never follows an end.
    let r = db::reviews::lock_shared(work.conn(), tenant, id)
        .await?
        .ok_or_else(not_found)?;
    let (access, catalog) = access(work.conn(), caller, &r).await?;
    if access == Access::None {
        return Err(not_found());
    }
    let permit = caller.require(Action::ManageAssignments(catalog))?;
    if r.state != ReviewState::InProgress || now >= r.end_at {
        return Err(conflict(
            "This access review has ended: there is nobody left to remind.",
        ));
    }
    let undecided = db::reviews::undecided_reviewers(work.conn(), tenant, id).await?;
    let reviewers: Vec<UserId> = db::users::get_many(work.conn(), tenant, &undecided)
        .await?
        .into_iter()
        .filter(|u| u.active)
        .map(|u| u.id)
        .collect();
    if !undecided.is_empty() {
        let last = db::reviews::last_reminded(work.conn(), tenant, id).await?;
        review::check_remind_again(last, now)?;
    }
    if reviewers.is_empty() {
        return Err(conflict(if undecided.is_empty() {
            "Every item of this access review is decided: there is nobody to remind."
        } else {
            "The reviewers of the undecided items are all deactivated: there is nobody to remind."
        }));
    }
    for reviewer in &reviewers {
        notify::enqueue(
            work.conn(),
            tenant,
            *reviewer,
            &Notice::ReviewReminder { review_id: id.0 },
            now,
        )
        .await?;
    }
    work.audit(
        AuditAction::ReviewReminded,
        Target::AccessReview(id),
        json!({"reviewerIds": reviewers, "requested": true}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(reviewers.len())
}

fn conflict(message: &str) -> ServiceError {
    DomainError::conflict(message).into()
}
