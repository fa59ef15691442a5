//! Delivers `scheduled` requests whose start has come.

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::services;
use crate::state::AppState;

pub const BATCH: usize = 100;

#[tracing::instrument(skip_all)]
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    services::requests::deliver_due_scheduled(state.pool(), now)
        .await
        .context("delivering scheduled requests")
}
