//! API tokens: only a SHA-256 hash of each token is stored.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Conn, DbResult};
use crate::domain::ids::{TenantId, TokenId, UserId};

#[derive(Clone, Debug, FromRow)]
pub struct ApiToken {
    pub tenant_id: TenantId,
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "tenant_id, id, user_id, name, token_hash, created_at, last_used_at, expires_at, revoked_at";

pub async fn insert(conn: &mut Conn, t: &ApiToken) -> DbResult<()> {
    sqlx::query(
        "insert into api_tokens (tenant_id, id, user_id, name, token_hash, created_at, last_used_at, expires_at, revoked_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(t.tenant_id)
    .bind(t.id)
    .bind(t.user_id)
    .bind(&t.name)
    .bind(&t.token_hash)
    .bind(t.created_at)
    .bind(t.last_used_at)
    .bind(t.expires_at)
    .bind(t.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_hash(conn: &mut Conn, hash: &[u8]) -> DbResult<Option<ApiToken>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from api_tokens where token_hash = $1"
    )))
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

pub async fn get(conn: &mut Conn, tenant: TenantId, id: TokenId) -> DbResult<Option<ApiToken>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from api_tokens where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn revoke(
    conn: &mut Conn,
    tenant: TenantId,
    id: TokenId,
    at: DateTime<Utc>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "update api_tokens set revoked_at = $3 where tenant_id = $1 and id = $2 and revoked_at is null",
    )
    .bind(tenant)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every token of a user (deactivation).
pub async fn revoke_all_of_user(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    at: DateTime<Utc>,
) -> DbResult<u64> {
    let done = sqlx::query(
        "update api_tokens set revoked_at = $3 where tenant_id = $1 and user_id = $2 and revoked_at is null",
    )
    .bind(tenant)
    .bind(user)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Records use at most once a minute, so authenticated reads do not each write.
pub async fn touch(
    conn: &mut Conn,
    tenant: TenantId,
    id: TokenId,
    at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update api_tokens set last_used_at = $3 where tenant_id = $1 and id = $2
           and (last_used_at is null or last_used_at < $3 - interval '1 minute')",
    )
    .bind(tenant)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
