//! API tokens: only a SHA-256 hash of each token is stored.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Conn, DbResult};
use crate::domain::ids::{TenantId, TokenId, UserId};
pub use crate::model::tokens::ApiToken;

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

/// Everything a bearer token resolves to, read in one statement: the token, its user,
/// the tenant and the user's roles (direct or through groups) as `role:catalog` pairs.
#[derive(Clone, Debug, FromRow)]
pub struct TokenCaller {
    pub token_id: TokenId,
    pub revoked_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    pub user: crate::db::users::User,
    pub t_slug: String,
    pub t_display_name: String,
    pub t_reply_to: Option<String>,
    pub t_approval_links_require_sign_in: bool,
    pub t_created_at: DateTime<Utc>,
    pub t_updated_at: DateTime<Utc>,
    pub t_time_zone: String,
    pub roles: Vec<(String, Option<uuid::Uuid>)>,
}

pub async fn authenticate(conn: &mut Conn, hash: &[u8]) -> DbResult<Option<TokenCaller>> {
    Ok(sqlx::query_as(
        "select t.id as token_id, t.revoked_at, t.expires_at, t.last_used_at,
                u.tenant_id, u.id, u.email, u.display_name, u.department, u.job_title, u.manager_id, u.kind, u.active,
                u.external_id, u.last_sign_in_at, u.created_at, u.updated_at, u.directory_managed, u.time_zone,
                te.slug as t_slug, te.display_name as t_display_name, te.reply_to as t_reply_to,
                te.approval_links_require_sign_in as t_approval_links_require_sign_in,
                te.created_at as t_created_at, te.updated_at as t_updated_at, te.time_zone as t_time_zone,
                array(select row(r.role, r.catalog_id) from role_assignments r
                      where r.tenant_id = u.tenant_id and (r.user_id = u.id or r.group_id in (
                          select m.group_id from group_memberships m where m.tenant_id = u.tenant_id and m.user_id = u.id))) as roles
         from api_tokens t
         join users u on u.tenant_id = t.tenant_id and u.id = t.user_id
         join tenants te on te.id = t.tenant_id
         where t.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}
