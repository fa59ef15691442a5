//! Starting access review instances when their period begins (one item per active
//! assignment of the policy, reviewers resolved and notified once each; once per
//! (policy, period) whatever the number of replicas), and reminding, once, the
//! reviewers who have not decided.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::record;
use crate::db::reviews::{ItemRow, ReviewRow};
use crate::db::users::User;
use crate::db::{self, Conn};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Role;
use crate::domain::ids::{AccessReviewId, GroupId, PolicyId, ReviewItemId, TenantId, UserId};
use crate::domain::policy::{ReviewSettings, ReviewerKind, ReviewerRef};
use crate::domain::review::{self, ItemDecision, ReviewState};
use crate::services::notify::{self, Notice};
use crate::services::{Actor, ServiceResult};

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
        state: ReviewState::InProgress,
        auto_apply: settings.auto_apply,
        if_no_response: settings.if_no_response.into(),
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
            recommendation,
            decision: ItemDecision::NotReviewed,
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
            AuditAction::ReviewItemCreated,
            Target::AccessReviewItem(item.id),
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
        AuditAction::ReviewStarted,
        Target::AccessReview(row.id),
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
#[tracing::instrument(skip_all)]
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

/// Reminds, once, the reviewers who still have undecided items (scheduler).
#[tracing::instrument(skip_all)]
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
                AuditAction::ReviewReminded,
                Target::AccessReview(id),
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
