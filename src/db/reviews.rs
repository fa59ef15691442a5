//! Access review instances and their items. Jobs claim instances with
//! `FOR UPDATE SKIP LOCKED`; an instance is unique per (policy, period), so a second
//! replica's insert of the same instance does nothing.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::packages::Policy;
use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::ids::{
    AccessReviewId, CatalogId, PackageId, PolicyId, ReviewItemId, TenantId, UserId,
};
use crate::domain::review::ReviewState;
pub use crate::model::reviews::{ItemRow, ProgressRow, ReviewRow, ReviewerProgressRow};

mod bulk;
pub use bulk::{
    ItemFacts, applied_counts, due_to_finish_applying, insert_item_events, insert_items,
    item_facts_of_policy, lock_assignments, lock_completed, lock_unapplied_items,
    remove_assignments, set_applied_results,
};

const COLUMNS: &str = "tenant_id, id, package_id, policy_id, period_index, start_at, end_at, remind_at, state, auto_apply,
    if_no_response, require_justification, stopped_early, reminded_at, created_at, completed_at, applied_at";

/// Inserts an instance unless one exists for its (policy, period); `false` when it did.
pub async fn insert(conn: &mut Conn, r: &ReviewRow) -> DbResult<bool> {
    let done = sqlx::query(
        "insert into access_reviews (tenant_id, id, package_id, policy_id, period_index, start_at, end_at, remind_at, state,
             auto_apply, if_no_response, require_justification, stopped_early, reminded_at, created_at, completed_at, applied_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         on conflict on constraint access_reviews_period_key do nothing",
    )
    .bind(r.tenant_id)
    .bind(r.id)
    .bind(r.package_id)
    .bind(r.policy_id)
    .bind(r.period_index)
    .bind(r.start_at)
    .bind(r.end_at)
    .bind(r.remind_at)
    .bind(r.state)
    .bind(r.auto_apply)
    .bind(r.if_no_response)
    .bind(r.require_justification)
    .bind(r.stopped_early)
    .bind(r.reminded_at)
    .bind(r.created_at)
    .bind(r.completed_at)
    .bind(r.applied_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes the mutable part of an instance: state, early stop, reminder, completion.
pub async fn update(conn: &mut Conn, r: &ReviewRow) -> DbResult<()> {
    sqlx::query(
        "update access_reviews set state = $3, stopped_early = $4, reminded_at = $5, completed_at = $6, applied_at = $7
         where tenant_id = $1 and id = $2",
    )
    .bind(r.tenant_id)
    .bind(r.id)
    .bind(r.state)
    .bind(r.stopped_early)
    .bind(r.reminded_at)
    .bind(r.completed_at)
    .bind(r.applied_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut Conn,
    tenant: TenantId,
    id: AccessReviewId,
) -> DbResult<Option<ReviewRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_reviews where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Locks the instance for a state change (stop, apply, close): they queue here.
pub async fn lock(
    conn: &mut Conn,
    tenant: TenantId,
    id: AccessReviewId,
) -> DbResult<Option<ReviewRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_reviews where tenant_id = $1 and id = $2 for update"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Reads the instance under a share lock: a decision waits for a concurrent close or
/// stop and then sees its outcome.
pub async fn lock_shared(
    conn: &mut Conn,
    tenant: TenantId,
    id: AccessReviewId,
) -> DbResult<Option<ReviewRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_reviews where tenant_id = $1 and id = $2 for share"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Filters of a review list; every filter narrows.
#[derive(Clone, Debug, Default)]
pub struct ReviewFilter<'a> {
    pub state: Option<ReviewState>,
    pub package: Option<PackageId>,
    pub policy: Option<PolicyId>,
    /// Only instances where this user reviews an item.
    pub reviewer: Option<UserId>,
    /// Only instances of packages in these catalogs or where this user reviews an item
    /// (what a caller who is no tenant admin may see); `None`: no such restriction.
    pub visible_to: Option<(&'a [CatalogId], UserId)>,
    /// Only instances of packages in these catalogs (the admin portal's list, which
    /// shows what a catalog role sees); `None`: no such restriction.
    pub catalogs: Option<&'a [CatalogId]>,
}

pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    f: &ReviewFilter<'_>,
    page: PageRequest,
) -> DbResult<Page<ReviewRow>> {
    let (catalogs, viewer) = match f.visible_to {
        Some((c, u)) => (Some(c), Some(u)),
        None => (None, None),
    };
    let rows: Vec<ReviewRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_reviews r
         where tenant_id = $1 and id < $2
           and ($3::text is null or state = $3)
           and ($4::uuid is null or package_id = $4)
           and ($5::uuid is null or policy_id = $5)
           and ($6::uuid is null or id in (
               select review_id from access_review_items i where i.tenant_id = $1 and i.reviewer_ids @> array[$6::uuid]))
           and ($8::uuid is null
                or package_id in (select p.id from access_packages p where p.tenant_id = $1 and p.catalog_id = any($7))
                or id in (select review_id from access_review_items i
                          where i.tenant_id = $1 and i.reviewer_ids @> array[$8::uuid]))
           and ($10::uuid[] is null
                or package_id in (select p.id from access_packages p where p.tenant_id = $1 and p.catalog_id = any($10)))
         order by id desc limit $9"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(f.state)
    .bind(f.package)
    .bind(f.policy)
    .bind(f.reviewer)
    .bind(catalogs.unwrap_or(&[]))
    .bind(viewer)
    .bind(page.fetch_limit())
    .bind(f.catalogs)
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |r| r.id.0))
}

