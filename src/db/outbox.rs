//! The outbox: side effects (emails, connector calls) written in the transaction of the
//! change that caused them, delivered later by the scheduler.

use chrono::{DateTime, Utc};

use super::{Conn, DbResult};
use crate::domain::ids::{OutboxId, ResourceId, TenantId};
use crate::domain::outbox::{OutboxKind, OutboxState};
use crate::model::outbox::ConnectorHealth;
pub use crate::model::outbox::OutboxRow;

/// A row to add; `sequence_key` orders deliveries that must not overtake each other.
pub struct NewOutbox<'a> {
    pub id: OutboxId,
    pub tenant: TenantId,
    pub kind: OutboxKind,
    pub payload: &'a serde_json::Value,
    pub sequence_key: Option<&'a str>,
}

pub async fn enqueue(
    conn: &mut Conn,
    row: NewOutbox<'_>,
    now: DateTime<Utc>,
) -> DbResult<OutboxId> {
    sqlx::query(
        "insert into outbox (tenant_id, id, kind, payload, sequence_key, next_attempt_at, created_at)
         values ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(row.tenant)
    .bind(row.id)
    .bind(row.kind)
    .bind(row.payload)
    .bind(row.sequence_key)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(row.id)
}

/// Marks pending rows of a sequence as superseded (a revoke replaces an unsent grant);
/// returns how many were.
pub async fn supersede_pending(
    conn: &mut Conn,
    tenant: TenantId,
    sequence_key: &str,
    now: DateTime<Utc>,
) -> DbResult<u64> {
    let done = sqlx::query(
        "update outbox set state = 'superseded', completed_at = $3
         where tenant_id = $1 and sequence_key = $2 and state = 'pending' and attempts = 0
           and (locked_until is null or locked_until < $3)",
    )
    .bind(tenant)
    .bind(sequence_key)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Claims up to `limit` due rows of `kind` for `lease`: the oldest pending row of each
/// sequence only, skipping rows another process holds.
pub async fn claim(
    conn: &mut Conn,
    kind: OutboxKind,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> DbResult<Vec<OutboxRow>> {
    Ok(sqlx::query_as(
        "update outbox o set locked_until = $3, attempts = o.attempts + 1
         from (select tenant_id, id from outbox c
               where c.state = 'pending' and c.kind = $1 and c.next_attempt_at <= $2
                 and (c.locked_until is null or c.locked_until < $2)
                 and (c.sequence_key is null or not exists (
                      select 1 from outbox p where p.sequence_key = c.sequence_key and p.state = 'pending' and p.id < c.id))
               order by c.next_attempt_at limit $4
               for update skip locked) due
         where o.tenant_id = due.tenant_id and o.id = due.id
         returning o.tenant_id, o.id, o.kind, o.payload, o.state, o.attempts, o.next_attempt_at, o.last_error,
                   o.created_at, o.completed_at",
    )
    .bind(kind)
    .bind(now)
    .bind(now + lease)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn complete(
    conn: &mut Conn,
    tenant: TenantId,
    id: OutboxId,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query("update outbox set state = 'done', completed_at = $3, locked_until = null, last_error = null where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks an email sent (or deliberately skipped) and removes its plain link token, in
/// one statement.
pub async fn complete_email(
    conn: &mut Conn,
    tenant: TenantId,
    id: OutboxId,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update outbox set state = 'done', completed_at = $3, locked_until = null, last_error = null,
                payload = payload #- '{notice,token}'
         where tenant_id = $1 and id = $2 and kind = 'email'",
    )
    .bind(tenant)
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or failed for good when `None`.
pub async fn fail(
    conn: &mut Conn,
    tenant: TenantId,
    id: OutboxId,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update outbox set last_error = $3, last_error_at = $5, locked_until = null,
             state = case when $4::timestamptz is null then 'failed' else 'pending' end,
             next_attempt_at = coalesce($4, next_attempt_at),
             completed_at = case when $4::timestamptz is null then $5 else null end
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(error)
    .bind(retry_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues many rows of one kind in one statement (batch jobs).
pub async fn enqueue_many(
    conn: &mut Conn,
    kind: OutboxKind,
    rows: &[(TenantId, serde_json::Value)],
    now: DateTime<Utc>,
) -> DbResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into outbox (tenant_id, id, kind, payload, next_attempt_at, created_at)
         select t, i, $3, p, $4, $4 from unnest($1::uuid[], $2::uuid[], $5::jsonb[]) as x(t, i, p)",
    )
    .bind(rows.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(rows.iter().map(|_| OutboxId::new()).collect::<Vec<_>>())
    .bind(kind)
    .bind(now)
    .bind(rows.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the plain emailed-link token from an email row once it no longer needs it
/// (sent, or failed for good), so tokens do not linger in the database.
pub async fn forget_email_token(conn: &mut Conn, tenant: TenantId, id: OutboxId) -> DbResult<()> {
    sqlx::query(
        "update outbox set payload = payload #- '{notice,token}'
         where tenant_id = $1 and id = $2 and kind = 'email' and payload -> 'notice' ? 'token'",
    )
    .bind(tenant)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rows of a tenant, newest first, optionally of one state and kind.
pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    state: Option<OutboxState>,
    kind: Option<OutboxKind>,
    page: super::PageRequest,
) -> DbResult<super::Page<OutboxRow>> {
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "select tenant_id, id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, completed_at
         from outbox
         where tenant_id = $1 and ($2::text is null or state = $2) and ($3::text is null or kind = $3) and id < $4
         order by id desc limit $5",
    )
    .bind(tenant)
    .bind(state)
    .bind(kind)
    .bind(page.before_bound())
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(super::Page::from_rows(rows, page, |r| r.id.0))
}

const ROW_COLUMNS: &str = "tenant_id, id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, completed_at";

/// The row, locked for a change by an admin.
pub async fn lock(conn: &mut Conn, tenant: TenantId, id: OutboxId) -> DbResult<Option<OutboxRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ROW_COLUMNS} from outbox where tenant_id = $1 and id = $2 for update"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Whether a later row of the same sequence was queued after this one (a later call
/// for the same grant), which sending this one again would overtake.
pub async fn has_later_in_sequence(
    conn: &mut Conn,
    tenant: TenantId,
    id: OutboxId,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from outbox o join outbox p on p.tenant_id = o.tenant_id and p.sequence_key = o.sequence_key and p.id > o.id
                        where o.tenant_id = $1 and o.id = $2)",
    )
    .bind(tenant)
    .bind(id)
    .fetch_one(conn)
    .await?)
}

/// Puts a failed row back in the queue, due now, its attempts counted afresh; its last
/// error stays until the next attempt replaces it.
pub async fn requeue(
    conn: &mut Conn,
    tenant: TenantId,
    id: OutboxId,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update outbox set state = 'pending', attempts = 0, next_attempt_at = $3, completed_at = null,
             locked_until = null
         where tenant_id = $1 and id = $2 and state = 'failed'",
    )
    .bind(tenant)
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The health of the connectors of `resources`, from their calls, in one query: a
/// resource without calls has no row.
pub async fn connector_health(
    conn: &mut Conn,
    tenant: TenantId,
    resources: &[ResourceId],
) -> DbResult<Vec<ConnectorHealth>> {
    if resources.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = resources.iter().map(|r| r.0.to_string()).collect();
    let rows: Vec<ConnectorHealth> = sqlx::query_as(
        "select (payload ->> 'resourceId')::uuid as resource_id,
                max(completed_at) filter (where state = 'done') as last_success_at,
                max(last_error_at) filter (where last_error is not null) as last_error_at,
                (array_agg(last_error order by last_error_at desc nulls last, id desc)
                    filter (where last_error is not null))[1] as last_error,
                count(*) filter (where state = 'pending') as queued,
                count(*) filter (where state = 'failed') as failed
         from outbox
         where tenant_id = $1 and kind in ('webhook', 'scim', 'ldap')
           and payload ->> 'resourceId' = any($2::text[])
         group by 1",
    )
    .bind(tenant)
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(rows)
}
