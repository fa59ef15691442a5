//! Delivers connector calls from the outbox: claim due rows (one per assignment and
//! role at a time, in order), call their targets concurrently, then record success or schedule a retry
//! with exponential backoff; after 24 hours of failures the grant is `failed` and the
//! assignment shows it. Crash-safe: a claimed row whose process dies is retried when
//! its lease ends. Webhook rows are claimed by this job, SCIM rows by `scim` and LDAP
//! rows by `ldap`; all deliver to the resource's connector as it is when the call is
//! made.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::connectors::webhook;
use crate::domain::assignment::GrantCall;
use crate::domain::connector::Connector;
use crate::domain::ids::{AssignmentId, ResourceId, ResourceRoleId, TenantId, UserId};
use crate::domain::outbox::OutboxKind;
use crate::services;
use crate::services::delivery::{self, CallOutcome, Claimed};
use crate::state::AppState;

pub const BATCH: usize = 20;
const GIVE_UP_AFTER_HOURS: i64 = 24;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Call {
    #[serde(rename = "type")]
    pub kind: GrantCall,
    pub assignment_id: AssignmentId,
    pub resource_role_id: ResourceRoleId,
    pub resource_id: ResourceId,
    pub user_id: UserId,
    pub occurred_at: DateTime<Utc>,
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
    run_kind(state, OutboxKind::Webhook, now).await
}

/// Claims and delivers one batch of connector calls of `kind`.
pub(super) async fn run_kind(
    state: &AppState,
    kind: OutboxKind,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let rows = delivery::claim(state.pool(), kind, now, lease(state), BATCH as i64).await?;
    let count = rows.len();
    // The claim takes at most one row of each sequence (an assignment's role), the
    // earliest, so the rows of a batch are independent: their calls go out together.
    let mut calls = tokio::task::JoinSet::new();
    for row in rows {
        let state = state.clone();
        calls.spawn(async move {
            if let Err(e) = deliver(&state, &row, now).await {
                tracing::error!(error = format!("{e:#}"), outbox = %row.id, %kind, "connector delivery bookkeeping failed");
            }
        });
    }
    while let Some(done) = calls.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, %kind, "a connector delivery task ended abnormally");
        }
    }
    Ok(count)
}

async fn deliver(state: &AppState, row: &Claimed, now: DateTime<Utc>) -> anyhow::Result<()> {
    let tenant = row.tenant_id;
    let call: Call = serde_json::from_value(row.payload.clone())?;
    let target = delivery::call_target(
        state.pool(),
        tenant,
        call.resource_id,
        call.resource_role_id,
        call.user_id,
    )
    .await?;
    let Some(target) = target else {
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
    // Without a connector (removed since) there is nothing to call.
    let (Some(connector), Some(stored)) =
        (target.connector.clone(), target.connector_secret.as_deref())
    else {
        return finish(state, tenant, row, &call, Ok(()), now).await;
    };
    let context = services::catalogs::connector_secret_context(tenant, target.resource_id);
    let secret = match state.keys().open(stored, &context) {
        Ok(secret) => secret,
        // Retried like an unreachable target: setting the secret again (or restoring
        // the key) lets the call through before the grant is given up.
        Err(e) => return finish(state, tenant, row, &call, Err((e.to_string(), false)), now).await,
    };
    let result = match &connector {
        Connector::Ldap { .. } => {
            super::ldap::call(state, &call, &target, &connector, &secret).await
        }
        Connector::Webhook { url } => {
            send_webhook(state, row, &call, &target, url, &secret, now).await?
        }
        Connector::Scim {
            base_url,
            deactivate_on_last_revoke,
        } => {
            super::scim::call(
                state,
                tenant,
                &call,
                &target,
                base_url,
                &secret,
                *deactivate_on_last_revoke,
            )
            .await?
        }
    };
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

/// One signed webhook call for `row`.
async fn send_webhook(
    state: &AppState,
    row: &Claimed,
    call: &Call,
    target: &delivery::CallTarget,
    url: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<(), String>> {
    let id = format!("msg_{}", row.id);
    let body = serde_json::to_vec(&json!({
        "id": id,
        "type": call.kind,
        "tenant": target.tenant,
        "resource": {"id": target.resource_id, "displayName": target.resource_name},
        "role": {"id": target.role_id, "displayName": target.role_name},
        "user": {"id": target.user_id, "email": target.user_email, "externalId": target.user_external_id},
        "assignmentId": call.assignment_id,
        "occurredAt": call.occurred_at,
    }))?;
    Ok(webhook::send(state.http(), url, secret, &id, now.timestamp(), &body).await)
}

/// Records the outcome: success, a retry, or a final failure (`(message, permanent)`).
async fn finish(
    state: &AppState,
    tenant: TenantId,
    row: &Claimed,
    call: &Call,
    result: Result<(), (String, bool)>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let call = delivery::Call {
        outbox_id: row.id,
        kind: call.kind,
        assignment_id: call.assignment_id,
        resource_role_id: call.resource_role_id,
    };
    match result {
        Ok(()) => {
            delivery::record_call(state.pool(), tenant, call, CallOutcome::Delivered, now).await
        }
        Err((error, permanent)) => {
            let give_up = permanent || now - row.created_at >= Duration::hours(GIVE_UP_AFTER_HOURS);
            let retry_at = (!give_up).then(|| now + backoff(row.attempts));
            let outcome = CallOutcome::Failed {
                error: &error,
                retry_at,
            };
            delivery::record_call(state.pool(), tenant, call, outcome, now).await?;
            tracing::warn!(outbox = %row.id, attempt = row.attempts, final = give_up, error = %error, "connector call failed");
            Ok(())
        }
    }
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
