//! Browser sessions, emailed sign-in links and the sign-in attempts that rate-limit
//! them. Only SHA-256 hashes of session and link tokens are stored.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Conn, DbResult};
use crate::domain::ids::{TenantId, UserId};
pub use crate::model::sessions::{Session, SignInLink};

const SESSION_COLUMNS: &str = "tenant_id, id, user_id, token_hash, csrf_token, method, created_at, last_seen_at, expires_at, revoked_at";

pub async fn insert_session(conn: &mut Conn, s: &Session) -> DbResult<()> {
    sqlx::query(
        "insert into sessions (tenant_id, id, user_id, token_hash, csrf_token, method, created_at, last_seen_at, expires_at, revoked_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(s.tenant_id)
    .bind(s.id)
    .bind(s.user_id)
    .bind(&s.token_hash)
    .bind(&s.csrf_token)
    .bind(&s.method)
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.expires_at)
    .bind(s.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn session_by_hash(conn: &mut Conn, hash: &[u8]) -> DbResult<Option<Session>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SESSION_COLUMNS} from sessions where token_hash = $1"
    )))
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

/// Records activity at most once a minute, so page views do not each write.
pub async fn touch_session(
    conn: &mut Conn,
    tenant: TenantId,
    id: Uuid,
    at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update sessions set last_seen_at = $3 where tenant_id = $1 and id = $2
           and last_seen_at < $3 - interval '1 minute'",
    )
    .bind(tenant)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn revoke_session(
    conn: &mut Conn,
    tenant: TenantId,
    id: Uuid,
    at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update sessions set revoked_at = $3 where tenant_id = $1 and id = $2 and revoked_at is null",
    )
    .bind(tenant)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends every session of a user (deactivation).
pub async fn revoke_all_of_user(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    at: DateTime<Utc>,
) -> DbResult<u64> {
    let done = sqlx::query(
        "update sessions set revoked_at = $3 where tenant_id = $1 and user_id = $2 and revoked_at is null",
    )
    .bind(tenant)
    .bind(user)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

const LINK_COLUMNS: &str = "tenant_id, id, user_id, token_hash, expires_at, used_at, created_at";

pub async fn insert_link(conn: &mut Conn, l: &SignInLink) -> DbResult<()> {
    sqlx::query(
        "insert into sign_in_links (tenant_id, id, user_id, token_hash, expires_at, used_at, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(l.tenant_id)
    .bind(l.id)
    .bind(l.user_id)
    .bind(&l.token_hash)
    .bind(l.expires_at)
    .bind(l.used_at)
    .bind(l.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The link with this hash in `tenant`.
pub async fn link_by_hash(
    conn: &mut Conn,
    tenant: TenantId,
    hash: &[u8],
) -> DbResult<Option<SignInLink>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {LINK_COLUMNS} from sign_in_links where tenant_id = $1 and token_hash = $2"
    )))
    .bind(tenant)
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

/// Marks the link used; `false` when someone used it first (single use under races).
pub async fn use_link(
    conn: &mut Conn,
    tenant: TenantId,
    id: Uuid,
    at: DateTime<Utc>,
) -> DbResult<bool> {
    let done = sqlx::query(
        "update sign_in_links set used_at = $3 where tenant_id = $1 and id = $2 and used_at is null",
    )
    .bind(tenant)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Serialises sign-in requests for one address, so two at once both see the count.
pub async fn lock_attempts(conn: &mut Conn, tenant: TenantId, email_key: &str) -> DbResult<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7707))")
        .bind(tenant.0.to_string())
        .bind(email_key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sign-in emails asked for from client key `client` (any tenant) since `since`.
pub async fn count_client_attempts(
    conn: &mut Conn,
    client: &str,
    since: DateTime<Utc>,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from sign_in_attempts where client_ip = $1 and created_at > $2",
    )
    .bind(client)
    .bind(since)
    .fetch_one(conn)
    .await?)
}

/// When the newest sign-in link of `user` was made (the cooldown between emails).
pub async fn last_link_at(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
) -> DbResult<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "select max(created_at) from sign_in_links where tenant_id = $1 and user_id = $2",
    )
    .bind(tenant)
    .bind(user)
    .fetch_one(conn)
    .await?)
}

pub async fn insert_attempt(
    conn: &mut Conn,
    tenant: TenantId,
    email_key: &str,
    client_ip: Option<&str>,
    at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "insert into sign_in_attempts (tenant_id, id, email_key, client_ip, created_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(tenant)
    .bind(Uuid::now_v7())
    .bind(email_key)
    .bind(client_ip)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets attempts older than `before` (they no longer count towards any limit).
pub async fn prune_attempts(conn: &mut Conn, before: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "delete from sign_in_attempts where ctid = any(array(
           select ctid from sign_in_attempts where created_at < $1 limit 100))",
    )
    .bind(before)
    .execute(conn)
    .await?;
    Ok(())
}
