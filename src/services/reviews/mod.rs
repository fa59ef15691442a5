//! Access reviews (DOMAIN.md §9): starting a due instance (one item per active
//! assignment of the policy, reviewers resolved and notified once each), reminding,
//! reviewers' decisions, closing at the end or early, and applying the results (a deny
//! ends the assignment through a `systemRemove` request with reason `review`).
//!
//! Invariants: an instance starts once per (policy, period) whatever the number of
//! replicas; decisions count only while the instance is in progress and before its end
//! (they serialise with a close or stop through the instance's row lock); every change
//! is audited in its own transaction.
//!
//! This file holds the shared helpers, the reads and the decisions; `start` starts due
//! instances and reminds reviewers, `close` closes instances and applies their results.

mod admin;
mod close;
mod start;

pub use admin::{AdminQuery, Overview, Results, overview, remind_now, results, results_for_export};

pub use close::close_due;
use close::{apply_all, complete};
pub use start::{remind_due, start_due};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::audit::{self, Entry};
use super::{Actor, Caller, ServiceError, ServiceResult, validated};
use crate::db::audit::AuditEvent;
use crate::db::reviews::{ItemRow, ReviewFilter, ReviewRow};
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::audit::{ActorType, AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::{
    AccessReviewId, AuditEventId, CatalogId, PackageId, PolicyId, ReviewItemId, TenantId, UserId,
};
use crate::domain::request::{Decision, parse_justification};
use crate::domain::review::{self, ItemDecision, ReviewState};
use crate::domain::{DomainError, FieldErrors};

fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("access review"))
}

fn item_not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("access review item"))
}

#[tracing::instrument(skip_all)]
pub(super) async fn record(
    conn: &mut Conn,
    tenant: TenantId,
    actor: Actor,
    action: AuditAction,
    target: Target,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    audit::record(
        conn,
        tenant,
        actor,
        Entry::new(action, target, details),
        now,
    )
    .await
}

/// Audit events about the items of one instance (their creation, their results and
/// the removals they cause), written a batch per statement with their targets named
/// for the whole batch at once (see `db::reviews::insert_item_events`).
struct ItemTrail {
    package: PackageId,
    events: Vec<AuditEvent>,
    subjects: Vec<UserId>,
}

impl ItemTrail {
    fn new(package: PackageId) -> Self {
        Self {
            package,
            events: Vec::new(),
            subjects: Vec::new(),
        }
    }

    /// An event whose target concerns `subject`'s access to the instance's package.
    fn add(
        &mut self,
        tenant: TenantId,
        actor: Actor,
        entry: Entry,
        subject: UserId,
        now: DateTime<Utc>,
    ) {
        let (actor_type, actor_id, actor_token_id) = match actor {
            Actor::User { id, token: None } => (ActorType::User, Some(id.0), None),
            Actor::User {
                id,
                token: Some(token),
            } => (ActorType::Token, Some(id.0), Some(token.0)),
            Actor::System => (ActorType::System, None, None),
            Actor::Directory { token } => (ActorType::Directory, None, Some(token.0)),
        };
        let (target_type, target_id) = entry.target.parts();
        self.events.push(AuditEvent {
            tenant_id: tenant,
            id: AuditEventId::new(),
            at: now,
            actor_type,
            actor_id,
            actor_token_id,
            action: entry.action,
            target_type,
            target_id: Some(target_id),
            details: entry.details,
            correlation_id: None,
            actor_name: None,
            target_name: None,
        });
        self.subjects.push(subject);
    }

    async fn write(self, conn: &mut Conn) -> ServiceResult<()> {
        db::reviews::insert_item_events(conn, self.package, &self.events, &self.subjects).await?;
        Ok(())
    }
}

/// What the caller may do with one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Tenant admins and who manages the package's catalog's assignments: everything.
    Manage,
    /// Other catalog roles: read every item.
    Read,
    /// Reviewers of at least one item: read the instance and their own items.
    Reviewer,
    /// Nothing: the instance answers 404.
    None,
}

async fn catalog_of(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
) -> ServiceResult<CatalogId> {
    Ok(db::packages::get(conn, tenant, package)
        .await?
        .map(|p| p.catalog_id)
        .ok_or_else(|| anyhow::anyhow!("package {package} of an access review vanished"))?)
}

