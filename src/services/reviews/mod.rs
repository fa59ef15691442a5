//! Access reviews (DOMAIN.md §9): starting a due instance (one item per active
//! assignment of the policy, reviewers resolved and notified once each), reminding,
//! reviewers' decisions, closing at the end or early, and applying the results (a deny
//! ends the assignment through a `systemRemove` request with reason `review`).
//!
//! Invariants: an instance starts once per (policy, period) whatever the number of
//! replicas; decisions count only while the instance is in progress and before its end
//! (they serialise with a close or stop through the instance's row lock); every change
//! is audited in its own transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::audit::{self, Entry};
use super::notify::{self, Notice};
use super::{Actor, Caller, ServiceError, ServiceResult, assignments, validated};
use crate::db::reviews::{ItemRow, ReviewFilter, ReviewRow};
use crate::db::users::User;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::authz::{Action, Role};
use crate::domain::ids::{
    AccessReviewId, CatalogId, GroupId, PackageId, PolicyId, ReviewItemId, TenantId, UserId,
};
use crate::domain::policy::{ReviewSettings, ReviewerKind, ReviewerRef};
use crate::domain::request::{Decision, RequestType, parse_justification};
use crate::domain::review::{
    self, AppliedResult, IfNoResponseValue, ItemDecision, Outcome, ReviewState,
};
use crate::domain::{DomainError, FieldErrors};

fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("access review"))
}

fn item_not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("access review item"))
}

fn state_of(r: &ReviewRow) -> ServiceResult<ReviewState> {
    ReviewState::parse(&r.state).ok_or_else(|| {
        anyhow::anyhow!("access review {} has unknown state {}", r.id, r.state).into()
    })
}

/// What an audit event is about.
#[derive(Clone, Copy)]
enum Target {
    Review(AccessReviewId),
    Item(ReviewItemId),
}

