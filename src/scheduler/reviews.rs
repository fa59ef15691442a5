//! Access reviews over time (DOMAIN.md §8, §9): close instances whose end has come
//! (applying their results when `autoApply`), start the instances whose period has
//! begun, and remind reviewers with undecided items once. Safe on many replicas: closes
//! and reminders are claimed with `FOR UPDATE SKIP LOCKED`, and an instance is unique per
//! (policy, period), so it starts once.

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::services;
use crate::state::AppState;

pub const BATCH: usize = 50;

#[tracing::instrument(skip_all)]
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let pool = state.pool();
    let limit = i64::try_from(BATCH).unwrap_or(i64::MAX);
    // Closing first frees a policy whose next period starts as the last one ends.
    let closed = services::reviews::close_due(pool, now, limit)
        .await
        .context("closing ended reviews")?;
    let started = services::reviews::start_due(pool, now, BATCH)
        .await
        .context("starting reviews")?;
    let reminded = services::reviews::remind_due(pool, now, limit)
        .await
        .context("reminding reviewers")?;
    Ok(closed.max(started).max(reminded))
}
