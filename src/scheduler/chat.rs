//! Delivers chat rows from the outbox: Slack messages, their updates and replies
//! (`slack`), and Teams cards (`teams`). Claim due rows (SKIP LOCKED; a Slack message's
//! post and updates stay in order), attempt each through `services::chat::deliver`,
//! then record success, a retry with the webhooks' backoff, or, after 24 hours or on a
//! refusal that retrying cannot fix, a final failure.

use chrono::{DateTime, Duration, Utc};

use super::webhooks::{backoff, lease};
use crate::domain::outbox::OutboxKind;
use crate::services::chat::ChatContext;
use crate::services::chat::deliver::{self, Outcome};
use crate::services::delivery::{self, Claimed};
use crate::state::AppState;

pub const BATCH: usize = 20;
const GIVE_UP_AFTER_HOURS: i64 = 24;

fn context(state: &AppState) -> ChatContext<'_> {
    ChatContext {
        pool: state.pool(),
        keys: state.keys(),
        http: state.http(),
        settings: state.settings(),
    }
}

#[tracing::instrument(skip_all)]
pub async fn run_slack(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    run(state, OutboxKind::Slack, now).await
}

#[tracing::instrument(skip_all)]
pub async fn run_teams(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    run(state, OutboxKind::Teams, now).await
}

async fn run(state: &AppState, kind: OutboxKind, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let rows = delivery::claim(state.pool(), kind, now, lease(state), BATCH as i64).await?;
    let count = rows.len();
    for row in rows {
        let outcome = match kind {
            OutboxKind::Teams => deliver::teams(context(state), &row, now).await,
            _ => deliver::slack(context(state), &row, now).await,
        };
        if let Err(e) = finish(state, &row, kind, &outcome, now).await {
            tracing::error!(error = format!("{e:#}"), outbox = %row.id, "chat delivery bookkeeping failed");
        }
    }
    Ok(count)
}

async fn finish(
    state: &AppState,
    row: &Claimed,
    kind: OutboxKind,
    outcome: &Outcome,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let give_up = now - row.created_at >= Duration::hours(GIVE_UP_AFTER_HOURS);
    let retry_at = (!give_up).then(|| now + backoff(row.attempts));
    deliver::finish(state.pool(), row.tenant_id, row.id, outcome, retry_at, now).await?;
    match outcome {
        Outcome::Done(None) => {
            metrics::counter!("portico_chat_sent_total", "kind" => kind.as_str()).increment(1);
        }
        Outcome::Done(Some(reason)) => {
            tracing::info!(outbox = %row.id, kind = %kind, reason = %reason, "chat message not sent");
        }
        Outcome::Retry(error) | Outcome::Failed(error) => {
            let last = give_up || matches!(outcome, Outcome::Failed(_));
            tracing::warn!(outbox = %row.id, kind = %kind, attempt = row.attempts, final = last, error = %error, "chat message not delivered");
        }
    }
    Ok(())
}
