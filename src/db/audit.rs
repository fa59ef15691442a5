//! The audit log: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE).

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::ids::{AuditEventId, TenantId};

#[derive(Clone, Debug, FromRow)]
pub struct AuditEvent {
    pub tenant_id: TenantId,
    pub id: AuditEventId,
    pub at: DateTime<Utc>,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub actor_token_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    pub details: serde_json::Value,
    pub correlation_id: Option<Uuid>,
}

const COLUMNS: &str = "tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id";

pub async fn insert(conn: &mut Conn, e: &AuditEvent) -> DbResult<()> {
    sqlx::query(
        "insert into audit_events (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.tenant_id)
    .bind(e.id)
    .bind(e.at)
    .bind(&e.actor_type)
    .bind(e.actor_id)
    .bind(e.actor_token_id)
    .bind(&e.action)
    .bind(&e.target_type)
    .bind(e.target_id)
    .bind(&e.details)
    .bind(e.correlation_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    target: Option<Uuid>,
    after: Option<DateTime<Utc>>,
    page: PageRequest,
) -> DbResult<Page<AuditEvent>> {
    let rows: Vec<AuditEvent> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from audit_events
         where tenant_id = $1 and id < $2
           and ($3::uuid is null or target_id = $3)
           and ($4::timestamptz is null or at > $4)
         order by id desc limit $5"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(target)
    .bind(after)
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |e| e.id.0))
}
