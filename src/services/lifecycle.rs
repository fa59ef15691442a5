//! Time-driven transitions (DOMAIN.md §8), each one transaction over a claimed batch:
//! expiry of assignments, expiry warnings, escalation, stage time-outs and approver
//! reminders. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so replicas share the work
//! and each piece is done once.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::audit::Trail;
use super::notify::{self, AskReason, Notice};
use super::requests::{self, ask_approvers, resolve};
use super::{ServiceError, ServiceResult, grants};

use crate::db::requests::StageDue;
use crate::db::{self};
use crate::domain::extension::ExtensionStage;
use crate::domain::ids::{AssignmentId, TenantId};

pub const BATCH: i64 = 200;
/// Expiry is one statement per batch whatever its size, so its batches are larger.
pub const EXPIRY_BATCH: i64 = 5000;

/// Ends assignments whose end has passed, one batch in one transaction: revokes their
/// grants (provenance-safe: only the group rows each assignment delivered) and records
/// the end in each one's history (a delivered `systemRemove` request and its audit
/// events) and tells the holder (an `accessEnded` email). The common case is one
/// statement (`db::assignments::expire_due_batch`); connector grants get their revoke
/// calls queued, open extension requests are canceled and custom extensions called,
/// each only for the assignments that have them.
#[tracing::instrument(skip_all)]
pub async fn expire_due(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    expire_due_limit(pool, now, EXPIRY_BATCH).await
}

/// [`expire_due`] with at most `limit` assignments in the batch.
#[tracing::instrument(skip_all)]
pub async fn expire_due_limit(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    // The email of each row: this notice with the row's assignment id.
    let notice = serde_json::to_value(Notice::AccessEnded {
        assignment_id: AssignmentId(Uuid::nil()),
    })
    .map_err(|e| ServiceError::Internal(e.into()))?;
    let ended = db::assignments::expire_due_batch(&mut tx, now, limit, &notice).await?;
    if ended.is_empty() {
        return Ok(0);
    }
    let keys = |pick: fn(&db::assignments::Expired) -> bool| -> Vec<(TenantId, AssignmentId)> {
        ended
            .iter()
            .filter(|e| pick(e))
            .map(|e| (e.tenant_id, e.id))
            .collect()
    };
    let connector = keys(|e| e.connector);
    if !connector.is_empty() {
        for a in db::assignments::get_many(&mut tx, &connector).await? {
            grants::revoke_all(&mut tx, &a, now).await?;
        }
        db::assignments::revoke_local_grants(&mut tx, &connector, now).await?;
    }
    let open_extension = keys(|e| e.open_extension);
    if !open_extension.is_empty() {
        super::requests::cancel_extensions_of_ended(&mut tx, &open_extension, now).await?;
    }
    let extensions = keys(|e| e.extensions);
    if !extensions.is_empty() {
        let assignments = db::assignments::get_many(&mut tx, &extensions).await?;
        super::extensions::calls::assignments_reached(
            &mut tx,
            &assignments,
            ExtensionStage::AssignmentRemoved,
            None,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ended.len())
}

/// Warns holders 14 days and 1 day before the end, each warning once.
#[tracing::instrument(skip_all)]
pub async fn warn_due(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let mut count = 0;
    // The 1-day warning first: when both are due at once, only it is sent.
    for days in [1, 14] {
        for a in db::assignments::claim_warnings(&mut tx, days, now, BATCH).await? {
            let policy = db::packages::get_policy(&mut tx, a.tenant_id, a.policy_id).await?;
            let can_extend = policy.is_some_and(|p| p.settings.0.extension.allowed);
            let notice = Notice::AccessExpiring {
                assignment_id: a.id,
                days_left: i64::from(days),
                can_extend,
            };
            notify::enqueue(&mut tx, a.tenant_id, a.target_user_id, &notice, now).await?;
            super::extensions::calls::assignments_reached(
                &mut tx,
                std::slice::from_ref(&a),
                ExtensionStage::AssignmentExpiringSoon,
                None,
                now,
            )
            .await?;
            db::assignments::mark_warned(&mut tx, a.tenant_id, a.id, days, now).await?;
            count += 1;
        }
    }
    tx.commit().await?;
    Ok(count)
}

/// Adds the escalation approvers to stages still open at their escalation time.
#[tracing::instrument(skip_all)]
pub async fn escalate_due(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let due = db::requests::claim_due_stages(&mut tx, StageDue::Escalation, now, BATCH).await?;
    let count = due.len();
    for stage in due {
        let tenant = stage.tenant_id;
        let Some(request) = db::requests::get(&mut tx, tenant, stage.request_id).await? else {
            continue;
        };
        let Some(policy) = db::packages::get_policy(&mut tx, tenant, request.policy_id).await?
        else {
            continue;
        };
        let Some(target) = db::users::get(&mut tx, tenant, request.target_user_id).await? else {
            continue;
        };
        let index = usize::try_from(stage.stage_index).unwrap_or(0);
        let refs = policy
            .settings
            .0
            .approval
            .stages
            .get(index)
            .and_then(|s| s.escalation.as_ref())
            .map(|e| e.approvers.clone())
            .unwrap_or_default();
        let resolved = resolve(&mut tx, tenant, &refs, &target, request.package_id).await?;
        // Never the target; the stage's own approvers are left out by the lifecycle.
        let added: Vec<Uuid> = resolved
            .into_iter()
            .filter(|id| *id != target.id.0)
            .collect();
        requests::escalate_stage(&mut tx, &request, stage, added, now).await?;
    }
    tx.commit().await?;
    Ok(count)
}

/// Expires requests whose open stage reached its due time; the requestor is told.
#[tracing::instrument(skip_all)]
pub async fn time_out_due(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let due = db::requests::claim_due_stages(&mut tx, StageDue::Timeout, now, BATCH).await?;
    let count = due.len();
    for stage in due {
        let tenant = stage.tenant_id;
        let Some(request) = db::requests::get(&mut tx, tenant, stage.request_id).await? else {
            continue;
        };
        requests::time_out_stage(&mut tx, request, stage, now).await?;
    }
    tx.commit().await?;
    Ok(count)
}

/// Reminds the approvers who have not decided, halfway to the stage's due time.
#[tracing::instrument(skip_all)]
pub async fn remind_due(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let due = db::requests::claim_due_stages(&mut tx, StageDue::Reminder, now, BATCH).await?;
    let count = due.len();
    let mut trail = Trail::default();
    for stage in due {
        let decided: Vec<Uuid> =
            db::requests::decisions_of(&mut tx, stage.tenant_id, &[stage.request_id])
                .await?
                .into_iter()
                .filter(|d| d.stage_index == stage.stage_index)
                .map(|d| d.approver_id.0)
                .collect();
        let waiting: Vec<Uuid> = stage
            .approver_ids
            .iter()
            .copied()
            .filter(|a| !decided.contains(a))
            .collect();
        ask_approvers(
            &mut tx,
            &mut trail,
            &stage,
            &waiting,
            AskReason::Reminder,
            now,
        )
        .await?;
        db::requests::mark_reminded(&mut tx, &stage, now).await?;
    }
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(count)
}
