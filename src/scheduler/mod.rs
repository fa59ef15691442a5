//! Time-driven work, one file per job. Each job is `run_once(&state, now)`: it claims
//! due rows with `FOR UPDATE SKIP LOCKED` (so any number of replicas can run it), acts
//! through `services`, and returns how much it did. The loop runs every
//! `PORTICO_SCHEDULER_INTERVAL_MS` until the cancellation token fires.

pub mod emails;
pub mod scheduled;
pub mod webhooks;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::startup::AppState;

/// Runs every job once; repeats a job right away while it finds full batches.
pub async fn tick(state: &AppState) {
    for _ in 0..20 {
        let now = state.now();
        let mut busy = false;
        match webhooks::run_once(state, now).await {
            Ok(n) => busy |= n >= webhooks::BATCH,
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                job = "webhooks",
                "scheduler job failed"
            ),
        }
        match scheduled::run_once(state, now).await {
            Ok(n) => busy |= n >= scheduled::BATCH,
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                job = "scheduled",
                "scheduler job failed"
            ),
        }
        // Last, so emails queued by the jobs above go out in the same tick.
        match emails::run_once(state, now).await {
            Ok(n) => busy |= n >= emails::BATCH,
            Err(e) => tracing::error!(
                error = format!("{e:#}"),
                job = "emails",
                "scheduler job failed"
            ),
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