async fn access(
    conn: &mut Conn,
    caller: &Caller,
    r: &ReviewRow,
) -> ServiceResult<(Access, CatalogId)> {
    let catalog = catalog_of(conn, r.tenant_id, r.package_id).await?;
    let access = if caller.roles.allows(Action::ManageAssignments(catalog)) {
        Access::Manage
    } else if caller.roles.allows(Action::ReadCatalog(catalog)) {
        Access::Read
    } else if db::reviews::is_reviewer(conn, r.tenant_id, r.id, caller.user_id()).await? {
        Access::Reviewer
    } else {
        Access::None
    };
    Ok((access, catalog))
}

/// The instance under a write lock, after checking that the caller may manage it.
async fn lock_managed(
    conn: &mut Conn,
    caller: &Caller,
    id: AccessReviewId,
) -> ServiceResult<ReviewRow> {
    let r = db::reviews::lock(conn, caller.tenant_id(), id)
        .await?
        .ok_or_else(not_found)?;
    match access(conn, caller, &r).await? {
        (Access::Manage, _) => Ok(r),
        (Access::None, _) => Err(not_found()),
        (_, catalog) => Err(caller
            .require(Action::ManageAssignments(catalog))
            .err()
            .unwrap_or_else(|| DomainError::forbidden("You may not manage this access review."))
            .into()),
    }
}

/// Query of the review list.
#[derive(Clone, Debug, Default)]
pub struct ListQuery<'a> {
    pub state: Option<&'a str>,
    pub package: Option<PackageId>,
    pub policy: Option<PolicyId>,
    /// Only instances where the caller reviews an item.
    pub mine: bool,
}

/// Instances the caller may see: all for tenant admins, those of the catalogs where they
/// hold a role, and those where they review an item.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    q: ListQuery<'_>,
    page: PageRequest,
) -> ServiceResult<Page<ReviewRow>> {
    let state = match q.state {
        None => None,
        Some(s) => Some(ReviewState::parse(s).ok_or_else(|| {
            DomainError::field(
                "state",
                format!("unknown access review state '{s}' (use inProgress, completed or applied)"),
            )
        })?),
    };
    let me = caller.user_id();
    let catalogs: Vec<CatalogId> = caller
        .roles
        .catalogs()
        .filter(|c| caller.roles.allows(Action::ReadCatalog(*c)))
        .collect();
    let filter = ReviewFilter {
        state,
        package: q.package,
        policy: q.policy,
        reviewer: q.mine.then_some(me),
        visible_to: (!caller.roles.is_tenant_admin()).then_some((catalogs.as_slice(), me)),
        catalogs: None,
    };
    let mut conn = pool.acquire().await?;
    Ok(db::reviews::list(&mut conn, caller.tenant_id(), &filter, page).await?)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(pool: &PgPool, caller: &Caller, id: AccessReviewId) -> ServiceResult<ReviewRow> {
    let mut conn = pool.acquire().await?;
    let r = db::reviews::get(&mut conn, caller.tenant_id(), id)
        .await?
        .ok_or_else(not_found)?;
    match access(&mut conn, caller, &r).await?.0 {
        Access::None => Err(not_found()),
        _ => Ok(r),
    }
}

/// Items of an instance: all of them for admins and catalog roles, only their own for
/// reviewers (DOMAIN.md §12); `mine` narrows to the caller's items for anyone.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn items(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    mine: bool,
    page: PageRequest,
) -> ServiceResult<Page<ItemRow>> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let r = db::reviews::get(&mut conn, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    let reviewer = match access(&mut conn, caller, &r).await?.0 {
        Access::None => return Err(not_found()),
        Access::Reviewer => Some(caller.user_id()),
        Access::Manage | Access::Read => mine.then_some(caller.user_id()),
    };
    Ok(db::reviews::items(&mut conn, tenant, id, reviewer, page).await?)
}

