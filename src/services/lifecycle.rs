//! Time-driven transitions (DOMAIN.md §8), each one transaction over a claimed batch:
//! expiry of assignments, expiry warnings, escalation, stage time-outs and approver
//! reminders. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so replicas share the work
//! and each piece is done once.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::notify::{self, AskReason, Notice};
use super::requests::{self, ask_approvers, resolve};
use super::{ServiceResult, grants};
use sqlx::types::Json;

use super::Actor;
use super::audit::{Entry, Trail};
use crate::db::requests::{RequestRow, StageDue};
use crate::db::{self};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::extension::ExtensionStage;
use crate::domain::ids::{AssignmentId, RequestId, TenantId};
use crate::domain::outbox::OutboxKind;
use crate::domain::request::{RequestState, RequestType};

pub const BATCH: i64 = 200;
/// Expiry is set-based, so its batches are larger.
pub const EXPIRY_BATCH: i64 = 5000;

/// Ends assignments whose end has passed: revokes their grants (provenance-safe) and
/// tells the holder. Set-based: a batch of expired assignments costs a handful of
/// statements, whatever its size; connector grants get their revoke calls queued.
#[tracing::instrument(skip_all)]
pub async fn expire_due(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let ended = db::assignments::expire_due_batch(&mut tx, now, EXPIRY_BATCH).await?;
    if ended.is_empty() {
        return Ok(0);
    }
    let keys: Vec<(TenantId, AssignmentId)> = ended.iter().map(|a| (a.tenant_id, a.id)).collect();
    for (tenant, id) in db::assignments::with_connector_grants(&mut tx, &keys).await? {
        if let Some(a) = ended.iter().find(|a| a.tenant_id == tenant && a.id == id) {
            grants::revoke_all(&mut tx, a, now).await?;
        }
    }
    db::assignments::revoke_local_grants(&mut tx, &keys, now).await?;
    super::requests::cancel_extensions_of_ended(&mut tx, &keys, now).await?;
    super::extensions::calls::assignments_reached(
        &mut tx,
        &ended,
        ExtensionStage::AssignmentRemoved,
        None,
        now,
    )
    .await?;
    let requests: Vec<RequestRow> = ended
        .iter()
        .map(|a| RequestRow {
            tenant_id: a.tenant_id,
            id: RequestId::new(),
            request_type: RequestType::SystemRemove,
            state: RequestState::Delivered,
            package_id: a.package_id,
            policy_id: a.policy_id,
            requestor_id: None,
            target_user_id: a.target_user_id,
            assignment_id: Some(a.id),
            justification: None,
            answers: Json(Vec::new()),
            schedule_start: None,
            schedule_end: None,
            end_follows_start: false,
            created_at: now,
            updated_at: now,
            completed_at: Some(now),
        })
        .collect();
    db::requests::insert_many(&mut tx, &requests).await?;
    let mut trail = Trail::default();
    for (a, r) in ended.iter().zip(&requests) {
        trail.add(
            a.tenant_id,
            Actor::System,
            Entry::new(
                AuditAction::RequestCreated,
                Target::AssignmentRequest(r.id),
                json!({"requestType": r.request_type, "assignmentId": a.id, "state": r.state}),
            ),
            now,
        );
        trail.add(
            a.tenant_id,
            Actor::System,
            Entry::new(
                AuditAction::AssignmentEnded,
                Target::Assignment(a.id),
                json!({"state": a.state, "removalReason": null, "requestId": r.id}),
            ),
            now,
        );
    }
    trail.write(&mut tx).await?;
    let emails: Vec<(TenantId, serde_json::Value)> = ended
        .iter()
        .map(|a| (a.tenant_id, json!({"to": a.target_user_id, "notice": Notice::AccessEnded { assignment_id: a.id }})))
        .collect();
    db::outbox::enqueue_many(&mut tx, OutboxKind::Email, &emails, now).await?;
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
