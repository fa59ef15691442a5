//! Ships each tenant's audit log to its SIEM: lease the streams due, deliver each one's
//! next batch through `services::audit_stream`, and on failure retry with the webhooks'
//! backoff (forever: the log is never dropped; the admin page shows the last error).

use chrono::{DateTime, Utc};

use super::webhooks::{backoff, lease};
use crate::services::audit_stream::{self, Delivery};
use crate::state::AppState;

/// Streams delivered per run.
pub const BATCH: usize = 20;

#[tracing::instrument(skip_all)]
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let streams = audit_stream::claim(state.pool(), now, lease(state), BATCH as i64).await?;
    let mut more = false;
    for stream in &streams {
        let retry_at = now + backoff(stream.attempts + 1);
        match audit_stream::deliver(
            state.pool(),
            state.keys(),
            state.http(),
            stream,
            now,
            retry_at,
        )
        .await
        {
            Ok(Delivery::Idle) => {}
            Ok(Delivery::Delivered(n)) => {
                metrics::counter!("portico_audit_stream_events_total").increment(n as u64);
                more |= n as i64 >= audit_stream::EVENTS_PER_DELIVERY;
            }
            Ok(Delivery::Failed(error)) => {
                tracing::warn!(tenant = %stream.slug, attempt = stream.attempts + 1, error = %error, "audit events not delivered");
            }
            Err(e) => {
                tracing::error!(tenant = %stream.slug, error = format!("{e:#}"), "audit stream delivery failed");
            }
        }
    }
    // A stream with more waiting makes the run count as a full batch, so it runs again.
    Ok(if more { BATCH } else { 0 })
}
