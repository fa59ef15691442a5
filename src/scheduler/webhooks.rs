//! Delivers connector calls from the outbox: claim due rows (one per assignment and
//! role at a time, in order), call the target, then record success or schedule a retry
//! with exponential backoff; after 24 hours of failures the grant is `failed` and the
//! assignment shows it. Crash-safe: a claimed row whose process dies is retried when
//! its lease ends.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::connectors::webhook;
use crate::db::assignments::GrantRow;
use crate::db::outbox::OutboxRow;
use crate::db::{self};
use crate::domain::assignment::{GrantCall, GrantState};
use crate::domain::ids::{AssignmentId, ResourceId, ResourceRoleId, TenantId, UserId};
use crate::domain::outbox::OutboxKind;
use crate::services;
use crate::state::AppState;

pub const BATCH: usize = 20;
const GIVE_UP_AFTER_HOURS: i64 = 24;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Call {
    #[serde(rename = "type")]
    kind: GrantCall,
    assignment_id: AssignmentId,
    resource_role_id: ResourceRoleId,
    resource_id: ResourceId,
    user_id: UserId,
    occurred_at: DateTime<Utc>,
}

/// The outbox lease of this process, as a chrono duration.
pub fn lease(state: &AppState) -> Duration {
    Duration::from_std(state.settings().outbox_lease).unwrap_or(Duration::seconds(60))
}

/// Delay before retry `attempt` (1-based): 10 s doubling, at most an hour.
pub fn backoff(attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    Duration::seconds((10_i64 << exp.min(9)).min(3600))
}

#[tracing::instrument(skip_all)]
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let rows = {
        let mut conn = state.pool().acquire().await?;
        db::outbox::claim(
            &mut conn,
            OutboxKind::Webhook,
            now,
            lease(state),
            BATCH as i64,
        )
        .await?
    };
    let count = rows.len();
    for row in rows {
        if let Err(e) = deliver(state, &row, now).await {
            tracing::error!(error = format!("{e:#}"), outbox = %row.id, "webhook delivery bookkeeping failed");
        }
    }
    Ok(count)
}

async fn deliver(state: &AppState, row: &OutboxRow, now: DateTime<Utc>) -> anyhow::Result<()> {
    let tenant = row.tenant_id;
    let call: Call = serde_json::from_value(row.payload.clone())?;
    let (resource, role, user, slug) = {
        let mut conn = state.pool().acquire().await?;
        let resource = db::catalogs::get_resources(&mut conn, tenant, &[call.resource_id])
            .await?
            .pop();
        let role = db::catalogs::get_roles(&mut conn, tenant, &[call.resource_role_id])
            .await?
            .pop();
        let user = db::users::get(&mut conn, tenant, call.user_id).await?;
        let slug = db::tenants::get(&mut conn, tenant).await?.slug;
        (resource, role, user, slug)
    };
    let (Some(resource), Some(role), Some(user)) = (resource, role, user) else {
        return finish(
            state,
            tenant,
            row,
            &call,
            Err(("the resource or role no longer exists".into(), true)),
            now,
        )
        .await;
    };
    let (Some(url), Some(stored)) = (
        resource.connector_url.as_deref(),
        resource.connector_secret.as_deref(),
    ) else {
        return finish(state, tenant, row, &call, Ok(()), now).await;
    };
    let context = services::catalogs::connector_secret_context(tenant, resource.id);
    let secret = match state.keys().open(stored, &context) {
        Ok(secret) => secret,
        // Retried like an unreachable target: setting the secret again (or restoring
        // the key) lets the call through before the grant is given up.
        Err(e) => return finish(state, tenant, row, &call, Err((e.to_string(), false)), now).await,
    };
    let id = format!("msg_{}", row.id);
    let body = serde_json::to_vec(&json!({
        "id": id,
        "type": call.kind,
        "tenant": slug,
        "resource": {"id": resource.id, "displayName": resource.display_name},
        "role": {"id": role.id, "displayName": role.display_name},
        "user": {"id": user.id, "email": user.email, "externalId": user.external_id},
        "assignmentId": call.assignment_id,
        "occurredAt": call.occurred_at,
    }))?;
    let result = webhook::send(state.http(), url, &secret, &id, now.timestamp(), &body).await;
    finish(
        state,
        tenant,
        row,
        &call,
        result.map_err(|e| (e, false)),
        now,
    )
    .await
}

/// Records the outcome: success, a retry, or a final failure (`(message, permanent)`).
async fn finish(
    state: &AppState,
    tenant: TenantId,
    row: &OutboxRow,
    call: &Call,
    result: Result<(), (String, bool)>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut tx = state.pool().begin().await?;
    let current = db::assignments::grants_of(&mut tx, tenant, &[call.assignment_id])
        .await?
        .into_iter()
        .find(|g| g.resource_role_id == call.resource_role_id);
    let expected = call.kind.awaiting();
    let update_grant = |state: GrantState, error: Option<String>| GrantRow {
        tenant_id: tenant,
        assignment_id: call.assignment_id,
        resource_role_id: call.resource_role_id,
        state,
        error,
        updated_at: now,
    };
    match result {
        Ok(()) => {
            db::outbox::complete(&mut tx, tenant, row.id, now).await?;
            if current.as_ref().is_some_and(|g| g.state == expected) {
                db::assignments::upsert_grant(
                    &mut tx,
                    &update_grant(call.kind.settled(true), None),
                )
                .await?;
            }
        }
        Err((error, permanent)) => {
            let give_up = permanent || now - row.created_at >= Duration::hours(GIVE_UP_AFTER_HOURS);
            let retry_at = (!give_up).then(|| now + backoff(row.attempts));
            db::outbox::fail(&mut tx, tenant, row.id, &error, retry_at, now).await?;
            if let Some(g) = current.as_ref().filter(|g| g.state == expected) {
                let state = if give_up {
                    call.kind.settled(false)
                } else {
                    g.state
                };
                db::assignments::upsert_grant(&mut tx, &update_grant(state, Some(error.clone())))
                    .await?;
            }
            tracing::warn!(outbox = %row.id, attempt = row.attempts, final = give_up, error = %error, "webhook call failed");
        }
    }
    services::grants::refresh_state(&mut tx, tenant, call.assignment_id, now)
        .await
        .context("refreshing the assignment's state")?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(3), Duration::seconds(40));
        assert_eq!(backoff(12), Duration::seconds(3600));
    }
}