/// Packages that have at least one instance, optionally only those of `catalogs`.
pub async fn reviewed_packages(
    conn: &mut Conn,
    tenant: TenantId,
    catalogs: Option<&[CatalogId]>,
) -> DbResult<Vec<PackageId>> {
    Ok(sqlx::query_scalar(
        "select distinct r.package_id from access_reviews r
         join access_packages p on p.tenant_id = r.tenant_id and p.id = r.package_id
         where r.tenant_id = $1 and ($2::uuid[] is null or p.catalog_id = any($2))",
    )
    .bind(tenant)
    .bind(catalogs)
    .fetch_all(conn)
    .await?)
}

/// Items and decided items of each of `reviews` (instances without items are left out).
pub async fn progress(
    conn: &mut Conn,
    tenant: TenantId,
    reviews: &[AccessReviewId],
) -> DbResult<Vec<ProgressRow>> {
    Ok(sqlx::query_as(
        "select review_id, count(*) as items, count(*) filter (where decision <> 'notReviewed') as decided
         from access_review_items where tenant_id = $1 and review_id = any($2)
         group by review_id",
    )
    .bind(tenant)
    .bind(reviews)
    .fetch_all(conn)
    .await?)
}

/// Each reviewer of an instance with their items, the items they decided and their
/// items nobody has decided yet.
pub async fn reviewer_progress(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
) -> DbResult<Vec<ReviewerProgressRow>> {
    Ok(sqlx::query_as(
        "select r as reviewer_id, count(*) as items,
                count(*) filter (where decided_by = r) as decided,
                count(*) filter (where decision = 'notReviewed') as undecided
         from access_review_items, unnest(reviewer_ids) as r
         where tenant_id = $1 and review_id = $2
         group by r order by r",
    )
    .bind(tenant)
    .bind(review)
    .fetch_all(conn)
    .await?)
}

/// When the reviewers of an instance were last reminded (by the scheduler or an admin).
pub async fn last_reminded(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
) -> DbResult<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "select max(at) from audit_events
         where tenant_id = $1 and target_id = $2 and action = 'accessReview.reminded'",
    )
    .bind(tenant)
    .bind(review)
    .fetch_one(conn)
    .await?)
}

/// Every item of an instance, oldest first (exporting the results).
pub async fn all_items(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
) -> DbResult<Vec<ItemRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ITEM_COLUMNS} from access_review_items where tenant_id = $1 and review_id = $2 order by id"
    )))
    .bind(tenant)
    .bind(review)
    .fetch_all(conn)
    .await?)
}