/// A reviewer's decision on an item; a later decision replaces an earlier one until the
/// end. Refused after the end (409), for non-reviewers (403), without a required
/// justification (422).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id, item = %item_id))]
pub async fn decide(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    item_id: ReviewItemId,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<ItemRow> {
    let mut tx = pool.begin().await?;
    let decided = decide_in(
        &mut tx,
        caller,
        id,
        item_id,
        decision,
        justification,
        false,
        now,
    )
    .await?
    .ok_or_else(item_not_found)?;
    tx.commit().await?;
    Ok(decided)
}

/// `decide` inside the caller's transaction; with `only_undecided`, an item decided in
/// the meantime is left as it is (None).
#[allow(clippy::too_many_arguments)]
async fn decide_in(
    tx: &mut Conn,
    caller: &Caller,
    id: AccessReviewId,
    item_id: ReviewItemId,
    decision: Decision,
    justification: Option<String>,
    only_undecided: bool,
    now: DateTime<Utc>,
) -> ServiceResult<Option<ItemRow>> {
    let tenant = caller.tenant_id();
    let review = db::reviews::lock_shared(tx, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    if access(tx, caller, &review).await?.0 == Access::None {
        return Err(not_found());
    }
    let mut item = db::reviews::lock_item(tx, tenant, id, item_id)
        .await?
        .ok_or_else(item_not_found)?;
    if only_undecided && item.decision != ItemDecision::NotReviewed {
        return Ok(None);
    }
    if !item.reviewer_ids.contains(&caller.user_id().0) {
        return Err(DomainError::forbidden("You are not a reviewer of this item.").into());
    }
    review::check_open_for_decisions(review.state, review.end_at, now)?;
    let mut errors = FieldErrors::new();
    let justification = parse_justification(
        justification.as_deref(),
        review.require_justification,
        "justification",
        &mut errors,
    );
    validated(errors)?;
    let before = json!({"decision": item.decision, "decidedBy": item.decided_by, "justification": item.justification});
    item.decision = ItemDecision::from(decision);
    item.justification = justification;
    item.decided_by = Some(caller.user_id());
    item.decided_at = Some(now);
    db::reviews::update_item(tx, &item).await?;
    record(
        tx,
        tenant,
        caller.actor(),
        AuditAction::ReviewItemDecided,
        Target::AccessReviewItem(item.id),
        json!({"accessReviewId": id, "assignmentId": item.assignment_id, "before": before,
               "after": {"decision": item.decision, "decidedBy": item.decided_by, "justification": item.justification}}),
        now,
    )
    .await?;
    Ok(Some(item))
}

/// An instance where the caller reviews at least one item, with their items; else 404.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn my_items(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
) -> ServiceResult<(ReviewRow, Vec<ItemRow>)> {
    let review = get(pool, caller, id).await?;
    let items = items(pool, caller, id, true, PageRequest::first(PageRequest::MAX))
        .await?
        .items;
    if items.is_empty() {
        return Err(not_found());
    }
    Ok((review, items))
}

/// The caller's decision on one of their own items of a review (the requester portal).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn decide_review_item(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    item: ReviewItemId,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<ItemRow> {
    my_items(pool, caller, id).await?;
    decide(pool, caller, id, item, decision, justification, now).await
}

/// Takes the recommendation of every item of the caller's that has one and is not
/// decided yet; the number of items decided.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn accept_recommendations(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<usize> {
    let (_, items) = my_items(pool, caller, id).await?;
    // One transaction: every recommendation is taken, or (on any failure) none.
    let mut tx = pool.begin().await?;
    let mut n = 0;
    for item in items
        .iter()
        .filter(|i| i.decision == ItemDecision::NotReviewed)
    {
        let Some(decision) = item.recommendation else {
            continue;
        };
        let decided = decide_in(
            &mut tx,
            caller,
            id,
            item.id,
            decision,
            justification.clone(),
            true,
            now,
        )
        .await?;
        n += usize::from(decided.is_some());
    }
    tx.commit().await?;
    Ok(n)
}

/// Ends an instance before its end (tenant admins and the catalog's assignment
/// managers); applies the results at once when the review applies automatically.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn stop(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    now: DateTime<Utc>,
) -> ServiceResult<ReviewRow> {
    let mut tx = pool.begin().await?;
    let mut r = lock_managed(&mut tx, caller, id).await?;
    let early = now < r.end_at;
    complete(&mut tx, &mut r, early, caller.actor(), now).await?;
    tx.commit().await?;
    if !r.auto_apply {
        return Ok(r);
    }
    applied(pool, caller, id, now).await
}

/// Applies the results of a completed instance whose review does not apply them
/// automatically (tenant admins and the catalog's assignment managers); also finishes
/// an application that was cut short.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn apply(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    now: DateTime<Utc>,
) -> ServiceResult<ReviewRow> {
    {
        let mut tx = pool.begin().await?;
        let r = lock_managed(&mut tx, caller, id).await?;
        r.state.apply()?;
    }
    applied(pool, caller, id, now).await
}

/// Applies the results of a completed instance, a batch per transaction; the instance
/// as it is then (applied, also when a concurrent call finished it).
async fn applied(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    now: DateTime<Utc>,
) -> ServiceResult<ReviewRow> {
    let tenant = caller.tenant_id();
    if let Some(r) = apply_all(pool, tenant, id, caller.actor(), false, now).await? {
        return Ok(r);
    }
    let mut conn = pool.acquire().await?;
    db::reviews::get(&mut conn, tenant, id)
        .await?
        .ok_or_else(not_found)
}
