//! Closing access review instances, at their end (scheduler) or early (`stop`), and
//! applying their results: a deny ends the assignment through a `systemRemove` request
//! with reason `review`.
//!
//! Applying is set-based and bounded: each transaction takes the next batch of items
//! whose result is not applied yet (under the instance's row lock), ends the batch's
//! removed assignments in a handful of statements (grants, group rows, requests, audit
//! events, emails) and records each item's result. The instance stays `completed`, and
//! says so, until the last batch is done; the transaction that finds no item left moves
//! it to `applied`. A cut-short application resumes where it stopped: the scheduler
//! finishes automatic ones, an admin's "apply" finishes the others.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use sqlx::types::Json;

use super::{ItemTrail, record};
use crate::db::assignments::AssignmentRow;
use crate::db::requests::RequestRow;
use crate::db::reviews::{ItemRow, ReviewRow};
use crate::db::{self, Conn};
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::extension::ExtensionStage;
use crate::domain::ids::{AccessReviewId, AssignmentId, RequestId, TenantId};
use crate::domain::outbox::OutboxKind;
use crate::domain::request::{RequestState, RequestType};
use crate::domain::review::{self, AppliedResult, Outcome};
use crate::services::audit::Entry;
use crate::services::notify::Notice;
use crate::services::{Actor, ServiceResult, extensions, grants, requests};

/// Items whose results are applied per transaction.
const APPLY_BATCH: i64 = 5000;

/// inProgress → completed; in the caller's transaction with the instance locked. Once
/// that is committed, [`apply_all`] applies the results when the review applies them
/// automatically.
#[tracing::instrument(skip_all)]
pub(super) async fn complete(
    conn: &mut Conn,
    r: &mut ReviewRow,
    stopped_early: bool,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    r.state = r.state.complete()?;
    r.stopped_early = stopped_early;
    r.completed_at = Some(now);
    db::reviews::update(conn, r).await?;
    record(
        conn,
        r.tenant_id,
        actor,
        AuditAction::ReviewCompleted,
        Target::AccessReview(r.id),
        json!({"stoppedEarly": stopped_early, "endDateTime": r.end_at}),
        now,
    )
    .await
}

/// completed → applied: each item's outcome (its last decision, else `ifNoResponse`)
/// keeps the assignment or ends it with reason `review`; one batch of items per
/// transaction. The instance as applied, or `None` when it was not `completed` (or, with
/// `skip_locked`, another process was applying it).
#[tracing::instrument(skip_all, fields(review = %id))]
pub(super) async fn apply_all(
    pool: &PgPool,
    tenant: TenantId,
    id: AccessReviewId,
    actor: Actor,
    skip_locked: bool,
    now: DateTime<Utc>,
) -> ServiceResult<Option<ReviewRow>> {
    // One connection for every batch: a connection keeps the buffers its largest
    // statement needed, so batches spread over the pool would grow each pooled
    // connection's buffers in turn (the server's memory grew by about 4 MB a batch).
    let mut conn = pool.acquire().await?;
    loop {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let Some(mut r) = db::reviews::lock_completed(&mut tx, tenant, id, skip_locked).await?
        else {
            return Ok(None);
        };
        let items = db::reviews::lock_unapplied_items(&mut tx, tenant, id, APPLY_BATCH).await?;
        if items.is_empty() {
            finish(&mut tx, &mut r, actor, now).await?;
            tx.commit().await?;
            return Ok(Some(r));
        }
        apply_batch(&mut tx, &r, &items, actor, now).await?;
        tx.commit().await?;
    }
}

/// The last step: every item has its result; the instance becomes `applied`.
async fn finish(
    conn: &mut Conn,
    r: &mut ReviewRow,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    r.state = r.state.apply()?;
    r.applied_at = Some(now);
    db::reviews::update(conn, r).await?;
    let (kept, removed, ended) = db::reviews::applied_counts(conn, r.tenant_id, r.id).await?;
    record(
        conn,
        r.tenant_id,
        actor,
        AuditAction::ReviewApplied,
        Target::AccessReview(r.id),
        json!({"kept": kept, "removed": removed, "alreadyEnded": ended, "ifNoResponse": r.if_no_response}),
        now,
    )
    .await
}

