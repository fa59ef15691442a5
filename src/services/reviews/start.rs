//! Starting access review instances when their period begins (one item per active
//! assignment of the policy, reviewers resolved and notified once each; once per
//! (policy, period) whatever the number of replicas), and reminding, once, the
//! reviewers who have not decided.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::ItemTrail;
use super::record;
use crate::db::reviews::{ItemFacts, ItemRow, ReviewRow};
use crate::db::{self, Conn};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Role;
use crate::domain::ids::{AccessReviewId, GroupId, PolicyId, ReviewItemId, TenantId, UserId};
use crate::domain::outbox::OutboxKind;
use crate::domain::policy::{ReviewSettings, ReviewerKind, ReviewerRef};
use crate::domain::review::{self, ItemDecision, ReviewState};
use crate::services::audit::Entry;
use crate::services::notify::{self, Notice};
use crate::services::{Actor, ServiceResult};

/// The people the reviewer references of a policy can name besides each item's holder
/// and manager (named `user` reviewers, members of named groups) and the tenant
/// admins, loaded once per instance.
struct Directory {
    named: HashMap<UserId, bool>,
    groups: HashMap<Uuid, Vec<UserId>>,
    admins: Vec<Uuid>,
}

impl Directory {
    async fn load(
        conn: &mut Conn,
        tenant: TenantId,
        settings: &ReviewSettings,
    ) -> ServiceResult<Self> {
        let refs: Vec<&ReviewerRef> = settings
            .reviewers
            .iter()
            .chain(settings.fallback_reviewers.iter())
            .collect();
        let mut groups: HashMap<Uuid, Vec<UserId>> = HashMap::new();
        let mut wanted: Vec<UserId> = Vec::new();
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
        wanted.sort();
        wanted.dedup();
        let named = if wanted.is_empty() {
            HashMap::new()
        } else {
            db::users::get_many(conn, tenant, &wanted)
                .await?
                .into_iter()
                .map(|u| (u.id, u.active))
                .collect()
        };
        let admins = db::roles::active_holders(conn, tenant, Role::TenantAdmin.as_str(), None)
            .await?
            .into_iter()
            .map(|u| u.0)
            .collect();
        Ok(Self {
            named,
            groups,
            admins,
        })
    }

    fn active(&self, id: UserId) -> bool {
        self.named.get(&id).copied().unwrap_or(false)
    }

    /// Active users named by `refs` for the holder of `item`, each with the kind that
    /// named them.
    fn candidates(&self, refs: &[ReviewerRef], item: &ItemFacts) -> Vec<(ReviewerKind, Uuid)> {
        let mut out = Vec::new();
        for r in refs {
            match (r.kind, r.id) {
                (ReviewerKind::Myself, _) if item.target_active => {
                    out.push((r.kind, item.target_user_id.0));
                }
                (ReviewerKind::Manager, _) if item.manager_active => {
                    out.extend(item.manager_id.map(|m| (r.kind, m.0)));
                }
                (ReviewerKind::User, Some(u)) if self.active(UserId(u)) => out.push((r.kind, u)),
                (ReviewerKind::Group, Some(g)) => out.extend(
                    self.groups
                        .get(&g)
                        .into_iter()
                        .flatten()
                        .filter(|id| self.active(**id))
                        .map(|id| (r.kind, id.0)),
                ),
                _ => {}
            }
        }
        out
    }
}

/// Items are written (with their audit events) this many at a time.
const ITEM_CHUNK: usize = 5000;

/// Starts the current period's instance of a policy's review, unless it exists, another
/// instance of the policy is still in progress, or another process is starting it. One
/// transaction: the instance appears with all its items, reviewers and recommendations
/// at once; items, their audit events and the reviewers' emails are written a chunk of
/// rows per statement.
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
    let facts = db::reviews::item_facts_of_policy(&mut tx, tenant, policy.id).await?;
    let dir = Directory::load(&mut tx, tenant, &settings).await?;
    let mut notified: Vec<Uuid> = Vec::new();
    let mut seen: HashSet<Uuid> = HashSet::new();
    for chunk in facts.chunks(ITEM_CHUNK) {
        let mut items = Vec::with_capacity(chunk.len());
        let mut trail = ItemTrail::new(row.package_id);
        for f in chunk {
            let target = f.target_user_id.0;
            let primary =
                review::eligible_reviewers(&dir.candidates(&settings.reviewers, f), target);
            let fallback = review::eligible_reviewers(
                &dir.candidates(&settings.fallback_reviewers, f),
                target,
            );
            let (reviewers, source) =
                review::select_reviewers(primary, fallback, &dir.admins, target);
            let item = ItemRow {
                tenant_id: tenant,
                id: ReviewItemId::new(),
                review_id: row.id,
                assignment_id: f.assignment_id,
                target_user_id: f.target_user_id,
                reviewer_ids: reviewers,
                recommendation: review::recommendation(f.last_sign_in_at, now),
                decision: ItemDecision::NotReviewed,
                justification: None,
                decided_by: None,
                decided_at: None,
                applied_result: None,
            };
            trail.add(
                tenant,
                Actor::System,
                Entry::new(
                    AuditAction::ReviewItemCreated,
                    Target::AccessReviewItem(item.id),
                    json!({"accessReviewId": row.id, "assignmentId": item.assignment_id,
                           "targetUserId": item.target_user_id, "reviewerIds": item.reviewer_ids,
                           "reviewerSource": source.as_str(), "recommendation": item.recommendation}),
                ),
                item.target_user_id,
                now,
            );
            for r in &item.reviewer_ids {
                if seen.insert(*r) {
                    notified.push(*r);
                }
            }
            items.push(item);
        }
        db::reviews::insert_items(&mut tx, &items).await?;
        trail.write(&mut tx).await?;
    }
    let notice = Notice::ReviewStarted {
        review_id: row.id.0,
    };
    let emails: Vec<(TenantId, serde_json::Value)> = notified
        .iter()
        .map(|r| (tenant, json!({"to": UserId(*r), "notice": &notice})))
        .collect();
    for chunk in emails.chunks(ITEM_CHUNK) {
        db::outbox::enqueue_many(&mut tx, OutboxKind::Email, chunk, now).await?;
    }
    record(
        &mut tx,
        tenant,
        Actor::System,
        AuditAction::ReviewStarted,
        Target::AccessReview(row.id),
        json!({"accessPackageId": row.package_id, "policyId": row.policy_id, "periodIndex": index,
               "startDateTime": row.start_at, "endDateTime": row.end_at, "items": facts.len(),
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
