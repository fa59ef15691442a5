//! Records kept in `outbox`: what `db::outbox` reads and writes and services hand out.

use crate::domain::ids::{OutboxId, TenantId};
use crate::domain::outbox::{OutboxKind, OutboxState};
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct OutboxRow {
    pub tenant_id: TenantId,
    pub id: OutboxId,
    pub kind: OutboxKind,
    pub payload: serde_json::Value,
    pub state: OutboxState,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// How a resource's connector is doing, read from its calls in the outbox: when a
/// call last succeeded, the most recent error still standing on a call (and when it
/// was recorded), and how many calls wait (pending or retrying) or failed for good.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromRow)]
pub struct ConnectorHealth {
    pub resource_id: uuid::Uuid,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub queued: i64,
    pub failed: i64,
}
