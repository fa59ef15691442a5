//! Jobs of the assignment and approval lifecycle, one per concern: expiry, expiry
//! warnings, escalation, stage time-outs, approver reminders. Each claims its due rows
//! with `FOR UPDATE SKIP LOCKED` through `services::lifecycle`.

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::services::{ServiceResult, lifecycle};
use crate::state::AppState;

pub const BATCH: usize = lifecycle::BATCH as usize;

/// Two batches at once, each in its own transaction: they claim disjoint assignments
/// (SKIP LOCKED) and take only shared locks on what they reference, so they cannot
/// wait on each other, and the database works on both cores.
pub async fn expire(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let (a, b) = tokio::join!(
        lifecycle::expire_due(state.pool(), now),
        lifecycle::expire_due(state.pool(), now)
    );
    let expired = |n: ServiceResult<usize>| n.context("expiring assignments");
    Ok(expired(a)? + expired(b)?)
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
