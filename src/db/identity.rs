//! The tenant's identity provider (one row per tenant) and the OIDC sign-ins under
//! way. A flow is taken once: `take_flow` marks it used in the statement that reads it,
//! so a replayed callback finds nothing.

use chrono::{DateTime, Utc};

use super::{Conn, DbResult};
use crate::domain::ids::TenantId;
pub use crate::model::identity::{IdentityProvider, OidcFlow};

const COLUMNS: &str = "tenant_id, kind, display_name, issuer, client_id, client_secret, scopes, \
     email_claim, allowed_domains, create_users, email_link_sign_in, created_at, updated_at";

pub async fn get(conn: &mut Conn, tenant: TenantId) -> DbResult<Option<IdentityProvider>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from identity_providers where tenant_id = $1"
    )))
    .bind(tenant)
    .fetch_optional(conn)
    .await?)
}

/// Inserts or replaces the tenant's provider (`created_at` of an existing row stays).
pub async fn upsert(conn: &mut Conn, p: &IdentityProvider) -> DbResult<()> {
    sqlx::query(
        "insert into identity_providers (tenant_id, kind, display_name, issuer, client_id, client_secret,
             scopes, email_claim, allowed_domains, create_users, email_link_sign_in, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (tenant_id) do update set kind = excluded.kind, display_name = excluded.display_name,
             issuer = excluded.issuer, client_id = excluded.client_id, client_secret = excluded.client_secret,
             scopes = excluded.scopes, email_claim = excluded.email_claim,
             allowed_domains = excluded.allowed_domains, create_users = excluded.create_users,
             email_link_sign_in = excluded.email_link_sign_in, updated_at = excluded.updated_at",
    )
    .bind(p.tenant_id)
    .bind(&p.kind)
    .bind(&p.display_name)
    .bind(&p.issuer)
    .bind(&p.client_id)
    .bind(&p.client_secret)
    .bind(&p.scopes)
    .bind(&p.email_claim)
    .bind(&p.allowed_domains)
    .bind(p.create_users)
    .bind(p.email_link_sign_in)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the provider and the sign-ins under way with it; `false` when none was set.
pub async fn delete(conn: &mut Conn, tenant: TenantId) -> DbResult<bool> {
    sqlx::query("delete from oidc_flows where tenant_id = $1")
        .bind(tenant)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("delete from identity_providers where tenant_id = $1")
        .bind(tenant)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert_flow(conn: &mut Conn, f: &OidcFlow) -> DbResult<()> {
    sqlx::query(
        "insert into oidc_flows (tenant_id, state_hash, browser_hash, nonce, pkce_verifier, next_path,
             purpose, started_by, created_at, expires_at, used_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(f.tenant_id)
    .bind(&f.state_hash)
    .bind(&f.browser_hash)
    .bind(&f.nonce)
    .bind(&f.pkce_verifier)
    .bind(&f.next_path)
    .bind(&f.purpose)
    .bind(f.started_by)
    .bind(f.created_at)
    .bind(f.expires_at)
    .bind(f.used_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The flow with this state, marked used in the same statement; `None` when there is
/// none. The caller checks the browser binding, expiry and whether it had been used:
/// the row comes back as it was before this call.
pub async fn take_flow(
    conn: &mut Conn,
    tenant: TenantId,
    state_hash: &[u8],
    now: DateTime<Utc>,
) -> DbResult<Option<OidcFlow>> {
    Ok(sqlx::query_as(
        "with old as (select * from oidc_flows where tenant_id = $1 and state_hash = $2 for update)
         update oidc_flows f set used_at = coalesce(f.used_at, $3)
         from old where f.tenant_id = old.tenant_id and f.state_hash = old.state_hash
         returning old.tenant_id, old.state_hash, old.browser_hash, old.nonce, old.pkce_verifier,
                   old.next_path, old.purpose, old.started_by, old.created_at, old.expires_at, old.used_at",
    )
    .bind(tenant)
    .bind(state_hash)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Deletes the tenant's flows that ended before `before` (each new sign-in tidies up).
pub async fn prune_flows(
    conn: &mut Conn,
    tenant: TenantId,
    before: DateTime<Utc>,
) -> DbResult<u64> {
    let done = sqlx::query("delete from oidc_flows where tenant_id = $1 and expires_at < $2")
        .bind(tenant)
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