/// Whether `user` reviews any item of the instance.
pub async fn is_reviewer(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
    user: UserId,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from access_review_items
                        where tenant_id = $1 and review_id = $2 and reviewer_ids @> array[$3::uuid])",
    )
    .bind(tenant)
    .bind(review)
    .bind(user)
    .fetch_one(conn)
    .await?)
}

const ITEM_COLUMNS: &str = "tenant_id, id, review_id, assignment_id, target_user_id, reviewer_ids, recommendation, decision,
    justification, decided_by, decided_at, applied_result";

pub async fn insert_item(conn: &mut Conn, i: &ItemRow) -> DbResult<()> {
    sqlx::query(
        "insert into access_review_items (tenant_id, id, review_id, assignment_id, target_user_id, reviewer_ids, recommendation,
             decision, justification, decided_by, decided_at, applied_result)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(i.tenant_id)
    .bind(i.id)
    .bind(i.review_id)
    .bind(i.assignment_id)
    .bind(i.target_user_id)
    .bind(&i.reviewer_ids)
    .bind(i.recommendation)
    .bind(i.decision)
    .bind(&i.justification)
    .bind(i.decided_by)
    .bind(i.decided_at)
    .bind(i.applied_result)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes an item's decision and its applied result.
pub async fn update_item(conn: &mut Conn, i: &ItemRow) -> DbResult<()> {
    sqlx::query(
        "update access_review_items set decision = $3, justification = $4, decided_by = $5, decided_at = $6, applied_result = $7
         where tenant_id = $1 and id = $2",
    )
    .bind(i.tenant_id)
    .bind(i.id)
    .bind(i.decision)
    .bind(&i.justification)
    .bind(i.decided_by)
    .bind(i.decided_at)
    .bind(i.applied_result)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks one item of an instance (concurrent decisions on it queue here).
pub async fn lock_item(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
    id: ReviewItemId,
) -> DbResult<Option<ItemRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ITEM_COLUMNS} from access_review_items where tenant_id = $1 and review_id = $2 and id = $3 for update"
    )))
    .bind(tenant)
    .bind(review)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// A page of an instance's items, optionally only those `reviewer` reviews.
pub async fn items(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
    reviewer: Option<UserId>,
    page: PageRequest,
) -> DbResult<Page<ItemRow>> {
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ITEM_COLUMNS} from access_review_items
         where tenant_id = $1 and review_id = $2 and id < $3
           and ($4::uuid is null or reviewer_ids @> array[$4::uuid])
         order by id desc limit $5"
    )))
    .bind(tenant)
    .bind(review)
    .bind(page.before_bound())
    .bind(reviewer)
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |i| i.id.0))
}

/// How many items of an instance `reviewer` reviews, and how many of them are undecided.
pub async fn count_for_reviewer(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
    reviewer: UserId,
) -> DbResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "select count(*), count(*) filter (where decision = 'notReviewed') from access_review_items
         where tenant_id = $1 and review_id = $2 and reviewer_ids @> array[$3::uuid]",
    )
    .bind(tenant)
    .bind(review)
    .bind(reviewer)
    .fetch_one(conn)
    .await?)
}

/// Reviewers who still have at least one undecided item.
pub async fn undecided_reviewers(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
) -> DbResult<Vec<UserId>> {
    Ok(sqlx::query_scalar(
        "select distinct r from access_review_items, unnest(reviewer_ids) as r
         where tenant_id = $1 and review_id = $2 and decision = 'notReviewed' order by r",
    )
    .bind(tenant)
    .bind(review)
    .fetch_all(conn)
    .await?)
}

/// A policy that has a review, as the start job sees it.
#[derive(Clone, Debug, FromRow)]
pub struct ReviewedPolicy {
    pub tenant_id: TenantId,
    pub id: PolicyId,
    pub review: serde_json::Value,
}

