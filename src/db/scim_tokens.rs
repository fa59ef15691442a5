//! SCIM bearer tokens (only a SHA-256 hash of each is stored) and the per-tenant SCIM
//! activity summary the admin page shows (one upsert per batch of SCIM calls, see
//! `services::scim::activity`).

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Conn, DbResult};
use crate::db::tenants::{COLUMNS as TENANT_COLUMNS, Tenant};
use crate::domain::ids::{ScimTokenId, TenantId, UserId};

/// A tenant's SCIM token, without its secret.
#[derive(Clone, Debug, FromRow)]
pub struct ScimToken {
    pub tenant_id: TenantId,
    pub id: ScimTokenId,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "tenant_id, id, name, token_hash, created_by, created_at, last_used_at, revoked_at";

pub async fn insert(conn: &mut Conn, t: &ScimToken) -> DbResult<()> {
    sqlx::query(
        "insert into scim_tokens (tenant_id, id, name, token_hash, created_by, created_at, last_used_at, revoked_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(t.tenant_id)
    .bind(t.id)
    .bind(&t.name)
    .bind(&t.token_hash)
    .bind(t.created_by)
    .bind(t.created_at)
    .bind(t.last_used_at)
    .bind(t.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut Conn,
    tenant: TenantId,
    id: ScimTokenId,
) -> DbResult<Option<ScimToken>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from scim_tokens where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The tenant's tokens, newest first (a tenant has a handful).
pub async fn list(conn: &mut Conn, tenant: TenantId) -> DbResult<Vec<ScimToken>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from scim_tokens where tenant_id = $1 order by id desc limit 500"
    )))
    .bind(tenant)
    .fetch_all(conn)
    .await?)
}

pub async fn revoke(
    conn: &mut Conn,
    tenant: TenantId,
    id: ScimTokenId,
    at: DateTime<Utc>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "update scim_tokens set revoked_at = $3 where tenant_id = $1 and id = $2 and revoked_at is null",
    )
    .bind(tenant)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A token presented to a tenant's SCIM base, with that tenant.
#[derive(Clone, Debug, FromRow)]
pub struct Presented {
    #[sqlx(flatten)]
    pub tenant: Tenant,
    pub token_id: ScimTokenId,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The token with this hash if it belongs to the tenant `slug`, with the tenant, in
/// one statement; a live token's `last_used_at` becomes `at` in the same statement
/// when it is older than a minute (so it is written about once a minute at most).
pub async fn present(
    conn: &mut Conn,
    slug: &str,
    hash: &[u8],
    at: DateTime<Utc>,
) -> DbResult<Option<Presented>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with found as (
             select {}, t.id as token_id, t.revoked_at, t.last_used_at
             from scim_tokens t join tenants te on te.id = t.tenant_id
             where t.token_hash = $1 and te.slug = $2),
         touched as (
             update scim_tokens s set last_used_at = $3 from found f
             where s.tenant_id = f.id and s.id = f.token_id and f.revoked_at is null
               and (f.last_used_at is null or f.last_used_at < $3 - interval '1 minute'))
         select * from found",
        super::qualified(TENANT_COLUMNS, "te")
    )))
    .bind(hash)
    .bind(slug)
    .bind(at)
    .fetch_optional(conn)
    .await?)
}

/// What the directory has done in a tenant, for the admin page.
#[derive(Clone, Debug, Default, FromRow)]
pub struct ScimActivity {
    pub last_call_at: Option<DateTime<Utc>>,
    pub last_method: Option<String>,
    pub last_path: Option<String>,
    pub last_status: Option<i32>,
    pub calls_total: i64,
    pub users_created: i64,
    pub users_updated: i64,
    pub users_deactivated: i64,
    pub groups_created: i64,
    pub groups_updated: i64,
    pub groups_deleted: i64,
}

/// What one SCIM call changed, counted into the activity row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScimCounts {
    pub users_created: i64,
    pub users_updated: i64,
    pub users_deactivated: i64,
    pub groups_created: i64,
    pub groups_updated: i64,
    pub groups_deleted: i64,
}

pub async fn activity(conn: &mut Conn, tenant: TenantId) -> DbResult<ScimActivity> {
    Ok(sqlx::query_as(
        "select last_call_at, last_method, last_path, last_status, calls_total, users_created,
                users_updated, users_deactivated, groups_created, groups_updated, groups_deleted
         from scim_activity where tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(conn)
    .await?
    .unwrap_or_default())
}

impl std::ops::AddAssign for ScimCounts {
    fn add_assign(&mut self, o: Self) {
        self.users_created += o.users_created;
        self.users_updated += o.users_updated;
        self.users_deactivated += o.users_deactivated;
        self.groups_created += o.groups_created;
        self.groups_updated += o.groups_updated;
        self.groups_deleted += o.groups_deleted;
    }
}

/// The last of some calls, and how many there were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastCall {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub at: DateTime<Utc>,
}

/// Records `calls` calls, the last of which was `last`, and what they changed (one
/// statement).
pub async fn record_calls(
    conn: &mut Conn,
    tenant: TenantId,
    last: &LastCall,
    calls: i64,
    counts: ScimCounts,
) -> DbResult<()> {
    sqlx::query(
        "insert into scim_activity as a (tenant_id, last_call_at, last_method, last_path, last_status,
             calls_total, users_created, users_updated, users_deactivated, groups_created,
             groups_updated, groups_deleted)
         values ($1, $2, $3, $4, $5, $12, $6, $7, $8, $9, $10, $11)
         on conflict (tenant_id) do update set
             last_call_at = excluded.last_call_at, last_method = excluded.last_method,
             last_path = excluded.last_path, last_status = excluded.last_status,
             calls_total = a.calls_total + excluded.calls_total,
             users_created = a.users_created + excluded.users_created,
             users_updated = a.users_updated + excluded.users_updated,
             users_deactivated = a.users_deactivated + excluded.users_deactivated,
             groups_created = a.groups_created + excluded.groups_created,
             groups_updated = a.groups_updated + excluded.groups_updated,
             groups_deleted = a.groups_deleted + excluded.groups_deleted",
    )
    .bind(tenant)
    .bind(last.at)
    .bind(&last.method)
    .bind(&last.path)
    .bind(i32::from(last.status))
    .bind(counts.users_created)
    .bind(counts.users_updated)
    .bind(counts.users_deactivated)
    .bind(counts.groups_created)
    .bind(counts.groups_updated)
    .bind(counts.groups_deleted)
    .bind(calls)
    .execute(conn)
    .await?;
    Ok(())
}
