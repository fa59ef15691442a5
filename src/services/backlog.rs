//! How far behind the scheduler's work is (`portico_scheduler_job_lag_seconds`).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::db;
pub use crate::db::backlog::DueWork;

/// When the oldest item of `work` became due, if any is due at `now`.
#[tracing::instrument(skip_all)]
pub async fn oldest_due(
    pool: &PgPool,
    work: DueWork,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut conn = pool.acquire().await?;
    Ok(db::backlog::oldest_due(&mut conn, work, now).await?)
}