/// Policies with a review, across tenants, in key order after `after`; those of
/// archived packages are left out (an archived package starts no review).
pub async fn policies_with_review(
    conn: &mut Conn,
    after: Option<(TenantId, PolicyId)>,
    limit: i64,
) -> DbResult<Vec<ReviewedPolicy>> {
    let (tenant, id) = after.map_or((Uuid::nil(), Uuid::nil()), |(t, p)| (t.0, p.0));
    Ok(sqlx::query_as(
        "select tenant_id, id, settings -> 'review' as review from policies
         where jsonb_typeof(settings -> 'review') = 'object' and (tenant_id, id) > ($1, $2)
           and not exists (select 1 from access_packages p where p.tenant_id = policies.tenant_id
                             and p.id = policies.package_id and p.archived_at is not null)
         order by tenant_id, id limit $3",
    )
    .bind(tenant)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Of the (tenant, policy, period) candidates, those that must not start now: the
/// period's instance exists, or another instance of the policy is still in progress.
pub async fn blocked_starts(
    conn: &mut Conn,
    candidates: &[(TenantId, PolicyId, i32)],
) -> DbResult<Vec<(TenantId, PolicyId)>> {
    let tenants: Vec<TenantId> = candidates.iter().map(|c| c.0).collect();
    let policies: Vec<PolicyId> = candidates.iter().map(|c| c.1).collect();
    let periods: Vec<i32> = candidates.iter().map(|c| c.2).collect();
    Ok(sqlx::query_as(
        "select distinct c.tenant_id, c.policy_id
         from unnest($1::uuid[], $2::uuid[], $3::int[]) as c(tenant_id, policy_id, period_index)
         join access_reviews r on r.tenant_id = c.tenant_id and r.policy_id = c.policy_id
         where r.period_index = c.period_index or r.state = 'inProgress'",
    )
    .bind(&tenants)
    .bind(&policies)
    .bind(&periods)
    .fetch_all(conn)
    .await?)
}

/// The same check for one policy, inside the starting transaction.
pub async fn start_blocked(
    conn: &mut Conn,
    tenant: TenantId,
    policy: PolicyId,
    period: i32,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from access_reviews where tenant_id = $1 and policy_id = $2
                        and (period_index = $3 or state = 'inProgress'))",
    )
    .bind(tenant)
    .bind(policy)
    .bind(period)
    .fetch_one(conn)
    .await?)
}

/// Locks a policy to start its review; `None` when another process holds it (it is
/// starting the instance) or it is gone. `no key update` leaves new assignments under
/// the policy (which only take a key-share lock) unblocked.
pub async fn lock_policy_for_start(
    conn: &mut Conn,
    tenant: TenantId,
    policy: PolicyId,
) -> DbResult<Option<Policy>> {
    Ok(sqlx::query_as(
        "select tenant_id, id, package_id, display_name, settings, created_at, updated_at, version from policies
         where tenant_id = $1 and id = $2 for no key update skip locked",
    )
    .bind(tenant)
    .bind(policy)
    .fetch_optional(conn)
    .await?)
}

/// Ids of instances whose end has come and that are still in progress.
pub async fn due_to_close(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<(TenantId, AccessReviewId)>> {
    Ok(sqlx::query_as(
        "select tenant_id, id from access_reviews where state = 'inProgress' and end_at <= $1 order by end_at limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Claims one instance to close, unless another process holds it or it was closed.
pub async fn claim_to_close(
    conn: &mut Conn,
    tenant: TenantId,
    id: AccessReviewId,
    now: DateTime<Utc>,
) -> DbResult<Option<ReviewRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_reviews
         where tenant_id = $1 and id = $2 and state = 'inProgress' and end_at <= $3
         for update skip locked"
    )))
    .bind(tenant)
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Ids of instances whose reminder is due.
pub async fn due_to_remind(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<(TenantId, AccessReviewId)>> {
    Ok(sqlx::query_as(
        "select tenant_id, id from access_reviews
         where state = 'inProgress' and reminded_at is null and remind_at <= $1 and end_at > $1
         order by remind_at limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Claims one instance to remind, unless another process holds it or it was reminded.
pub async fn claim_to_remind(
    conn: &mut Conn,
    tenant: TenantId,
    id: AccessReviewId,
    now: DateTime<Utc>,
) -> DbResult<Option<ReviewRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_reviews
         where tenant_id = $1 and id = $2 and state = 'inProgress' and reminded_at is null
           and remind_at <= $3 and end_at > $3
         for update skip locked"
    )))
    .bind(tenant)
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}
