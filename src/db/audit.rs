//! The audit log: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE). Each
//! event keeps the names of its actor and target as they were when it was written (read
//! in the inserting statement itself, `audit_person_name` / `audit_target_name`), so a
//! deleted object keeps its name in the log; events written before names were kept are
//! named as their objects are now.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::audit::{ActorType, AuditAction, Target, TargetType};
use crate::domain::ids::{OutboxId, TenantId};
pub use crate::model::audit::AuditEvent;

/// The columns of [`AuditEvent`] over `audit_events e`, with the names of older events
/// resolved as they are now.
pub(crate) const COLUMNS: &str = "e.tenant_id, e.id, e.at, e.actor_type, e.actor_id, e.actor_token_id, e.action, e.target_type, e.target_id, e.details, e.correlation_id,
     coalesce(e.actor_name, audit_person_name(e.tenant_id, e.actor_id)) as actor_name,
     coalesce(e.target_name, audit_target_name(e.tenant_id, e.target_type, e.target_id)) as target_name";

/// Which events of a tenant's log to read; every field left out matches all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The user who acted (in person or through one of their tokens).
    pub actor: Option<Uuid>,
    pub action: Option<AuditAction>,
    pub target_type: Option<TargetType>,
    pub target: Option<Uuid>,
    /// Events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time.
    pub to: Option<DateTime<Utc>>,
    /// Events strictly after this time.
    pub after: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Only events about `target`.
    pub fn target(target: Uuid) -> Self {
        Self {
            target: Some(target),
            ..Self::default()
        }
    }

    /// Appends ` and …` for each condition set (after `where e.tenant_id = …`). Only
    /// the conditions present reach the query, so each filtered page can use the index
    /// of its filter (`audit_events_*_idx`).
    pub(crate) fn push_conditions(&self, q: &mut QueryBuilder<Postgres>) {
        if let Some(a) = self.actor {
            q.push(" and e.actor_id = ").push_bind(a);
        }
        if let Some(a) = self.action {
            q.push(" and e.action = ").push_bind(a.as_str());
        }
        if let Some(t) = self.target_type {
            q.push(" and e.target_type = ").push_bind(t.as_str());
        }
        if let Some(t) = self.target {
            q.push(" and e.target_id = ").push_bind(t);
        }
        if let Some(t) = self.from {
            q.push(" and e.at >= ").push_bind(t);
        }
        if let Some(t) = self.to {
            q.push(" and e.at < ").push_bind(t);
        }
        if let Some(t) = self.after {
            q.push(" and e.at > ").push_bind(t);
        }
    }
}

/// The names an inserted row keeps, read in the inserting statement from `v`.
const NAMES: &str = "audit_person_name(v.tenant_id, v.actor_id), audit_target_name(v.tenant_id, v.target_type, v.target_id)";

pub async fn insert(conn: &mut Conn, e: &AuditEvent) -> DbResult<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into audit_events (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id, actor_name, target_name)
         select v.*, {NAMES}
         from (values ($1::uuid, $2::uuid, $3::timestamptz, $4::text, $5::uuid, $6::uuid, $7::text, $8::text, $9::uuid, $10::jsonb, $11::uuid))
              as v (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id)"
    )))
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

/// The query of a page of the log (for [`list`] and for checking its plan).
pub fn list_query(
    tenant: TenantId,
    filter: &AuditFilter,
    page: PageRequest,
) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new(format!(
        "select {COLUMNS} from audit_events e where e.tenant_id = "
    ));
    q.push_bind(tenant)
        .push(" and e.id < ")
        .push_bind(page.before_bound());
    filter.push_conditions(&mut q);
    q.push(" order by e.id desc limit ")
        .push_bind(page.fetch_limit());
    q
}

/// A page of the tenant's log matching `filter`, newest first.
pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    filter: &AuditFilter,
    page: PageRequest,
) -> DbResult<Page<AuditEvent>> {
    let rows: Vec<AuditEvent> = list_query(tenant, filter, page)
        .build_query_as()
        .fetch_all(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |e| e.id.0))
}

/// Inserts many events in one statement (batch jobs).
pub async fn insert_many(conn: &mut Conn, events: &[AuditEvent]) -> DbResult<()> {
    insert_many_with_emails(conn, events, &[]).await
}

/// An email a transaction queues: its outbox row, written with the audit events.
#[derive(Clone, Debug)]
pub struct QueuedEmail {
    pub tenant_id: TenantId,
    pub id: OutboxId,
    pub payload: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Writes `events` and the outbox rows of `emails` in one statement (nothing when both
/// are empty).
pub async fn insert_many_with_emails(
    conn: &mut Conn,
    events: &[AuditEvent],
    emails: &[QueuedEmail],
) -> DbResult<()> {
    if events.is_empty() && emails.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&AuditEvent) -> Option<Uuid>| events.iter().map(f).collect::<Vec<_>>();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "with emails as (
             insert into outbox (tenant_id, id, kind, payload, next_attempt_at, created_at)
             select t, i, 'email', p, c, c
             from unnest($12::uuid[], $13::uuid[], $14::jsonb[], $15::timestamptz[]) as x(t, i, p, c))
         insert into audit_events (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id, actor_name, target_name)
         select v.*, {NAMES}
         from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                     $9::uuid[], $10::jsonb[], $11::uuid[])
              as v (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details, correlation_id)"
    )))
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
    .bind(emails.iter().map(|e| e.tenant_id).collect::<Vec<_>>())
    .bind(emails.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(emails.iter().map(|e| e.payload.clone()).collect::<Vec<_>>())
    .bind(emails.iter().map(|e| e.at).collect::<Vec<_>>())
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
