//! Sends queued emails from the outbox: claim due `email` rows (SKIP LOCKED, so any
//! number of replicas can run this), render each (`email::render`), send it through
//! the configured mailer, then record success or schedule a retry with the webhooks'
//! exponential backoff; after 24 hours of failures the row is `failed` with its last
//! error kept (and listed by `GET /api/v1/outbox?state=failed`). The `Message-ID` is
//! derived from the row id, so every attempt sends the same message. Once a row no
//! longer needs it, the plain approval-link token is removed from its payload.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::webhooks::backoff;
use crate::domain::ids::{TenantId, UserId};
use crate::domain::outbox::OutboxKind;
use crate::email::render::message_id;
use crate::services::delivery::{self, Claimed};
use crate::services::mail::{self, RenderError, Rendered};
use crate::services::notify::Notice;
use crate::state::AppState;

pub const BATCH: usize = 50;
/// Longer than a batch of sends can take (each bounded by the SMTP timeout), so no
/// other replica re-claims a row that is being sent.
const LEASE_SECONDS: i64 = 15 * 60;
const GIVE_UP_AFTER_HOURS: i64 = 24;
/// One send may take at most this long, whatever the mailer.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(40);

/// The payload `services::notify::enqueue` writes.
#[derive(Deserialize)]
struct Payload {
    to: UserId,
    notice: Notice,
}

#[tracing::instrument(skip_all)]
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let rows = delivery::claim(
        state.pool(),
        OutboxKind::Email,
        now,
        Duration::seconds(LEASE_SECONDS),
        BATCH as i64,
    )
    .await?;
    let count = rows.len();
    let mut rows = rows.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        // Emails of a batch in flight at once (`PORTICO_SMTP_CONNECTIONS`): lettre writes
        // a message's end marker separately from its body, so on a kept-open connection
        // each message waits for the server's delayed ACK (about 40 ms on Linux); sending
        // several at once is what keeps throughput up.
        while running.len() < state.settings().smtp_connections
            && let Some(row) = rows.next()
        {
            let state = state.clone();
            running.spawn(async move {
                if let Err(e) = deliver(&state, &row, now).await {
                    tracing::error!(error = format!("{e:#}"), outbox = %row.id, "email delivery bookkeeping failed");
                }
            });
        }
        if running.join_next().await.is_none() {
            break;
        }
    }
    Ok(count)
}

/// What became of one attempt.
enum Outcome {
    Sent,
    Skipped(String),
    /// `(error, permanent)`
    Failed(String, bool),
}

async fn deliver(state: &AppState, row: &Claimed, now: DateTime<Utc>) -> anyhow::Result<()> {
    let outcome = attempt(state, row).await;
    finish(state, row.tenant_id, row, outcome, now).await
}

async fn attempt(state: &AppState, row: &Claimed) -> Outcome {
    let payload: Payload = match serde_json::from_value(row.payload.clone()) {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(format!("unreadable email payload: {e}"), true),
    };
    let rendered = match state.pool().acquire().await {
        Ok(mut conn) => {
            mail::render(
                &mut conn,
                state.settings(),
                row.tenant_id,
                payload.to,
                &payload.notice,
                message_id(row.id),
            )
            .await
        }
        Err(e) => Err(RenderError::Transient(e.into())),
    };
    let email = match rendered {
        Ok(Rendered::Send(email)) => email,
        Ok(Rendered::Skip(reason)) => return Outcome::Skipped(reason),
        Err(RenderError::Permanent(e)) => return Outcome::Failed(e, true),
        Err(e @ RenderError::Transient(_)) => return Outcome::Failed(format!("{e:#}"), false),
    };
    match tokio::time::timeout(SEND_TIMEOUT, state.mailer().send(&email)).await {
        Ok(Ok(())) => Outcome::Sent,
        Ok(Err(e)) => Outcome::Failed(format!("{e:#}"), false),
        Err(_) => Outcome::Failed(
            format!(
                "sending took longer than {} seconds",
                SEND_TIMEOUT.as_secs()
            ),
            false,
        ),
    }
}

/// Records the outcome: done, a retry, or a final failure.
async fn finish(
    state: &AppState,
    tenant: TenantId,
    row: &Claimed,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    match outcome {
        Outcome::Sent => {
            delivery::complete_email(state.pool(), tenant, row.id, now).await?;
            metrics::counter!("portico_emails_sent_total").increment(1);
        }
        Outcome::Skipped(reason) => {
            delivery::complete_email(state.pool(), tenant, row.id, now).await?;
            tracing::info!(outbox = %row.id, reason = %reason, "email not sent");
        }
        Outcome::Failed(error, permanent) => {
            let give_up = permanent || now - row.created_at >= Duration::hours(GIVE_UP_AFTER_HOURS);
            let retry_at = (!give_up).then(|| now + backoff(row.attempts));
            delivery::fail_email(state.pool(), tenant, row.id, &error, retry_at, now).await?;
            if give_up {
                metrics::counter!("portico_emails_failed_total").increment(1);
            }
            tracing::warn!(outbox = %row.id, attempt = row.attempts, final = give_up, error = %error, "email not delivered");
        }
    }
    Ok(())
}