async fn record(
    conn: &mut Conn,
    tenant: TenantId,
    actor: Actor,
    action: &str,
    target: Target,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let (target_type, id) = match target {
        Target::Review(id) => ("accessReview", id.0),
        Target::Item(id) => ("accessReviewItem", id.0),
    };
    audit::record(
        conn,
        tenant,
        actor,
        Entry {
            action,
            target_type,
            target_id: Some(id),
            details,
        },
        now,
    )
    .await
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
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    q: ListQuery<'_>,
    page: PageRequest,
) -> ServiceResult<Page<ReviewRow>> {
    if let Some(s) = q.state
        && ReviewState::parse(s).is_none()
    {
        return Err(DomainError::field(
            "state",
            format!("unknown access review state '{s}' (use inProgress, completed or applied)"),
        )
        .into());
    }
    let me = caller.user_id();
    let catalogs: Vec<CatalogId> = caller
        .roles
        .catalogs()
        .filter(|c| caller.roles.allows(Action::ReadCatalog(*c)))
        .collect();
    let filter = ReviewFilter {
        state: q.state,
        package: q.package,
        policy: q.policy,
        reviewer: q.mine.then_some(me),
        visible_to: (!caller.roles.is_tenant_admin()).then_some((catalogs.as_slice(), me)),
    };
    let mut conn = pool.acquire().await?;
    Ok(db::reviews::list(&mut conn, caller.tenant_id(), &filter, page).await?)
}

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
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let review = db::reviews::lock_shared(&mut tx, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    if access(&mut tx, caller, &review).await?.0 == Access::None {
        return Err(not_found());
    }
    let mut item = db::reviews::lock_item(&mut tx, tenant, id, item_id)
        .await?
        .ok_or_else(item_not_found)?;
    if !item.reviewer_ids.contains(&caller.user_id().0) {
        return Err(DomainError::forbidden("You are not a reviewer of this item.").into());
    }
    review::check_open_for_decisions(state_of(&review)?, review.end_at, now)?;
    let mut errors = FieldErrors::new();
    let justification = parse_justification(
        justification.as_deref(),
        review.require_justification,
        "justification",
        &mut errors,
    );
    validated(errors)?;
    let before = json!({"decision": item.decision, "decidedBy": item.decided_by, "justification": item.justification});
    item.decision = ItemDecision::from(decision).as_str().into();
    item.justification = justification;
    item.decided_by = Some(caller.user_id());
    item.decided_at = Some(now);
    db::reviews::update_item(&mut tx, &item).await?;
    record(
        &mut tx,
        tenant,
        caller.actor(),
        "accessReviewItem.decided",
        Target::Item(item.id),
        json!({"accessReviewId": id, "assignmentId": item.assignment_id, "before": before,
               "after": {"decision": item.decision, "decidedBy": item.decided_by, "justification": item.justification}}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(item)
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
    Ok(r)
}

/// Applies the results of a completed instance whose review does not apply them
/// automatically (tenant admins and the catalog's assignment managers).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn apply(
    pool: &PgPool,
    caller: &Caller,
    id: AccessReviewId,
    now: DateTime<Utc>,
) -> ServiceResult<ReviewRow> {
    let mut tx = pool.begin().await?;
    let mut r = lock_managed(&mut tx, caller, id).await?;
    apply_results(&mut tx, &mut r, caller.actor(), now).await?;
    tx.commit().await?;
    Ok(r)
}

/// inProgress → completed, then applied when `autoApply`; in the caller's transaction
/// with the instance locked.
async fn complete(
    conn: &mut Conn,
    r: &mut ReviewRow,
    stopped_early: bool,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let state = state_of(r)?.complete()?;
    r.state = state.as_str().into();
    r.stopped_early = stopped_early;
    r.completed_at = Some(now);
    db::reviews::update(conn, r).await?;
    record(
        conn,
        r.tenant_id,
        actor,
        "accessReview.completed",
        Target::Review(r.id),
        json!({"stoppedEarly": stopped_early, "endDateTime": r.end_at}),
        now,
    )
    .await?;
    if r.auto_apply {
        apply_results(conn, r, actor, now).await?;
    }
    Ok(())
}

/// completed → applied: each item's outcome (its last decision, else `ifNoResponse`)
/// keeps the assignment or ends it with reason `review`.
async fn apply_results(
    conn: &mut Conn,
    r: &mut ReviewRow,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let state = state_of(r)?.apply()?;
    let tenant = r.tenant_id;
    let if_no_response = IfNoResponseValue::parse(&r.if_no_response)
        .ok_or_else(|| anyhow::anyhow!("access review {} has unknown ifNoResponse", r.id))?
        .into();
    let (mut kept, mut removed, mut ended) = (0_usize, 0_usize, 0_usize);
    for mut item in db::reviews::lock_all_items(conn, tenant, r.id).await? {
        let decision = ItemDecision::parse(&item.decision)
            .ok_or_else(|| anyhow::anyhow!("item {} has unknown decision", item.id))?;
        let recommendation = item.recommendation.as_deref().and_then(Decision::parse);
        let outcome = review::outcome(decision, recommendation, if_no_response);
        let mut assignment = db::assignments::lock(conn, tenant, item.assignment_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("assignment {} vanished", item.assignment_id))?;
        let active = matches!(
            assignment.state.as_str(),
            "delivering" | "delivered" | "partiallyDelivered" | "deliveryFailed"
        );
        let mut request_id = None;
        let result = match (active, outcome) {
            (false, _) => AppliedResult::AlreadyEnded,
            (true, Outcome::Keep) => AppliedResult::Kept,
            (true, Outcome::Remove) => {
                let request = assignments::end(
                    conn,
                    &mut assignment,
                    RequestType::SystemRemove,
                    None,
                    "removed",
                    Some("review"),
                    actor,
                    now,
                )
                .await?;
                request_id = Some(request.id);
                AppliedResult::Removed
            }
        };
        match result {
            AppliedResult::Kept => kept += 1,
            AppliedResult::Removed => removed += 1,
            AppliedResult::AlreadyEnded => ended += 1,
        }
        item.applied_result = Some(result.as_str().into());
        db::reviews::update_item(conn, &item).await?;
        record(
            conn,
            tenant,
            actor,
            "accessReviewItem.applied",
            Target::Item(item.id),
            json!({"accessReviewId": r.id, "assignmentId": item.assignment_id, "decision": item.decision,
                   "recommendation": item.recommendation, "result": result.as_str(), "requestId": request_id}),
            now,
        )
        .await?;
    }
    r.state = state.as_str().into();
    r.applied_at = Some(now);
    db::reviews::update(conn, r).await?;
    record(
        conn,
        tenant,
        actor,
        "accessReview.applied",
        Target::Review(r.id),
        json!({"kept": kept, "removed": removed, "alreadyEnded": ended, "ifNoResponse": r.if_no_response}),
        now,
    )
    .await
}

/// The people the reviewer references of a policy can name, loaded once per instance.
struct Directory {
    users: HashMap<UserId, User>,
    groups: HashMap<Uuid, Vec<UserId>>,
    admins: Vec<Uuid>,
}

impl Directory {
    async fn load(
        conn: &mut Conn,
        tenant: TenantId,
        settings: &ReviewSettings,
        targets: &[UserId],
    ) -> ServiceResult<Self> {
        let refs: Vec<&ReviewerRef> = settings
            .reviewers
            .iter()
            .chain(settings.fallback_reviewers.iter())
            .collect();
        let mut groups: HashMap<Uuid, Vec<UserId>> = HashMap::new();
        let mut wanted: Vec<UserId> = targets.to_vec();
        for r in &refs {
            match (r.kind, r.id) {
                (ReviewerKind::Group, Some(g)) if !groups.contains_key(&g) => {
                    let members = db::groups::users_of(
                        conn,
                        db::groups::Relation::Member,
                        tenant,
                        &[GroupId(g)],
                    )
                    .await?;
                    wanted.extend(members.iter().copied());
                    groups.insert(g, members);
                }
                (ReviewerKind::User, Some(u)) => wanted.push(UserId(u)),
                _ => {}
            }
        }
        let target_users = db::users::get_many(conn, tenant, targets).await?;
        wanted.extend(target_users.iter().filter_map(|u| u.manager_id));
        wanted.sort();
        wanted.dedup();
        let users = db::users::get_many(conn, tenant, &wanted)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let admins = db::roles::active_holders(conn, tenant, Role::TenantAdmin.as_str(), None)
            .await?
            .into_iter()
            .map(|u| u.0)
            .collect();
        Ok(Self {
            users,
            groups,
            admins,
        })
    }

    fn active(&self, id: UserId) -> bool {
        self.users.get(&id).is_some_and(|u| u.active)
    }

    /// Active users named by `refs` for `target`, each with the kind that named them.
    fn candidates(&self, refs: &[ReviewerRef], target: &User) -> Vec<(ReviewerKind, Uuid)> {
        let mut out = Vec::new();
        for r in refs {
            let ids: Vec<UserId> = match (r.kind, r.id) {
                (ReviewerKind::Myself, _) => vec![target.id],
                (ReviewerKind::Manager, _) => target.manager_id.into_iter().collect(),
                (ReviewerKind::User, Some(u)) => vec![UserId(u)],
                (ReviewerKind::Group, Some(g)) => self.groups.get(&g).cloned().unwrap_or_default(),
                _ => Vec::new(),
            };
            out.extend(
                ids.into_iter()
                    .filter(|id| self.active(*id))
                    .map(|id| (r.kind, id.0)),
            );
        }
        out
    }
}

/// Starts the current period's instance of a policy's review, unless it exists, another
/// instance of the policy is still in progress, or another process is starting it.
async fn start(
    pool: &PgPool,
    tenant: TenantId,
    policy_id: PolicyId,
    now: DateTime<Utc>,
) -> ServiceResult<Option<AccessReviewId>> {
    let mut tx = pool.begin().await?;
    let Some(policy) = db::reviews::lock_policy_for_start(&mut tx, tenant, policy_id).await? else {
        return Ok(None);
    };
    let Some(settings) = policy.settings.0.review.clone() else {
        return Ok(None);
    };
    let Some(period) = review::current_period(&settings, now) else {
        return Ok(None);
    };
    let index = i32::try_from(period.index)
        .map_err(|_| anyhow::anyhow!("review period {} out of range", period.index))?;
    if db::reviews::start_blocked(&mut tx, tenant, policy.id, index).await? {
        return Ok(None);
    }
    let row = ReviewRow {
        tenant_id: tenant,
        id: AccessReviewId::new(),
        package_id: policy.package_id,
        policy_id: policy.id,
        period_index: index,
        start_at: period.start,
        end_at: period.end,
        remind_at: review::remind_at(period.start, period.end),
        state: ReviewState::InProgress.as_str().into(),
        auto_apply: settings.auto_apply,
        if_no_response: IfNoResponseValue::from(settings.if_no_response)
            .as_str()
            .into(),
        require_justification: settings.require_justification,
        stopped_early: false,
        reminded_at: None,
        created_at: now,
        completed_at: None,
        applied_at: None,
    };
    if !db::reviews::insert(&mut tx, &row).await? {
        return Ok(None);
    }
    let assignments = db::reviews::active_assignments_of_policy(&mut tx, tenant, policy.id).await?;
    let targets: Vec<UserId> = assignments.iter().map(|a| a.target_user_id).collect();
    let dir = Directory::load(&mut tx, tenant, &settings, &targets).await?;
    let mut notified: Vec<Uuid> = Vec::new();
    for a in &assignments {
        let target = dir
            .users
            .get(&a.target_user_id)
            .ok_or_else(|| anyhow::anyhow!("user {} vanished", a.target_user_id))?;
        let primary =
            review::eligible_reviewers(&dir.candidates(&settings.reviewers, target), target.id.0);
        let fallback = review::eligible_reviewers(
            &dir.candidates(&settings.fallback_reviewers, target),
            target.id.0,
        );
        let (reviewers, source) =
            review::select_reviewers(primary, fallback, &dir.admins, target.id.0);
        let recommendation = review::recommendation(target.last_sign_in_at, now);
        let item = ItemRow {
            tenant_id: tenant,
            id: ReviewItemId::new(),
            review_id: row.id,
            assignment_id: a.id,
            target_user_id: a.target_user_id,
            reviewer_ids: reviewers.clone(),
            recommendation: recommendation.map(|d| d.as_str().to_string()),
            decision: ItemDecision::NotReviewed.as_str().into(),
            justification: None,
            decided_by: None,
            decided_at: None,
            applied_result: None,
        };
        db::reviews::insert_item(&mut tx, &item).await?;
        record(
            &mut tx,
            tenant,
            Actor::System,
            "accessReviewItem.created",
            Target::Item(item.id),
            json!({"accessReviewId": row.id, "assignmentId": a.id, "targetUserId": a.target_user_id,
                   "reviewerIds": reviewers, "reviewerSource": source.as_str(), "recommendation": item.recommendation}),
            now,
        )
        .await?;
        for r in reviewers {
            if !notified.contains(&r) {
                notified.push(r);
            }
        }
    }
    for r in &notified {
        notify::enqueue(
            &mut tx,
            tenant,
            UserId(*r),
            &Notice::ReviewStarted {
                review_id: row.id.0,
            },
            now,
        )
        .await?;
    }
    record(
        &mut tx,
        tenant,
        Actor::System,
        "accessReview.started",
        Target::Review(row.id),
        json!({"accessPackageId": row.package_id, "policyId": row.policy_id, "periodIndex": index,
               "startDateTime": row.start_at, "endDateTime": row.end_at, "items": assignments.len(),
               "reviewerIds": notified}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(row.id))
}

const POLICY_BATCH: i64 = 500;

/// Starts every instance whose period has begun (scheduler); at most `limit` per call.
pub async fn start_due(pool: &PgPool, now: DateTime<Utc>, limit: usize) -> ServiceResult<usize> {
    let mut started = 0;
    let mut after = None;
    loop {
        let mut conn = pool.acquire().await?;
        let batch = db::reviews::policies_with_review(&mut conn, after, POLICY_BATCH).await?;
        after = batch.last().map(|p| (p.tenant_id, p.id));
        let mut candidates = Vec::new();
        for p in &batch {
            let settings: ReviewSettings = match serde_json::from_value(p.review.clone()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(policy = %p.id, error = %e, "unreadable review settings");
                    continue;
                }
            };
            if let Some(period) = review::current_period(&settings, now)
                && let Ok(index) = i32::try_from(period.index)
            {
                candidates.push((p.tenant_id, p.id, index));
            }
        }
        let blocked = if candidates.is_empty() {
            Vec::new()
        } else {
            db::reviews::blocked_starts(&mut conn, &candidates).await?
        };
        drop(conn);
        for (tenant, policy, _) in candidates
            .into_iter()
            .filter(|c| !blocked.contains(&(c.0, c.1)))
        {
            match start(pool, tenant, policy, now).await {
                Ok(Some(_)) => started += 1,
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, %policy, "starting an access review failed"),
            }
            if started >= limit {
                return Ok(started);
            }
        }
        if batch.len() < usize::try_from(POLICY_BATCH).unwrap_or(usize::MAX) {
            return Ok(started);
        }
    }
}

