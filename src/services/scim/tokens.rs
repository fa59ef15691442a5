//! SCIM tokens: a tenant admin (API, admin page) or an operator (CLI) creates them; the
//! tenant's identity provider presents one as `Authorization: Bearer pscim_…` under
//! `/scim/v2/{slug}` only. A token is `pscim_` + 32 random bytes (base64url); only its
//! SHA-256 is stored. A token of one tenant never opens another tenant's SCIM base.

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde_json::json;
use sqlx::PgPool;

use super::Directory;
use crate::db::scim_tokens::{ScimActivity, ScimToken};
use crate::db::{self};
use crate::domain::DomainError;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::{ScimTokenId, TenantId};
use crate::domain::values::DisplayName;
use crate::services::audit::{self, Entry};
use crate::services::tx::Work;
use crate::services::{Actor, Caller, ServiceError, ServiceResult};

/// What every SCIM token starts with; an API token (`ptc_`) never passes here.
pub const PREFIX: &str = "pscim_";

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn token_name(name: Option<&str>) -> ServiceResult<String> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok("SCIM".to_string()),
        Some(n) => DisplayName::parse(n)
            .map(DisplayName::into_string)
            .map_err(|e| DomainError::field("name", e.to_string()).into()),
    }
}

fn new_token(
    tenant: TenantId,
    name: String,
    caller: Option<&Caller>,
    now: DateTime<Utc>,
) -> (ScimToken, String) {
    let plain = generate();
    let token = ScimToken {
        tenant_id: tenant,
        id: ScimTokenId::new(),
        name,
        token_hash: crate::services::tokens::hash(&plain),
        created_by: caller.map(Caller::user_id),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    (token, plain)
}

/// Creates a SCIM token for the caller's tenant (tenant admins); returns it with the
/// plain token, which is shown once and never stored.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> ServiceResult<(ScimToken, String)> {
    let permit = caller.require(Action::ManageDirectory)?;
    let name = token_name(name)?;
    let (token, plain) = new_token(caller.tenant_id(), name, Some(caller), now);
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    db::scim_tokens::insert(work.conn(), &token).await?;
    work.audit(
        AuditAction::ScimTokenCreated,
        Target::ScimToken(token.id),
        json!({"name": token.name}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok((token, plain))
}

/// The CLI's `portico token create --tenant SLUG --scim`: an operator of the machine
/// needs no tenant role.
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn create_for_tenant(
    pool: &PgPool,
    slug: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> ServiceResult<(ScimToken, String)> {
    let name = token_name(name)?;
    let mut tx = pool.begin().await?;
    let tenant = db::tenants::by_slug(&mut tx, slug)
        .await?
        .ok_or_else(|| DomainError::conflict(format!("there is no tenant '{slug}'")))?;
    let (token, plain) = new_token(tenant.id, name, None, now);
    db::scim_tokens::insert(&mut tx, &token).await?;
    audit::record(
        &mut tx,
        tenant.id,
        Actor::System,
        Entry::new(
            AuditAction::ScimTokenCreated,
            Target::ScimToken(token.id),
            json!({"name": token.name}),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((token, plain))
}

/// The tenant's SCIM tokens, newest first (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(pool: &PgPool, caller: &Caller) -> ServiceResult<Vec<ScimToken>> {
    caller.require(Action::ManageDirectory)?;
    let mut conn = pool.acquire().await?;
    Ok(db::scim_tokens::list(&mut conn, caller.tenant_id()).await?)
}

/// Revokes a token at once; a token already revoked is a 409, another tenant's a 404.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn revoke(
    pool: &PgPool,
    caller: &Caller,
    id: ScimTokenId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, tenant, now).await?;
    let token = db::scim_tokens::get(work.conn(), tenant, id)
        .await?
        .ok_or(ServiceError::Domain(DomainError::NotFound("SCIM token")))?;
    if !db::scim_tokens::revoke(work.conn(), tenant, id, now).await? {
        return Err(DomainError::conflict("This SCIM token is already revoked.").into());
    }
    work.audit(
        AuditAction::ScimTokenRevoked,
        Target::ScimToken(id),
        json!({"name": token.name}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(())
}

/// Resolves the bearer token sent to `/scim/v2/{slug}`; every failure is the same
/// 401 to the client (an API token, another tenant's token, a revoked one).
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn authenticate(
    pool: &PgPool,
    slug: &str,
    bearer: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Directory> {
    let denied = |why: &str| ServiceError::Unauthenticated(why.to_string());
    if !bearer.starts_with(PREFIX) {
        return Err(denied("The bearer token is not a Portico SCIM token."));
    }
    let mut conn = pool.acquire().await?;
    let hash = crate::services::tokens::hash(bearer);
    let found = db::scim_tokens::present(&mut conn, slug, &hash, now)
        .await?
        .ok_or_else(|| denied("The bearer token is not valid for this tenant."))?;
    if found.revoked_at.is_some() {
        return Err(denied("The bearer token has been revoked."));
    }
    Ok(Directory {
        tenant: found.tenant,
        token: found.token_id,
    })
}

/// What the directory has done in the caller's tenant (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn activity(pool: &PgPool, caller: &Caller) -> ServiceResult<ScimActivity> {
    caller.require(Action::ManageDirectory)?;
    let mut conn = pool.acquire().await?;
    Ok(db::scim_tokens::activity(&mut conn, caller.tenant_id()).await?)
}
