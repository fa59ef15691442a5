//! The audit log: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::audit::{ActorType, Target};
use crate::domain::ids::TenantId;
pub use crate::model::audit::AuditEvent;

const COLUMNS: &str = "tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id";

pub async fn insert(conn: &mut Conn, e: &AuditEvent) -> DbResult<()> {
    sqlx::query(
        "insert into audit_events (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.tenant_id)
    .bind(e.id)
    .bind(e.at)
    .bind(e.actor_type)
    .bind(e.actor_id)
    .bind(e.actor_token_id)
    .bind(e.action)
    .bind(e.target_type)
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

/// Inserts many events in one statement (batch jobs).
pub async fn insert_many(conn: &mut Conn, events: &[AuditEvent]) -> DbResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&AuditEvent) -> Option<Uuid>| events.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "insert into audit_events (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id)
         select * from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                              $9::uuid[], $10::jsonb[], $11::uuid[])",
    )
    .bind(events.iter().map(|e| e.tenant_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.at).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.actor_type).collect::<Vec<_>>())
    .bind(col(|e| e.actor_id))
    .bind(col(|e| e.actor_token_id))
    .bind(events.iter().map(|e| e.action).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.target_type).collect::<Vec<_>>())
    .bind(col(|e| e.target_id))
    .bind(events.iter().map(|e| e.details.clone()).collect::<Vec<_>>())
    .bind(col(|e| e.correlation_id))
    .execute(conn)
    .await?;
    Ok(())
}

/// Who changed `target` last, and when: its latest audit event's actor and time.
pub async fn last_change(
    conn: &mut Conn,
    tenant: TenantId,
    target: Target,
) -> DbResult<Option<(ActorType, Option<Uuid>, DateTime<Utc>)>> {
    let (kind, id) = target.parts();
    Ok(sqlx::query_as(
        "select actor_type, actor_id, at from audit_events
         where tenant_id = $1 and target_type = $2 and target_id = $3
         order by id desc limit 1",
    )
    .bind(tenant)
    .bind(kind)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}
