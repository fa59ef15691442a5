//! Jobs of the assignment and approval lifecycle, one per concern: expiry, expiry
//! warnings, escalation, stage time-outs, approver reminders. Each claims its due rows
//! with `FOR UPDATE SKIP LOCKED` through `services::lifecycle`.

use chrono::{DateTime, Utc};

use crate::services::{ServiceError, lifecycle};
use crate::startup::AppState;

pub const BATCH: usize = lifecycle::BATCH as usize;

fn err(e: ServiceError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn expire(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::expire_due(state.pool(), now).await.map_err(err)
}

pub async fn warn(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::warn_due(state.pool(), now).await.map_err(err)
}

pub async fn escalate(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::escalate_due(state.pool(), now)
        .await
        .map_err(err)
}

pub async fn time_out(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::time_out_due(state.pool(), now)
        .await
        .map_err(err)
}

pub async fn remind(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    lifecycle::remind_due(state.pool(), now).await.map_err(err)
}
