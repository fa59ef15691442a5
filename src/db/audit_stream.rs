//! A tenant's audit stream: where its log is shipped, the sealed signing secret, and the
//! cursor of the last event delivered.
//!
//! Invariant (the order is commit-safe): events are shipped in `(xact_id, id)` order and
//! only once `xact_id` is below the oldest transaction still running
//! (`pg_snapshot_xmin(pg_current_snapshot())`). An event's id and time are taken before
//! its transaction commits, so a transaction that commits late would otherwise add an
//! event "before" a cursor that has moved on, and it would never be shipped; below the
//! snapshot's xmin no transaction can still add anything, so nothing lands behind the
//! cursor.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::audit::COLUMNS;
use super::{Conn, DbResult};
use crate::domain::ids::TenantId;
use crate::model::audit::AuditEvent;

/// What the settings page and API show of a stream (the secret stays sealed).
#[derive(Clone, Debug, FromRow)]
pub struct AuditStreamRow {
    pub tenant_id: TenantId,
    pub url: String,
    pub secret: String,
    pub enabled: bool,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub delivered_events: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLS: &str = "tenant_id, url, secret, enabled, attempts, next_attempt_at, last_error, last_delivered_at, delivered_events, created_at, updated_at";

pub async fn get(conn: &mut Conn, tenant: TenantId) -> DbResult<Option<AuditStreamRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLS} from audit_streams where tenant_id = $1"
    )))
    .bind(tenant)
    .fetch_optional(conn)
    .await?)
}

/// Creates or changes the stream. A new stream starts after the events already
/// shipped-safe (below the snapshot's xmin): it carries the events from its own set-up
/// on. A changed stream keeps its cursor, and is retried at once.
pub async fn upsert(
    conn: &mut Conn,
    tenant: TenantId,
    url: &str,
    sealed_secret: &str,
    enabled: bool,
    now: DateTime<Utc>,
) -> DbResult<AuditStreamRow> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into audit_streams (tenant_id, url, secret, enabled, cursor_xact, cursor_id,
                                    next_attempt_at, created_at, updated_at)
         values ($1, $2, $3, $4, pg_snapshot_xmin(pg_current_snapshot()), '00000000-0000-0000-0000-000000000000', $5, $5, $5)
         on conflict (tenant_id) do update
            set url = excluded.url, secret = excluded.secret, enabled = excluded.enabled,
                attempts = 0, next_attempt_at = excluded.next_attempt_at,
                updated_at = excluded.updated_at
         returning {COLS}"
    )))
    .bind(tenant)
    .bind(url)
    .bind(sealed_secret)
    .bind(enabled)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// A stream claimed for one delivery, with its cursor.
#[derive(Clone, Debug, FromRow)]
pub struct Claimed {
    pub tenant_id: TenantId,
    pub slug: String,
    pub url: String,
    pub secret: String,
    pub attempts: i32,
    /// `xid8` as text.
    pub cursor_xact: String,
    pub cursor_id: Uuid,
}

/// Leases up to `limit` enabled streams due at `now` (any replica; a lease that ran out
/// is taken over).
pub async fn claim(
    conn: &mut Conn,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<Claimed>> {
    Ok(sqlx::query_as(
        "with due as (
             select tenant_id from audit_streams
             where enabled and next_attempt_at <= $1 and (leased_until is null or leased_until <= $1)
             order by next_attempt_at limit $3
             for update skip locked)
         update audit_streams s set leased_until = $2
         from due, tenants t
         where s.tenant_id = due.tenant_id and t.id = s.tenant_id
         returning s.tenant_id, t.slug, s.url, s.secret, s.attempts, s.cursor_xact::text as cursor_xact, s.cursor_id",
    )
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// An event to ship and its place in the stream.
#[derive(Clone, Debug, FromRow)]
pub struct StreamEvent {
    #[sqlx(flatten)]
    pub event: AuditEvent,
    /// `xid8` as text.
    pub xact: String,
}

/// The next `limit` events after the cursor that no running transaction can precede.
pub async fn next_events(
    conn: &mut Conn,
    tenant: TenantId,
    cursor_xact: &str,
    cursor_id: Uuid,
    limit: i64,
) -> DbResult<Vec<StreamEvent>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS}, e.xact_id::text as xact from audit_events e
         where e.tenant_id = $1 and (e.xact_id, e.id) > ($2::xid8, $3)
           and e.xact_id < pg_snapshot_xmin(pg_current_snapshot())
         order by e.xact_id, e.id limit $4"
    )))
    .bind(tenant)
    .bind(cursor_xact)
    .bind(cursor_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Moves the cursor past a delivered batch (only if no one moved it meanwhile).
pub async fn delivered(
    conn: &mut Conn,
    tenant: TenantId,
    from: (&str, Uuid),
    to: (&str, Uuid),
    count: i64,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update audit_streams
         set cursor_xact = $4::xid8, cursor_id = $5, attempts = 0, last_error = null,
             last_delivered_at = $7, delivered_events = delivered_events + $6,
             next_attempt_at = $7, leased_until = null
         where tenant_id = $1 and cursor_xact = $2::xid8 and cursor_id = $3",
    )
    .bind(tenant)
    .bind(from.0)
    .bind(from.1)
    .bind(to.0)
    .bind(to.1)
    .bind(count)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends a lease with nothing to ship.
pub async fn release(conn: &mut Conn, tenant: TenantId) -> DbResult<()> {
    sqlx::query("update audit_streams set leased_until = null where tenant_id = $1")
        .bind(tenant)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed delivery: the error, and when to try again.
pub async fn failed(
    conn: &mut Conn,
    tenant: TenantId,
    error: &str,
    retry_at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update audit_streams
         set attempts = attempts + 1, last_error = $2, next_attempt_at = $3, leased_until = null
         where tenant_id = $1",
    )
    .bind(tenant)
    .bind(error)
    .bind(retry_at)
    .execute(conn)
    .await?;
    Ok(())
}
