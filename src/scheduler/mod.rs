//! Time-driven work, one file per job. Each job is `run_once(&state, now)`: it claims
//! due rows with `FOR UPDATE SKIP LOCKED` (so any number of replicas can run it), acts
//! through `services`, and returns how much it did. The loop runs every
//! `PORTICO_SCHEDULER_INTERVAL_MS` until the cancellation token fires.

pub mod emails;
pub mod lifecycle;
pub mod reviews;
pub mod scheduled;
pub mod webhooks;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::startup::AppState;

/// Runs every job once; repeats right away while a job finds a full batch. Stage
/// time-outs run before escalations and reminders: a stage past its due time expires.
pub async fn tick(state: &AppState) {
    for _ in 0..20 {
        let now = state.now();
        let jobs = [
            (
                "webhooks",
                webhooks::run_once(state, now).await,
                webhooks::BATCH,
            ),
            (
                "scheduled",
                scheduled::run_once(state, now).await,
                scheduled::BATCH,
            ),
            (
                "expiry",
                lifecycle::expire(state, now).await,
                lifecycle::BATCH,
            ),
            (
                "expiryWarnings",
                lifecycle::warn(state, now).await,
                lifecycle::BATCH,
            ),
            (
                "stageTimeouts",
                lifecycle::time_out(state, now).await,
                lifecycle::BATCH,
            ),
            (
                "escalations",
                lifecycle::escalate(state, now).await,
                lifecycle::BATCH,
            ),
            (
                "approvalReminders",
                lifecycle::remind(state, now).await,
                lifecycle::BATCH,
            ),
            (
                "reviews",
                reviews::run_once(state, now).await,
                reviews::BATCH,
            ),
            // Last, so emails queued by the jobs above go out in the same tick.
            ("emails", emails::run_once(state, now).await, emails::BATCH),
        ];
        let mut busy = false;
        for (job, result, batch) in jobs {
            match result {
                Ok(n) => busy |= n >= batch,
                Err(e) => tracing::error!(error = format!("{e:#}"), job, "scheduler job failed"),
            }
        }
        if !busy {
            break;
        }
    }
}

/// Starts the loop; it stops after the current tick when `stop` is cancelled.
pub fn spawn(state: AppState, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = state.settings().scheduler_interval;
        loop {
            tick(&state).await;
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
        tracing::debug!("scheduler stopped");
    })
}