/// Closes instances whose end has come, applying results where `autoApply` (scheduler).
pub async fn close_due(pool: &PgPool, now: DateTime<Utc>, limit: i64) -> ServiceResult<usize> {
    let due = {
        let mut conn = pool.acquire().await?;
        db::reviews::due_to_close(&mut conn, now, limit).await?
    };
    let mut closed = 0;
    for (tenant, id) in due {
        let result: ServiceResult<bool> = async {
            let mut tx = pool.begin().await?;
            let Some(mut r) = db::reviews::claim_to_close(&mut tx, tenant, id, now).await? else {
                return Ok(false);
            };
            complete(&mut tx, &mut r, false, Actor::System, now).await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        match result {
            Ok(true) => closed += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, review = %id, "closing an access review failed"),
        }
    }
    Ok(closed)
}

/// Reminds, once, the reviewers who still have undecided items (scheduler).
pub async fn remind_due(pool: &PgPool, now: DateTime<Utc>, limit: i64) -> ServiceResult<usize> {
    let due = {
        let mut conn = pool.acquire().await?;
        db::reviews::due_to_remind(&mut conn, now, limit).await?
    };
    let mut reminded = 0;
    for (tenant, id) in due {
        let result: ServiceResult<bool> = async {
            let mut tx = pool.begin().await?;
            let Some(mut r) = db::reviews::claim_to_remind(&mut tx, tenant, id, now).await? else {
                return Ok(false);
            };
            let undecided = db::reviews::undecided_reviewers(&mut tx, tenant, id).await?;
            let reviewers: Vec<UserId> = db::users::get_many(&mut tx, tenant, &undecided)
                .await?
                .into_iter()
                .filter(|u| u.active)
                .map(|u| u.id)
                .collect();
            for reviewer in &reviewers {
                notify::enqueue(
                    &mut tx,
                    tenant,
                    *reviewer,
                    &Notice::ReviewReminder { review_id: id.0 },
                    now,
                )
                .await?;
            }
            r.reminded_at = Some(now);
            db::reviews::update(&mut tx, &r).await?;
            record(
                &mut tx,
                tenant,
                Actor::System,
                "accessReview.reminded",
                Target::Review(id),
                json!({"reviewerIds": reviewers}),
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        }
        .await;
        match result {
            Ok(true) => reminded += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, review = %id, "reminding reviewers failed"),
        }
    }
    Ok(reminded)
}
