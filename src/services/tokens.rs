//! API tokens: created and revoked by operators (CLI), presented as bearer tokens.
//! A token is 32 random bytes; only its SHA-256 hash is stored.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::audit::{self, Entry};
use super::{Actor, Caller, ServiceError, ServiceResult};
use crate::db::tenants::Tenant;
use crate::db::tokens::ApiToken;
use crate::db::{self};
use crate::domain::DomainError;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{Role, RoleGrant, Roles};
use crate::domain::ids::CatalogId;
use crate::domain::ids::TokenId;

const PREFIX: &str = "ptc_";

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Creates a token for the user with `email` in tenant `slug`; returns it with the
/// plain token, which is never stored.
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn create(
    pool: &PgPool,
    slug: &str,
    email: &str,
    name: Option<&str>,
    expires_in_days: Option<u32>,
    now: DateTime<Utc>,
) -> ServiceResult<(ApiToken, String)> {
    let mut tx = pool.begin().await?;
    let tenant = db::tenants::by_slug(&mut tx, slug)
        .await?
        .ok_or_else(|| DomainError::conflict(format!("there is no tenant '{slug}'")))?;
    let user = db::users::by_email(&mut tx, tenant.id, email)
        .await?
        .ok_or_else(|| {
            DomainError::conflict(format!("there is no user '{email}' in tenant '{slug}'"))
        })?;
    if !user.active {
        return Err(DomainError::conflict(format!("the user '{email}' is deactivated")).into());
    }
    let plain = generate();
    let token = ApiToken {
        tenant_id: tenant.id,
        id: TokenId::new(),
        user_id: user.id,
        name: name.unwrap_or("cli").to_string(),
        token_hash: hash(&plain),
        created_at: now,
        last_used_at: None,
        expires_at: expires_in_days.map(|d| now + Duration::days(i64::from(d))),
        revoked_at: None,
    };
    db::tokens::insert(&mut tx, &token).await?;
    audit::record(
        &mut tx,
        tenant.id,
        Actor::System,
        Entry {
            action: AuditAction::ApiTokenCreated,
            target: Target::ApiToken(token.id),
            details: json!({"userId": user.id, "name": token.name, "expiresAt": token.expires_at}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((token, plain))
}

#[tracing::instrument(skip_all, fields(tenant = %slug, id = %id))]
pub async fn revoke(
    pool: &PgPool,
    slug: &str,
    id: TokenId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut tx = pool.begin().await?;
    let tenant = db::tenants::by_slug(&mut tx, slug)
        .await?
        .ok_or_else(|| DomainError::conflict(format!("there is no tenant '{slug}'")))?;
    let token = db::tokens::get(&mut tx, tenant.id, id)
        .await?
        .ok_or_else(|| {
            DomainError::conflict(format!("there is no token {id} in tenant '{slug}'"))
        })?;
    if !db::tokens::revoke(&mut tx, tenant.id, id, now).await? {
        return Err(DomainError::conflict(format!("the token {id} is already revoked")).into());
    }
    audit::record(
        &mut tx,
        tenant.id,
        Actor::System,
        Entry {
            action: AuditAction::ApiTokenRevoked,
            target: Target::ApiToken(id),
            details: json!({"userId": token.user_id, "name": token.name}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Resolves a bearer token to its caller; every failure is the same 401 to the client.
#[tracing::instrument(skip_all)]
pub async fn authenticate(
    pool: &PgPool,
    bearer: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Caller> {
    let denied = |why: &str| ServiceError::Unauthenticated(why.to_string());
    if !bearer.starts_with(PREFIX) {
        return Err(denied("The bearer token is not a Portico API token."));
    }
    let mut conn = pool.acquire().await?;
    let found = db::tokens::authenticate(&mut conn, &hash(bearer))
        .await?
        .ok_or_else(|| denied("The bearer token is not valid."))?;
    if found.revoked_at.is_some() {
        return Err(denied("The bearer token has been revoked."));
    }
    if found.expires_at.is_some_and(|t| t <= now) {
        return Err(denied("The bearer token has expired."));
    }
    if !found.user.active {
        return Err(denied("The token's user is deactivated."));
    }
    if found
        .last_used_at
        .is_none_or(|t| t < now - Duration::minutes(1))
    {
        db::tokens::touch(&mut conn, found.user.tenant_id, found.token_id, now).await?;
    }
    let roles = Roles::new(
        found
            .roles
            .iter()
            .filter_map(|(role, catalog)| {
                Role::parse(role).map(|role| RoleGrant {
                    role,
                    catalog: catalog.map(CatalogId),
                })
            })
            .collect(),
    );
    let tenant = Tenant {
        id: found.user.tenant_id,
        slug: found.t_slug,
        display_name: found.t_display_name,
        reply_to: found.t_reply_to,
        approval_links_require_sign_in: found.t_approval_links_require_sign_in,
        created_at: found.t_created_at,
        updated_at: found.t_updated_at,
        time_zone: found.t_time_zone,
    };
    let token = found.token_id;
    let user = found.user;
    Ok(Caller {
        tenant,
        user,
        roles,
        token: Some(token),
    })
}
