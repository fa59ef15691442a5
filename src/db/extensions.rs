//! Custom extensions of catalogs and the callbacks that hold requests for them. Every
//! function is scoped by tenant, except `callback_by_token`: the resume endpoint has
//! no tenant but the token's, and the token's hash is unique across tenants.

use chrono::{DateTime, Utc};

use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::extension::{CallbackOutcome, CallbackState, ExtensionStage};
use crate::domain::ids::{CallbackId, CatalogId, ExtensionId, PolicyId, RequestId, TenantId};
pub use crate::model::extensions::{CallbackRow, ExtensionRow};

pub(crate) const COLUMNS: &str = "tenant_id, id, catalog_id, display_name, url, secret, behavior, timeout_minutes, on_timeout, created_at, updated_at";
const CALLBACK_COLUMNS_C: &str = "c.tenant_id, c.id, c.request_id, c.extension_id, c.stage, c.token_hash, c.on_timeout, c.state, c.outcome, c.message, c.due_at, c.created_at, c.completed_at";
const CALLBACK_COLUMNS: &str = "tenant_id, id, request_id, extension_id, stage, token_hash, on_timeout, state, outcome, message, due_at, created_at, completed_at";

pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
    page: PageRequest,
) -> DbResult<Page<ExtensionRow>> {
    let rows: Vec<ExtensionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from custom_extensions where tenant_id = $1 and catalog_id = $2 and id < $3
         order by id desc limit $4"
    )))
    .bind(tenant)
    .bind(catalog)
    .bind(page.before_bound())
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |r| r.id.0))
}

pub async fn get(
    conn: &mut Conn,
    tenant: TenantId,
    id: ExtensionId,
) -> DbResult<Option<ExtensionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from custom_extensions where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn get_many(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[ExtensionId],
) -> DbResult<Vec<ExtensionRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from custom_extensions where tenant_id = $1 and id = any($2)"
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

pub async fn insert(conn: &mut Conn, e: &ExtensionRow) -> DbResult<()> {
    sqlx::query(
        "insert into custom_extensions (tenant_id, id, catalog_id, display_name, url, secret, behavior,
             timeout_minutes, on_timeout, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.tenant_id)
    .bind(e.id)
    .bind(e.catalog_id)
    .bind(&e.display_name)
    .bind(&e.url)
    .bind(&e.secret)
    .bind(e.behavior)
    .bind(e.timeout_minutes)
    .bind(e.on_timeout)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut Conn, e: &ExtensionRow) -> DbResult<()> {
    sqlx::query(
        "update custom_extensions set display_name = $3, url = $4, secret = $5, behavior = $6,
             timeout_minutes = $7, on_timeout = $8, updated_at = $9
         where tenant_id = $1 and id = $2",
    )
    .bind(e.tenant_id)
    .bind(e.id)
    .bind(&e.display_name)
    .bind(&e.url)
    .bind(&e.secret)
    .bind(e.behavior)
    .bind(e.timeout_minutes)
    .bind(e.on_timeout)
    .bind(e.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks an extension for a change or a deletion.
pub async fn lock(
    conn: &mut Conn,
    tenant: TenantId,
    id: ExtensionId,
) -> DbResult<Option<ExtensionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from custom_extensions where tenant_id = $1 and id = $2 for update"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn delete(conn: &mut Conn, tenant: TenantId, id: ExtensionId) -> DbResult<()> {
    sqlx::query("delete from custom_extensions where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A policy that names an extension: (policy id, policy name, package name).
pub type PolicyUse = (PolicyId, String, String);

/// The policies (with their packages) whose `customExtensions` name `id`, at any
/// stage or (when `stages` is given) at one of `stages`.
pub async fn policies_using(
    conn: &mut Conn,
    tenant: TenantId,
    id: ExtensionId,
    stages: Option<&[ExtensionStage]>,
) -> DbResult<Vec<PolicyUse>> {
    let stages: Option<Vec<&str>> = stages.map(|s| s.iter().map(|x| x.as_str()).collect());
    Ok(sqlx::query_as(
        "select p.id, p.display_name, k.display_name from policies p
           join access_packages k on k.tenant_id = p.tenant_id and k.id = p.package_id
         where p.tenant_id = $1
           and exists (select 1 from jsonb_array_elements(coalesce(p.settings -> 'customExtensions', '[]'::jsonb)) e
                       where e ->> 'extensionId' = $2 and ($3::text[] is null or e ->> 'stage' = any($3)))
         order by k.display_name, p.display_name",
    )
    .bind(tenant)
    .bind(id.0.to_string())
    .bind(stages)
    .fetch_all(conn)
    .await?)
}

pub async fn insert_callback(conn: &mut Conn, c: &CallbackRow) -> DbResult<()> {
    sqlx::query(
        "insert into request_callbacks (tenant_id, id, request_id, extension_id, stage, token_hash, on_timeout,
             state, outcome, message, due_at, created_at, completed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(c.tenant_id)
    .bind(c.id)
    .bind(c.request_id)
    .bind(c.extension_id)
    .bind(c.stage)
    .bind(&c.token_hash)
    .bind(c.on_timeout)
    .bind(c.state)
    .bind(c.outcome)
    .bind(&c.message)
    .bind(c.due_at)
    .bind(c.created_at)
    .bind(c.completed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The callback a token belongs to, in any tenant (see the module header).
pub async fn callback_by_token(conn: &mut Conn, hash: &[u8]) -> DbResult<Option<CallbackRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {CALLBACK_COLUMNS} from request_callbacks where token_hash = $1"
    )))
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

/// The holds of a request, oldest first.
pub async fn callbacks_of(
    conn: &mut Conn,
    tenant: TenantId,
    request: RequestId,
) -> DbResult<Vec<CallbackRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {CALLBACK_COLUMNS} from request_callbacks where tenant_id = $1 and request_id = $2 order by id"
    )))
    .bind(tenant)
    .bind(request)
    .fetch_all(conn)
    .await?)
}

/// Closes a hold: resumed, timed out or closed, with the outcome it had.
pub async fn finish_callback(
    conn: &mut Conn,
    tenant: TenantId,
    id: CallbackId,
    state: CallbackState,
    outcome: Option<CallbackOutcome>,
    message: Option<&str>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update request_callbacks set state = $3, outcome = $4, message = $5, completed_at = $6
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(state)
    .bind(outcome)
    .bind(message)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims up to `limit` waiting holds past their due time by locking their requests
/// (SKIP LOCKED: replicas share them; the claim lasts as long as the caller's
/// transaction). The request is locked first, as a resume does, so the two never wait
/// on each other in opposite orders.
pub async fn claim_overdue(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<CallbackRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {c} from request_callbacks c
           join assignment_requests r on r.tenant_id = c.tenant_id and r.id = c.request_id
         where c.state = 'waiting' and c.due_at <= $1
         order by c.due_at limit $2
         for update of r skip locked",
        c = CALLBACK_COLUMNS_C
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Removes the plain callback token from a call's outbox row (sent, or failed for
/// good: it is not needed again).
pub async fn forget_call_token(
    conn: &mut Conn,
    tenant: TenantId,
    id: crate::domain::ids::OutboxId,
) -> DbResult<()> {
    sqlx::query(
        "update outbox set payload = payload - 'callbackToken'
         where tenant_id = $1 and id = $2 and kind = 'extension'",
    )
    .bind(tenant)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
