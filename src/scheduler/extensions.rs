//! Custom extensions: sends queued extension calls (signed like webhook connector
//! calls, retried with the same backoff for up to 24 hours, then failed for good and
//! written into the request's history), and applies `onTimeout` to requests whose
//! extension did not call back in time.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::webhooks::{backoff, lease};
use crate::connectors::webhook;
use crate::domain::ids::ExtensionId;
use crate::domain::outbox::OutboxKind;
use crate::services::delivery::{self, Claimed};
use crate::services::extensions::delivery::{self as calls, Attempt};
use crate::services::extensions::secret_context;
use crate::state::AppState;

pub const BATCH: usize = 20;
const GIVE_UP_AFTER_HOURS: i64 = 24;

#[tracing::instrument(skip_all)]
pub async fn run_calls(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let rows = delivery::claim(
        state.pool(),
        OutboxKind::Extension,
        now,
        lease(state),
        BATCH as i64,
    )
    .await?;
    let count = rows.len();
    for row in rows {
        if let Err(e) = deliver(state, &row, now).await {
            tracing::error!(error = format!("{e:#}"), outbox = %row.id, "extension call bookkeeping failed");
        }
    }
    Ok(count)
}

/// Requests held past their extension's timeout get its `onTimeout`.
#[tracing::instrument(skip_all)]
pub async fn run_timeouts(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    Ok(crate::services::requests::time_out_callbacks(state.pool(), now).await?)
}

/// The body of a call: what was written when it was queued, with its id (the outbox
/// row's, the same on every retry) and, for a waiting extension, where and with what
/// to call back.
fn body(state: &AppState, row: &Claimed, id: &str) -> Value {
    let mut body = row.payload["body"].clone();
    body["id"] = Value::from(id);
    if let Some(token) = row.payload["callbackToken"].as_str() {
        let request = row.payload["requestId"].as_str().unwrap_or_default();
        body["callbackUrl"] = Value::from(format!(
            "{}/api/v1/assignmentRequests/{request}/resume",
            state.settings().public_url()
        ));
        body["callbackToken"] = Value::from(token);
    }
    body
}

async fn deliver(state: &AppState, row: &Claimed, now: DateTime<Utc>) -> anyhow::Result<()> {
    let tenant = row.tenant_id;
    let extension = row.payload["extensionId"]
        .as_str()
        .and_then(|s| s.parse::<ExtensionId>().ok());
    let found = match extension {
        Some(id) => calls::extension(state.pool(), tenant, id).await?,
        None => None,
    };
    let result = match found {
        None => Err(("the custom extension no longer exists".to_string(), true)),
        Some(ext) => match state
            .keys()
            .open(&ext.secret, &secret_context(tenant, ext.id))
        {
            // Retried like an unreachable target: setting the secret again lets it through.
            Err(e) => Err((e.to_string(), false)),
            Ok(secret) => {
                let id = format!("msg_{}", row.id);
                let bytes = serde_json::to_vec(&body(state, row, &id))?;
                webhook::send(
                    state.http(),
                    &ext.url,
                    &secret,
                    &id,
                    now.timestamp(),
                    &bytes,
                )
                .await
                .map_err(|e| (e, false))
            }
        },
    };
    let attempt = match &result {
        Ok(()) => Attempt::Delivered,
        Err((error, permanent)) => {
            let give_up =
                *permanent || now - row.created_at >= Duration::hours(GIVE_UP_AFTER_HOURS);
            tracing::warn!(outbox = %row.id, attempt = row.attempts, final = give_up, error = %error, "extension call failed");
            Attempt::Failed {
                error,
                retry_at: (!give_up).then(|| now + backoff(row.attempts)),
            }
        }
    };
    calls::record(state.pool(), tenant, row.id, &row.payload, attempt, now).await?;
    Ok(())
}
