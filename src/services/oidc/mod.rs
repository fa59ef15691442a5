//! Sign-in with the tenant's identity provider (INTEGRATIONS.md §1): the settings
//! tenant admins keep (`get`, `put`, `remove`), what the sign-in page offers
//! (`offer`), and the authorization-code flow (`flow`).
//!
//! Invariants: the client secret is write-only (sealed at rest, bound to the tenant;
//! answers say only that one is set); settings are stored only after the issuer's
//! discovery document was fetched and fits, so a saved provider is one that answered.

pub mod client;
pub mod flow;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::audit::{self, Entry};
use super::{Actor, Caller, ServiceError, ServiceResult};
use crate::crypto::Keys;
use crate::db::{self, identity::IdentityProvider};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::identity::{OidcInput, OidcSettings, parse_settings};
use crate::domain::ids::TenantId;
use crate::domain::{DomainError, FieldErrors};
use crate::services::tx::Work;
pub use client::Providers;

/// What the tenant admin (API and settings page) sees of the provider.
#[derive(Clone, Debug)]
pub struct ProviderView {
    pub settings: OidcSettings,
    pub client_secret_set: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the sign-in page offers.
#[derive(Clone, Debug)]
pub struct Offer {
    pub display_name: Option<String>,
    pub email_link_sign_in: bool,
}

/// What a sealed client secret is bound to.
fn secret_context(tenant: TenantId) -> String {
    format!("identity-provider:{tenant}")
}

pub(crate) fn settings_of(p: &IdentityProvider) -> OidcSettings {
    OidcSettings {
        display_name: p.display_name.clone(),
        issuer: p.issuer.clone(),
        client_id: p.client_id.clone(),
        scopes: p.scopes.clone(),
        email_claim: p.email_claim.clone(),
        allowed_domains: p.allowed_domains.clone(),
        create_users: p.create_users,
        email_link_sign_in: p.email_link_sign_in,
    }
}

fn view(p: &IdentityProvider) -> ProviderView {
    ProviderView {
        settings: settings_of(p),
        client_secret_set: !p.client_secret.is_empty(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// The opened client secret of a stored provider.
pub(crate) fn client_secret(keys: &Keys, p: &IdentityProvider) -> ServiceResult<String> {
    keys.open(&p.client_secret, &secret_context(p.tenant_id))
        .map_err(|e| {
            DomainError::conflict(format!("the identity provider's client secret: {e}")).into()
        })
}

/// The tenant's provider, if one is set (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(pool: &PgPool, caller: &Caller) -> ServiceResult<Option<ProviderView>> {
    caller.require(Action::ManageDirectory)?;
    let mut conn = pool.acquire().await?;
    Ok(db::identity::get(&mut conn, caller.tenant_id())
        .await?
        .as_ref()
        .map(view))
}

/// Sets (creates or replaces) the tenant's provider. The whole input is checked first
/// (422 naming every bad field); then the issuer's discovery document is fetched (422
/// on `issuer` saying why it cannot be used); only then is anything written.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn put(
    pool: &PgPool,
    providers: &Providers,
    keys: &Keys,
    allow_http: bool,
    caller: &Caller,
    input: OidcInput,
    now: DateTime<Utc>,
) -> ServiceResult<ProviderView> {
    let permit = caller.require(Action::ManageDirectory)?;
    let (stored, details) = prepare(
        pool,
        providers,
        keys,
        allow_http,
        caller.tenant_id(),
        &input,
        now,
    )
    .await?;
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    db::identity::upsert(work.conn(), &stored).await?;
    work.audit(
        AuditAction::IdentityProviderSet,
        Target::Tenant(caller.tenant_id()),
        details,
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(view(&stored))
}

/// The same for an operator of the machine (the demo's local provider): no tenant role
/// needed, audited as Portico's own doing.
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn put_for_tenant(
    pool: &PgPool,
    providers: &Providers,
    keys: &Keys,
    allow_http: bool,
    slug: &str,
    input: OidcInput,
    now: DateTime<Utc>,
) -> ServiceResult<ProviderView> {
    let tenant = {
        let mut conn = pool.acquire().await?;
        db::tenants::by_slug(&mut conn, slug)
            .await?
            .ok_or_else(|| DomainError::conflict(format!("there is no tenant '{slug}'")))?
    };
    let (stored, details) =
        prepare(pool, providers, keys, allow_http, tenant.id, &input, now).await?;
    let mut tx = pool.begin().await?;
    db::identity::upsert(&mut tx, &stored).await?;
    audit::record(
        &mut tx,
        tenant.id,
        Actor::System,
        Entry::new(
            AuditAction::IdentityProviderSet,
            Target::Tenant(tenant.id),
            details,
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(view(&stored))
}

/// Checks the input and the issuer's discovery document, and seals the secret: the row
/// to store and the audit details, or the 422 that says what is wrong.
async fn prepare(
    pool: &PgPool,
    providers: &Providers,
    keys: &Keys,
    allow_http: bool,
    tenant: TenantId,
    input: &OidcInput,
    now: DateTime<Utc>,
) -> ServiceResult<(IdentityProvider, serde_json::Value)> {
    let existing = {
        let mut conn = pool.acquire().await?;
        db::identity::get(&mut conn, tenant).await?
    };
    let (settings, secret) = parse_settings(input, existing.is_some(), allow_http)
        .map_err(|e| ServiceError::Domain(DomainError::Validation(e)))?;
    // Outside any transaction: the provider may take seconds to answer.
    if let Err(e) = providers.discover(&settings.issuer).await {
        let mut errors = FieldErrors::new();
        errors.add("issuer", e.0);
        return Err(DomainError::Validation(errors).into());
    }
    let sealed = match (secret, &existing) {
        (Some(s), _) => keys.seal(&s, &secret_context(tenant)),
        (None, Some(p)) => p.client_secret.clone(),
        // parse_settings asks for a secret when none is kept.
        (None, None) => {
            return Err(DomainError::field("clientSecret", "a client secret is required").into());
        }
    };
    let details = json!({
        "type": "oidc",
        "displayName": settings.display_name,
        "issuer": settings.issuer,
        "clientId": settings.client_id,
        "clientSecretChanged": input.client_secret.as_deref().is_some_and(|s| !s.trim().is_empty()),
        "scopes": settings.scopes,
        "emailClaim": settings.email_claim,
        "allowedDomains": settings.allowed_domains,
        "createUsers": settings.create_users,
        "emailLinkSignIn": settings.email_link_sign_in,
    });
    let stored = IdentityProvider {
        tenant_id: tenant,
        kind: "oidc".into(),
        display_name: settings.display_name,
        issuer: settings.issuer,
        client_id: settings.client_id,
        client_secret: sealed,
        scopes: settings.scopes,
        email_claim: settings.email_claim,
        allowed_domains: settings.allowed_domains,
        create_users: settings.create_users,
        email_link_sign_in: settings.email_link_sign_in,
        created_at: existing.as_ref().map_or(now, |p| p.created_at),
        updated_at: now,
    };
    Ok((stored, details))
}

/// Removes the provider: people sign in with emailed links again.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn remove(pool: &PgPool, caller: &Caller, now: DateTime<Utc>) -> ServiceResult<()> {
    let permit = caller.require(Action::ManageDirectory)?;
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    if !db::identity::delete(work.conn(), caller.tenant_id()).await? {
        return Err(DomainError::NotFound("identity provider").into());
    }
    work.audit(
        AuditAction::IdentityProviderRemoved,
        Target::Tenant(caller.tenant_id()),
        json!({}),
    );
    work.commit(caller.permitted(permit)).await
}

/// What the sign-in page of a tenant offers (anyone may ask).
#[tracing::instrument(skip_all)]
pub async fn offer(pool: &PgPool, tenant: TenantId) -> ServiceResult<Offer> {
    let mut conn = pool.acquire().await?;
    Ok(match db::identity::get(&mut conn, tenant).await? {
        Some(p) => Offer {
            display_name: Some(p.display_name),
            email_link_sign_in: p.email_link_sign_in,
        },
        None => Offer {
            display_name: None,
            email_link_sign_in: true,
        },
    })
}
