//! Closing access review instances, at their end (scheduler) or early (`stop`), and
//! applying their results: a deny ends the assignment through a `systemRemove` request
//! with reason `review`.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::record;
use crate::db::reviews::ReviewRow;
use crate::db::{self, Conn};
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::request::RequestType;
use crate::domain::review::{self, AppliedResult, Outcome};
use crate::services::{Actor, ServiceResult, assignments};

/// inProgress → completed, then applied when `autoApply`; in the caller's transaction
/// with the instance locked.
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
    .await?;
    if r.auto_apply {
        apply_results(conn, r, actor, now).await?;
    }
    Ok(())
}

/// completed → applied: each item's outcome (its last decision, else `ifNoResponse`)
/// keeps the assignment or ends it with reason `review`.
#[tracing::instrument(skip_all)]
pub(super) async fn apply_results(
    conn: &mut Conn,
    r: &mut ReviewRow,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let state = r.state.apply()?;
    let tenant = r.tenant_id;
    let if_no_response = r.if_no_response.into();
    let (mut kept, mut removed, mut ended) = (0_usize, 0_usize, 0_usize);
    for mut item in db::reviews::lock_all_items(conn, tenant, r.id).await? {
        let outcome = review::outcome(item.decision, item.recommendation, if_no_response);
        let mut assignment = db::assignments::lock(conn, tenant, item.assignment_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("assignment {} vanished", item.assignment_id))?;
        let active = assignment.state.is_active();
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
                    AssignmentState::Removed,
                    Some(RemovalReason::Review),
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
        item.applied_result = Some(result);
        db::reviews::update_item(conn, &item).await?;
        record(
            conn,
            tenant,
            actor,
            AuditAction::ReviewItemApplied,
            Target::AccessReviewItem(item.id),
            json!({"accessReviewId": r.id, "assignmentId": item.assignment_id, "decision": item.decision,
                   "recommendation": item.recommendation, "result": result, "requestId": request_id}),
            now,
        )
        .await?;
    }
    r.state = state;
    r.applied_at = Some(now);
    db::reviews::update(conn, r).await?;
    record(
        conn,
        tenant,
        actor,
        AuditAction::ReviewApplied,
        Target::AccessReview(r.id),
        json!({"kept": kept, "removed": removed, "alreadyEnded": ended, "ifNoResponse": r.if_no_response}),
        now,
    )
    .await
}

/// Closes instances whose end has come, applying results where `autoApply` (scheduler).
#[tracing::instrument(skip_all)]
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
