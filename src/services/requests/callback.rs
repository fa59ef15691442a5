//! Requests held by a custom extension (INTEGRATIONS.md §4): the outside system's
//! callback resumes one (`continue` goes on exactly as if nothing had held it, `deny`
//! denies it), and the scheduler applies an extension's `onTimeout` to holds past
//! their due time. Both lock the request's row first (as decisions do), then read the
//! hold again, so a resume and a time-out racing each other give exactly one outcome.
//! A callback token is single-use: the hold it opened is closed by its first use.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::deliver::follow;
use super::transition::{carry_out, set_state, step_with};
use super::{RequestView, not_found, views};
use crate::db::extensions::CallbackRow;
use crate::db::{self, Conn};
use crate::domain::DomainError;
use crate::domain::extension::{CallbackOutcome, CallbackState, parse_message};
use crate::domain::ids::RequestId;
use crate::domain::lifecycle::Event;
use crate::domain::request::RequestState;
use crate::services::audit::Trail;
use crate::services::{Actor, ServiceError, ServiceResult, links};

pub const TIMEOUT_BATCH: i64 = 100;

fn refused_token() -> ServiceError {
    ServiceError::Unauthenticated("The callback token is not valid for this request.".to_string())
}

/// The outside system's answer for a request its extension holds, authenticated by
/// the call's callback token alone: 401 for a token that is unknown or another
/// request's, 409 for one already used or a request no longer waiting, 422 for a bad
/// message. Returns the request as it is afterwards.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn resume(
    pool: &PgPool,
    id: RequestId,
    token: &str,
    outcome: CallbackOutcome,
    message: Option<&str>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let message = parse_message(message).map_err(|m| DomainError::field("message", m))?;
    let hash = links::hash(token.trim());
    let found = {
        let mut conn = pool.acquire().await?;
        db::extensions::callback_by_token(&mut conn, &hash).await?
    };
    let Some(found) = found.filter(|c| c.request_id == id) else {
        return Err(refused_token());
    };
    let tenant = found.tenant_id;
    let mut tx = pool.begin().await?;
    let request = db::requests::lock(&mut tx, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    // Read again under the request's lock: a concurrent resume or time-out is done.
    let hold = db::extensions::callback_by_token(&mut tx, &hash)
        .await?
        .ok_or_else(refused_token)?;
    if hold.state != CallbackState::Waiting {
        return Err(DomainError::conflict(format!(
            "This callback token was already used (the hold is {}); the request is {}.",
            hold.state, request.state
        ))
        .into());
    }
    if request.state != RequestState::WaitingForCallback {
        return Err(DomainError::conflict(format!(
            "This request is {}; it is not waiting for a callback.",
            request.state
        ))
        .into());
    }
    let mut trail = Trail::default();
    let event = Event::CallbackResumed {
        stage: hold.stage,
        outcome,
        message: message.clone(),
    };
    let row = settle(&mut tx, &mut trail, request, &hold, event, now).await?;
    db::extensions::finish_callback(
        &mut tx,
        tenant,
        hold.id,
        CallbackState::Resumed,
        Some(outcome),
        message.as_deref(),
        now,
    )
    .await?;
    trail.write(&mut tx).await?;
    let view = views(&mut tx, tenant, vec![row])
        .await?
        .pop()
        .ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(view)
}

/// Feeds `event` to the request `hold` held and carries out the transition (as
/// Portico's own doing: the outside system is not a person).
async fn settle(
    conn: &mut Conn,
    trail: &mut Trail,
    mut request: crate::db::requests::RequestRow,
    hold: &CallbackRow,
    event: Event,
    now: DateTime<Utc>,
) -> ServiceResult<crate::db::requests::RequestRow> {
    let tenant = request.tenant_id;
    let policy = db::packages::get_policy(conn, tenant, request.policy_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("policy of request {} vanished", request.id))?;
    let settings = &policy.settings.0;
    let holds = crate::services::extensions::holds(conn, tenant, settings).await?;
    let stages = settings.approval.stages.len();
    let t = step_with(conn, &request, stages, holds, &[], event, now).await?;
    tracing::debug!(hold = %hold.id, state = %t.state, "hold settled");
    set_state(&mut request, &t, now);
    db::requests::save(conn, &request).await?;
    carry_out(conn, trail, &request, &t, Actor::System, None, now).await?;
    follow(
        conn,
        trail,
        &mut request,
        &policy,
        t.then,
        Actor::System,
        true,
        now,
    )
    .await?;
    Ok(request)
}

/// Applies `onTimeout` to holds past their due time; a hold whose request ended
/// otherwise meanwhile (canceled) is closed. Each hold in its own savepoint, so one
/// that cannot be settled now stays for the next run without holding up the others.
#[tracing::instrument(skip_all)]
pub async fn time_out_callbacks(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let due = db::extensions::claim_overdue(&mut tx, now, TIMEOUT_BATCH).await?;
    let count = due.len();
    for hold in due {
        let mut sp = sqlx::Connection::begin(&mut *tx).await?;
        match time_out(&mut sp, &hold, now).await {
            Ok(()) => sp.commit().await?,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), hold = %hold.id, "callback time-out failed");
                sp.rollback().await?;
            }
        }
    }
    tx.commit().await?;
    Ok(count)
}

async fn time_out(conn: &mut Conn, hold: &CallbackRow, now: DateTime<Utc>) -> ServiceResult<()> {
    let tenant = hold.tenant_id;
    let Some(request) = db::requests::lock(conn, tenant, hold.request_id).await? else {
        return Ok(());
    };
    if request.state != RequestState::WaitingForCallback {
        db::extensions::finish_callback(
            conn,
            tenant,
            hold.id,
            CallbackState::Closed,
            None,
            None,
            now,
        )
        .await?;
        return Ok(());
    }
    let mut trail = Trail::default();
    let event = Event::CallbackTimedOut {
        stage: hold.stage,
        outcome: hold.on_timeout,
    };
    settle(conn, &mut trail, request, hold, event, now).await?;
    db::extensions::finish_callback(
        conn,
        tenant,
        hold.id,
        CallbackState::TimedOut,
        Some(hold.on_timeout),
        None,
        now,
    )
    .await?;
    trail.write(conn).await
}
