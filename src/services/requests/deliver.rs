//! Delivery of approved requests: the assignment and its grants (group roles in the
//! same transaction, connector roles queued for the scheduler), an extension's new end,
//! and scheduled requests whose start has come.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::{incompatible_access, note, record, tell_requestor};
use crate::db::assignments::AssignmentRow;
use crate::db::packages::Policy;
use crate::db::requests::RequestRow;
use crate::db::{self, Conn};
use crate::domain::assignment::Delivery;
use crate::domain::ids::AssignmentId;
use crate::domain::request::RequestState;
use crate::services::audit::{self, Entry, Trail};
use crate::services::notify::{self, Notice};
use crate::services::{Actor, ServiceResult, grants};

/// Everything approved: deliver now, or wait for the start.
pub(super) async fn approved(
    conn: &mut Conn,
    trail: &mut Trail,
    request: &mut RequestRow,
    policy: &Policy,
    actor: Actor,
    recheck: bool,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let ty = request.request_type;
    if ty.is_update() {
        return apply_extension(conn, request, actor, now).await;
    }
    if request.schedule_start.is_some_and(|s| s > now) {
        request.state = RequestState::Scheduled;
        request.updated_at = now;
        db::requests::save(conn, request).await?;
        note(
            trail,
            actor,
            "assignmentRequest.scheduled",
            request,
            json!({"startDateTime": request.schedule_start}),
            now,
        );
        return Ok(());
    }
    deliver_add(conn, trail, request, policy, actor, recheck, now).await
}

/// Creates the assignment and delivers its roles. With `recheck` (a decision or the
/// scheduler delivers it later), eligibility, activity and separation of duties are
/// checked again under the lock on the user; the submitting transaction has just done
/// so under that lock and passes `false`.
pub async fn deliver_add(
    conn: &mut Conn,
    trail: &mut Trail,
    request: &mut RequestRow,
    policy: &Policy,
    actor: Actor,
    recheck: bool,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = request.tenant_id;
    let target = request.target_user_id;
    if recheck {
        let db::requests::LockedTarget { user, facts } =
            db::requests::lock_target_for_add(conn, tenant, request.package_id, target)
                .await?
                .ok_or_else(|| anyhow::anyhow!("target user vanished"))?;
        let problem = if !user.active {
            Some("the target user is deactivated".to_string())
        } else if facts.has_active {
            Some("the user already has this access package".to_string())
        } else {
            incompatible_access(&facts)
                .map(|c| format!("separation of duties: incompatible with {c}"))
        };
        if let Some(problem) = problem {
            request.state = RequestState::DeliveryFailed;
            request.updated_at = now;
            request.completed_at = Some(now);
            db::requests::save(conn, request).await?;
            tell_requestor(
                conn,
                request,
                Notice::DeliveryFailed {
                    request_id: request.id,
                },
                now,
            )
            .await?;
            note(
                trail,
                Actor::System,
                "assignmentRequest.deliveryFailed",
                request,
                json!({"reason": problem}),
                now,
            );
            return Ok(());
        }
    }
    let targets = grants::package_targets(conn, tenant, request.package_id).await?;
    // Group roles and roles without a connector are applied in this transaction;
    // connector roles are called by the scheduler afterwards; roles that delivery
    // refuses (a group that carries power) fail at once.
    let refused = grants::refusals(conn, tenant, &targets).await?;
    let state = grants::first_state(&targets, &refused);
    let assignment = AssignmentRow {
        tenant_id: tenant,
        id: AssignmentId::new(),
        package_id: request.package_id,
        policy_id: policy.id,
        target_user_id: target,
        state: state.into(),
        start_at: now,
        end_at: request.schedule_end,
        request_id: request.id,
        removal_reason: None,
        created_at: now,
        updated_at: now,
        ended_at: None,
    };
    // The request is written once, in its final state (both keys between it and the
    // assignment are checked at commit).
    request.assignment_id = Some(assignment.id);
    request.state = state.into();
    request.updated_at = now;
    request.completed_at = (state != Delivery::Delivering).then_some(now);
    db::requests::save(conn, request).await?;
    db::assignments::insert(conn, &assignment).await?;
    trail.add(
        tenant,
        actor,
        Entry {
            action: "assignment.created",
            target_type: "assignment",
            target_id: Some(assignment.id.0),
            details: json!({"requestId": request.id, "accessPackageId": request.package_id, "targetUserId": target,
                            "start": assignment.start_at, "end": assignment.end_at, "state": assignment.state}),
        },
        now,
    );
    grants::grant_except(conn, &assignment, &targets, &refused, now).await?;
    let notice = match state {
        Delivery::Delivered => Some(Notice::AccessDelivered {
            request_id: request.id,
        }),
        Delivery::PartiallyDelivered | Delivery::DeliveryFailed => Some(Notice::DeliveryFailed {
            request_id: request.id,
        }),
        Delivery::Delivering => None,
    };
    if let Some(notice) = notice {
        notify::enqueue(conn, tenant, target, &notice, now).await?;
    }
    let action = match state {
        Delivery::Delivered => "assignmentRequest.delivered",
        Delivery::PartiallyDelivered => "assignmentRequest.partiallyDelivered",
        Delivery::DeliveryFailed => "assignmentRequest.deliveryFailed",
        Delivery::Delivering => "assignmentRequest.delivering",
    };
    let mut details = json!({"assignmentId": assignment.id});
    let reasons = refused.reasons();
    if !reasons.is_empty() {
        details["reason"] = json!(reasons.join("; "));
    }
    note(trail, actor, action, request, details, now);
    Ok(())
}

pub(super) async fn apply_extension(
    conn: &mut Conn,
    request: &mut RequestRow,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = request.tenant_id;
    let id = request
        .assignment_id
        .ok_or_else(|| anyhow::anyhow!("extension without assignment"))?;
    let mut a = db::assignments::lock(conn, tenant, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("assignment vanished"))?;
    if !a.state.is_active() {
        request.state = RequestState::DeliveryFailed;
        request.completed_at = Some(now);
        request.updated_at = now;
        db::requests::update(conn, request).await?;
        return record(
            conn,
            Actor::System,
            "assignmentRequest.deliveryFailed",
            request,
            json!({"reason": "the assignment has ended"}),
            now,
        )
        .await;
    }
    let before = a.end_at;
    a.end_at = request.schedule_end;
    a.updated_at = now;
    db::assignments::update(conn, &a).await?;
    audit::record(
        conn,
        tenant,
        actor,
        Entry {
            action: "assignment.extended",
            target_type: "assignment",
            target_id: Some(a.id.0),
            details: json!({"before": {"end": before}, "after": {"end": a.end_at}, "requestId": request.id}),
        },
        now,
    )
    .await?;
    request.state = RequestState::Delivered;
    request.completed_at = Some(now);
    request.updated_at = now;
    db::requests::update(conn, request).await?;
    record(
        conn,
        actor,
        "assignmentRequest.delivered",
        request,
        json!({"end": a.end_at}),
        now,
    )
    .await
}

/// Delivers scheduled requests whose start has come (scheduler job).
pub async fn deliver_due_scheduled(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let due = db::requests::claim_due_scheduled(&mut tx, now, 100).await?;
    let count = due.len();
    let mut trail = Trail::default();
    for mut request in due {
        let policy = db::packages::get_policy(&mut tx, request.tenant_id, request.policy_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("policy vanished"))?;
        deliver_add(
            &mut tx,
            &mut trail,
            &mut request,
            &policy,
            Actor::System,
            true,
            now,
        )
        .await?;
    }
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(count)
}
