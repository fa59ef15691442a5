//! Jobs of the assignment and approval lifecycle, one per concern: expiry, expiry
//! warnings, escalation, stage time-outs, approver reminders. Each claims its due rows
//! with `FOR UPDATE SKIP LOCKED` through `services::lifecycle`.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::services::lifecycle;
use crate::state::AppState;

pub const BATCH: usize = lifecycle::BATCH as usize;
const EXPIRY_BATCH: usize = lifecycle::EXPIRY_BATCH as usize;

/// How long one run of the expiry job keeps taking batches while they come back full,
/// before the other lifecycle jobs get their turn.
const EXPIRY_RUN: Duration = Duration::from_secs(2);

/// Two workers at once, each taking batch after batch (each batch its own
/// transaction) while batches come back full, for at most `EXPIRY_RUN`: they claim
/// disjoint assignments (SKIP LOCKED) and take only shared locks on what they
/// reference, so they cannot wait on each other, and the database works on both cores.
pub async fn expire(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let started = Instant::now();
    let worker = || async {
        let mut total = 0;
        loop {
            let n = lifecycle::expire_due(state.pool(), now)
                .await
                .context("expiring assignments")?;
            total += n;
            if n < EXPIRY_BATCH || started.elapsed() >= EXPIRY_RUN {
                return Ok::<usize, anyhow::Error>(total);
            }
        }
    };
    let (a, b) = tokio::join!(worker(), worker());
    Ok(a? + b?)
}

pub async fn warn(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::warn_due(state.pool(), now)
        .await
        .context("warning of expiring assignments")
}

pub async fn escalate(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::escalate_due(state.pool(), now)
        .await
        .context("escalating approval stages")
}

pub async fn time_out(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::time_out_due(state.pool(), now)
        .await
        .context("timing out approval stages")
}

pub async fn remind(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::remind_due(state.pool(), now)
        .await
        .context("reminding approvers")
}