/// Applies the results of a batch of locked items: the assignments to remove end
/// together, as expiry ends assignments, each with its `systemRemove` request, audit
/// events and email.
async fn apply_batch(
    conn: &mut Conn,
    r: &ReviewRow,
    items: &[ItemRow],
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = r.tenant_id;
    let if_no_response = r.if_no_response.into();
    let ids: Vec<AssignmentId> = items.iter().map(|i| i.assignment_id).collect();
    let locked: HashMap<AssignmentId, AssignmentRow> =
        db::reviews::lock_assignments(conn, tenant, &ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
    let mut results = Vec::with_capacity(items.len());
    let mut to_remove = Vec::new();
    for item in items {
        let a = locked
            .get(&item.assignment_id)
            .ok_or_else(|| anyhow::anyhow!("assignment {} vanished", item.assignment_id))?;
        let outcome = review::outcome(item.decision, item.recommendation, if_no_response);
        let result = match (a.state.is_active(), outcome) {
            (false, _) => AppliedResult::AlreadyEnded,
            (true, Outcome::Keep) => AppliedResult::Kept,
            (true, Outcome::Remove) => {
                to_remove.push(a.id);
                AppliedResult::Removed
            }
        };
        results.push((item.id, result));
    }
    let requests = remove(conn, tenant, &to_remove, now).await?;
    db::reviews::set_applied_results(conn, tenant, &results).await?;
    let mut trail = ItemTrail::new(r.package_id);
    for (item, (_, result)) in items.iter().zip(&results) {
        let request = requests.get(&item.assignment_id);
        if let Some(request) = request {
            trail.add(
                tenant,
                actor,
                Entry::new(
                    AuditAction::RequestCreated,
                    Target::AssignmentRequest(request.id),
                    json!({"requestType": request.request_type, "assignmentId": item.assignment_id,
                           "state": request.state}),
                ),
                item.target_user_id,
                now,
            );
            trail.add(
                tenant,
                actor,
                Entry::new(
                    AuditAction::AssignmentEnded,
                    Target::Assignment(item.assignment_id),
                    json!({"state": AssignmentState::Removed, "removalReason": RemovalReason::Review,
                           "requestId": request.id}),
                ),
                item.target_user_id,
                now,
            );
        }
        trail.add(
            tenant,
            actor,
            Entry::new(
                AuditAction::ReviewItemApplied,
                Target::AccessReviewItem(item.id),
                json!({"accessReviewId": r.id, "assignmentId": item.assignment_id, "decision": item.decision,
                       "recommendation": item.recommendation, "result": result,
                       "requestId": request.map(|q| q.id)}),
            ),
            item.target_user_id,
            now,
        );
    }
    trail.write(conn).await
}

/// Ends the given active assignments with reason `review` in a few statements: their
/// grants are revoked (group rows of these assignments go; connector grants get their
/// revoke calls, one assignment at a time), open extension requests are canceled,
/// custom extensions hear of it, each gets a delivered `systemRemove` request and its
/// holder an email. The requests, by assignment.
async fn remove(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[AssignmentId],
    now: DateTime<Utc>,
) -> ServiceResult<HashMap<AssignmentId, RequestRow>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ended = db::reviews::remove_assignments(conn, tenant, ids, now).await?;
    let keys: Vec<(TenantId, AssignmentId)> = ended.iter().map(|a| (a.tenant_id, a.id)).collect();
    let with_connectors = db::assignments::with_connector_grants(conn, &keys).await?;
    if !with_connectors.is_empty() {
        let by_id: HashMap<AssignmentId, &AssignmentRow> =
            ended.iter().map(|a| (a.id, a)).collect();
        for (_, id) in with_connectors {
            if let Some(a) = by_id.get(&id) {
                grants::revoke_all(conn, a, now).await?;
            }
        }
    }
    db::assignments::revoke_local_grants(conn, &keys, now).await?;
    requests::cancel_extensions_of_ended(conn, &keys, now).await?;
    extensions::calls::assignments_reached(
        conn,
        &ended,
        ExtensionStage::AssignmentRemoved,
        None,
        now,
    )
    .await?;
    let rows: Vec<RequestRow> = ended
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
    db::requests::insert_many(conn, &rows).await?;
    let emails: Vec<(TenantId, serde_json::Value)> = ended
        .iter()
        .map(|a| {
            let notice = Notice::AccessEnded {
                assignment_id: a.id,
            };
            (
                a.tenant_id,
                json!({"to": a.target_user_id, "notice": notice}),
            )
        })
        .collect();
    db::outbox::enqueue_many(conn, OutboxKind::Email, &emails, now).await?;
    Ok(rows
        .into_iter()
        .filter_map(|q| q.assignment_id.map(|a| (a, q)))
        .collect())
}

/// Closes instances whose end has come, applying results where `autoApply`, and
/// finishes automatic applications that were cut short (scheduler).
#[tracing::instrument(skip_all)]
pub async fn close_due(pool: &PgPool, now: DateTime<Utc>, limit: i64) -> ServiceResult<usize> {
    let (unfinished, due) = {
        let mut conn = pool.acquire().await?;
        (
            db::reviews::due_to_finish_applying(&mut conn, limit).await?,
            db::reviews::due_to_close(&mut conn, now, limit).await?,
        )
    };
    let mut closed = 0;
    for (tenant, id) in unfinished {
        match apply_all(pool, tenant, id, Actor::System, true, now).await {
            Ok(Some(_)) => closed += 1,
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, review = %id, "applying an access review failed"),
        }
    }
    for (tenant, id) in due {
        let result: ServiceResult<bool> = async {
            let mut tx = pool.begin().await?;
            let Some(mut r) = db::reviews::claim_to_close(&mut tx, tenant, id, now).await? else {
                return Ok(false);
            };
            complete(&mut tx, &mut r, false, Actor::System, now).await?;
            tx.commit().await?;
            if r.auto_apply {
                apply_all(pool, tenant, id, Actor::System, true, now).await?;
            }
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
