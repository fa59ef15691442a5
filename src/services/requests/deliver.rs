//! Delivery of approved requests: the assignment and its grants (group roles in the
//! same transaction, connector roles queued for the scheduler), an extension's new end,
//! and scheduled requests whose start has come.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::engine::open_stage;
use super::incompatible_access;
use super::submit::in_scope;
use super::transition::{carry_out, set_state, step};
use crate::db::assignments::AssignmentRow;
use crate::db::packages::Policy;
use crate::db::requests::{RequestRow, StageRow};
use crate::db::{self, Conn};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::extension::ExtensionStage;
use crate::domain::ids::AssignmentId;
use crate::domain::ids::GroupId;
use crate::domain::lifecycle::{Event, Then};
use crate::domain::request::RequestState;
use crate::domain::request::{Eligibility, delivery_refusal, end_at_start};
use crate::services::audit::{self, Entry, Trail};
use crate::services::{Actor, ServiceResult, grants};

/// Does what the machine named after a transition: opens the next stage (returned),
/// delivers or extends. `recheck` as for [`deliver_add`].
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all)]
pub(super) async fn follow(
    conn: &mut Conn,
    trail: &mut Trail,
    request: &mut RequestRow,
    policy: &Policy,
    then: Then,
    actor: Actor,
    recheck: bool,
    now: DateTime<Utc>,
) -> ServiceResult<Option<StageRow>> {
    match then {
        Then::Nothing => Ok(None),
        Then::OpenStage(index) => {
            let target = db::users::get(conn, request.tenant_id, request.target_user_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("target of request {} vanished", request.id))?;
            let settings = &policy.settings.0;
            let stage = open_stage(conn, trail, request, settings, index, &target, now).await?;
            Ok(Some(stage))
        }
        Then::Deliver => {
            deliver_add(conn, trail, request, policy, actor, recheck, now).await?;
            Ok(None)
        }
        Then::Extend => {
            apply_extension(conn, request, actor, now).await?;
            Ok(None)
        }
    }
}

/// Creates the assignment and delivers its roles. With `recheck` (a decision or the
/// scheduler delivers it later), eligibility, activity and separation of duties are
/// checked again under the lock on the user; the submitting transaction has just done
/// so under that lock and passes `false`.
#[tracing::instrument(skip_all)]
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
        // The user locked with the facts, the package and its roles: one statement.
        let found = db::requests::lock_to_add(conn, tenant, request.package_id, target)
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!("target or package of request {} vanished", request.id)
            })?;
        let db::requests::LockedTarget { user, facts } = &found.target;
        trail.know_targets(request.package_id, grants::of_package(&found.targets.0));
        let by_admin = !request.request_type.is_self_service();
        let package = &found;
        let groups: Vec<GroupId> = facts.group_ids.iter().copied().map(GroupId).collect();
        let settings = &policy.settings.0;
        let eligibility = Eligibility {
            target_active: user.active,
            in_scope: in_scope(settings, user, &groups, package.catalog_externally_visible),
            catalog_enabled: package.catalog_enabled,
            requests_enabled: settings.requests_enabled,
            has_active_assignment: facts.has_active,
            has_open_request: false,
            incompatible_with: incompatible_access(facts),
        };
        if let Some(reason) = delivery_refusal(&eligibility, by_admin) {
            let refused = Event::DeliveryRefused { reason };
            let t = step(conn, request, 0, &[], refused, now).await?;
            set_state(request, &t, now);
            db::requests::save(conn, request).await?;
            carry_out(conn, trail, request, &t, actor, None, now).await?;
            return Ok(());
        }
    }
    let targets = match trail.known_targets(request.package_id) {
        Some(known) => known.to_vec(),
        None => grants::package_targets(conn, tenant, request.package_id).await?,
    };
    // Group roles and roles without a connector are applied in this transaction;
    // connector roles are called by the scheduler afterwards; roles that delivery
    // refuses (a group that carries power) fail at once.
    let refused = grants::refusals(conn, tenant, &targets).await?;
    let state = grants::first_state(&targets, &refused);
    // Access lasts its days from now, its start (DOMAIN.md §5); the request shows it.
    request.schedule_end = end_at_start(
        &policy.settings.0,
        request.end_follows_start,
        request.schedule_end,
        now,
    );
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
    let delivered = Event::Delivered {
        assignment: assignment.id.0,
        state: state.into(),
        refusals: refused.reasons().into_iter().map(str::to_string).collect(),
    };
    let t = step(conn, request, 0, &[], delivered, now).await?;
    // The request is written once, in its final state (both keys between it and the
    // assignment are checked at commit).
    request.assignment_id = Some(assignment.id);
    set_state(request, &t, now);
    // The request, the assignment, its memberships and grants: one statement.
    let rows = grants::grant_rows(&assignment, &targets, &refused, now);
    db::delivery::insert_delivered(conn, request, &assignment, &rows).await?;
    trail.add(
        tenant,
        actor,
        Entry {
            action: AuditAction::AssignmentCreated,
            target: Target::Assignment(assignment.id),
            details: json!({"requestId": request.id, "accessPackageId": request.package_id, "targetUserId": target,
                            "start": assignment.start_at, "end": assignment.end_at, "state": assignment.state}),
        },
        now,
    );
    grants::grant_followups(conn, &assignment, &targets, &refused, now).await?;
    crate::services::extensions::calls::assignments_reached(
        conn,
        std::slice::from_ref(&assignment),
        ExtensionStage::AssignmentGranted,
        Some(policy),
        now,
    )
    .await?;
    carry_out(conn, trail, request, &t, actor, None, now).await?;
    Ok(())
}

#[tracing::instrument(skip_all)]
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
    let mut trail = Trail::default();
    let live = a.state.is_active();
    if live {
        let before = a.end_at;
        a.end_at = request.schedule_end;
        a.updated_at = now;
        db::assignments::update(conn, &a).await?;
        audit::record(
            conn,
            tenant,
            actor,
            Entry {
                action: AuditAction::AssignmentExtended,
                target: Target::Assignment(a.id),
                details: json!({"before": {"end": before}, "after": {"end": a.end_at}, "requestId": request.id}),
            },
            now,
        )
        .await?;
    }
    let extended = Event::Extended {
        assignment_live: live,
        end: a.end_at,
    };
    let t = step(conn, request, 0, &[], extended, now).await?;
    set_state(request, &t, now);
    db::requests::update(conn, request).await?;
    carry_out(conn, &mut trail, request, &t, actor, None, now).await?;
    trail.write(conn).await
}

/// Delivers scheduled requests whose start has come (scheduler job).
#[tracing::instrument(skip_all)]
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

/// The grants of a request's assignment settled after its delivery (connector calls):
/// the request follows their state, and its target is told the outcome.
#[tracing::instrument(skip_all)]
pub async fn grants_settled(
    conn: &mut Conn,
    mut request: RequestRow,
    state: RequestState,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let t = step(conn, &request, 0, &[], Event::GrantsSettled { state }, now).await?;
    if !t.changes(request.state) {
        return Ok(());
    }
    set_state(&mut request, &t, now);
    db::requests::update(conn, &request).await?;
    let mut trail = Trail::default();
    carry_out(conn, &mut trail, &request, &t, Actor::System, None, now).await?;
    trail.write(conn).await
}
