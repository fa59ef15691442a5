//! The outbox: side effects (emails, connector calls) written in the transaction of the
//! change that caused them, delivered later by the scheduler.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Conn, DbResult};
use crate::domain::ids::{OutboxId, TenantId};

#[derive(Clone, Debug, FromRow)]
pub struct OutboxRow {
    pub tenant_id: TenantId,
    pub id: OutboxId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

pub async fn enqueue(
    conn: &mut Conn,
    tenant: TenantId,
    kind: &str,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> DbResult<OutboxId> {
    let id = OutboxId::new();
    sqlx::query(
        "insert into outbox (tenant_id, id, kind, payload, next_attempt_at, created_at)
         values ($1, $2, $3, $4, $5, $5)",
    )
    .bind(tenant)
    .bind(id)
    .bind(kind)
    .bind(payload)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}
