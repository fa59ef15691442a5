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

/// One pass of the lifecycle jobs; repeats right away while a job finds a full batch.
/// Stage time-outs run before escalations and reminders: a stage past its due time
/// expires.
pub async fn tick_lifecycle(state: &AppState) {
    for _ in 0..20 {
        let now = state.now();
        let jobs = [
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
        ];
        if !report(jobs) {
            break;
        }
    }
}

const DELIVERY_PASS: std::time::Duration = std::time::Duration::from_secs(10);

/// One pass of the delivery jobs (connector calls and emails), which wait on the
/// outside world and so run beside the lifecycle jobs, never in their way.
/// Repeats while a job finds a full batch, for at most `DELIVERY_PASS` (so a stop
/// request is honoured soon even under a steady stream of emails).
pub async fn tick_delivery(state: &AppState) {
    let started = std::time::Instant::now();
    while started.elapsed() < DELIVERY_PASS {
        let now = state.now();
        let jobs = [
            (
                "webhooks",
                webhooks::run_once(state, now).await,
                webhooks::BATCH,
            ),
            ("emails", emails::run_once(state, now).await, emails::BATCH),
        ];
        if !report(jobs) {
            break;
        }
    }
}

/// Logs failures; whether any job found a full batch (more work waiting).
fn report<const N: usize>(jobs: [(&str, anyhow::Result<usize>, usize); N]) -> bool {
    let mut busy = false;
    for (job, result, batch) in jobs {
        match result {
            Ok(n) => busy |= n >= batch,
            Err(e) => tracing::error!(error = format!("{e:#}"), job, "scheduler job failed"),
        }
    }
    busy
}

/// Every job once (lifecycle, then delivery).
pub async fn tick(state: &AppState) {
    tick_lifecycle(state).await;
    tick_delivery(state).await;
}

/// Starts the two loops; they stop after their current pass when `stop` is cancelled.
pub fn spawn(state: AppState, stop: CancellationToken) -> JoinHandle<()> {
    let lifecycle = spawn_loop(state.clone(), stop.clone(), Loop::Lifecycle);
    let delivery = spawn_loop(state, stop, Loop::Delivery);
    tokio::spawn(async move {
        for (name, handle) in [("lifecycle", lifecycle), ("delivery", delivery)] {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, name, "scheduler loop ended abnormally");
            }
        }
        tracing::debug!("scheduler stopped");
    })
}

#[derive(Clone, Copy)]
enum Loop {
    Lifecycle,
    Delivery,
}

fn spawn_loop(state: AppState, stop: CancellationToken, which: Loop) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = state.settings().scheduler_interval;
        loop {
            match which {
                Loop::Lifecycle => tick_lifecycle(&state).await,
                Loop::Delivery => tick_delivery(&state).await,
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    })
}
