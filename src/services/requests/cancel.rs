//! Cancellation of open requests: by their requestor or target, or by who manages
//! their catalog; and, inside another use case's transaction, by Portico itself.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::query::{catalog_of, own, view, visible};
use super::transition::{apply_stage_change, carry_out, row_facts, set_state, step};
use super::{RequestView, not_found};
use crate::db::requests::RequestRow;
use crate::db::{self, Conn};
use crate::domain::authz::Action;
use crate::domain::ids::{AssignmentId, RequestId, TenantId};
use crate::domain::lifecycle::Event;
use crate::services::audit::Trail;
use crate::services::{Actor, Caller, ServiceResult};

/// Who may cancel a request: its requestor, its target, or who manages the assignments
/// of its catalog (whether it is still open is the lifecycle's to say).
#[tracing::instrument(skip_all)]
pub(crate) async fn may_cancel(
    conn: &mut Conn,
    caller: &Caller,
    request: &RequestRow,
) -> ServiceResult<bool> {
    let me = caller.user_id();
    if request.requestor_id == Some(me) || request.target_user_id == me {
        return Ok(true);
    }
    let catalog = catalog_of(conn, caller.tenant_id(), request.package_id).await?;
    Ok(caller.roles.allows(Action::ManageAssignments(catalog)))
}

/// Cancels an open request: its requestor or target, or who manages its catalog.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn cancel(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let mut request = db::requests::lock(&mut tx, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    if !visible(&mut tx, caller, &request).await? {
        return Err(not_found());
    }
    if !may_cancel(&mut tx, caller, &request).await? {
        let catalog = catalog_of(&mut tx, tenant, request.package_id).await?;
        caller.require(Action::ManageAssignments(catalog))?;
    }
    cancel_row(&mut tx, &mut request, caller.actor(), now).await?;
    let result = view(&mut tx, tenant, id).await?;
    tx.commit().await?;
    Ok(result)
}

/// Cancels an open request and its pending stage, in the caller's transaction; a
/// request that is no longer open is refused with its state.
#[tracing::instrument(skip_all)]
pub async fn cancel_row(
    conn: &mut Conn,
    request: &mut RequestRow,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = request.tenant_id;
    let stages = db::requests::stages_of(conn, tenant, &[request.id]).await?;
    let facts: Vec<_> = stages.iter().map(row_facts).collect();
    let t = step(conn, request, 0, &facts, Event::Canceled, now).await?;
    if let Some(change) = &t.stage
        && change.state.is_some()
    {
        for mut s in stages {
            if usize::try_from(s.stage_index).ok() == Some(change.index) {
                apply_stage_change(&mut s, change, now);
                db::requests::update_stage(conn, &s).await?;
            }
        }
    }
    set_state(request, &t, now);
    db::requests::update(conn, request).await?;
    let mut trail = Trail::default();
    carry_out(conn, &mut trail, request, &t, actor, None, now).await?;
    trail.write(conn).await
}

/// Cancels the open extension requests of assignments that have just ended: there is
/// nothing left to extend, so no approver is asked about it any longer.
#[tracing::instrument(skip_all, fields(assignments = ended.len()))]
pub async fn cancel_extensions_of_ended(
    conn: &mut Conn,
    ended: &[(TenantId, AssignmentId)],
    now: DateTime<Utc>,
) -> ServiceResult<usize> {
    let open = db::requests::lock_open_extensions(conn, ended).await?;
    let count = open.len();
    for mut request in open {
        cancel_row(conn, &mut request, Actor::System, now).await?;
    }
    Ok(count)
}

/// Cancels one of the caller's own open requests (the requester portal).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn cancel_my_request(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    {
        let mut conn = pool.acquire().await?;
        own(&mut conn, caller, id).await?;
    }
    cancel(pool, caller, id, now).await
}
