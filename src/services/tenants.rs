//! Tenants: created by operators from the CLI (with a first admin and the "General"
//! catalog), their settings changed by tenant admins.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::audit::{self, Entry};
use super::{Actor, Caller, ServiceError, ServiceResult, validated};
use crate::db::tenants::Tenant;
use crate::db::users::User;
use crate::db::{self, roles::RoleAssignment};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{Action, Role};
use crate::domain::ids::{CatalogId, RoleAssignmentId, TenantId, UserId};
use crate::domain::values::UserKind;
use crate::domain::values::{DisplayName, EmailAddress, Slug, optional_text};
use crate::domain::{DomainError, FieldErrors};
use crate::services::tx::Work;

/// A new tenant and its first admin.
pub struct NewTenant {
    pub slug: Slug,
    pub display_name: DisplayName,
    pub admin_email: EmailAddress,
}

/// Creates the tenant, its "General" catalog and an active tenant admin.
#[tracing::instrument(skip_all, fields(slug = %input.slug))]
pub async fn create(
    pool: &PgPool,
    input: NewTenant,
    now: DateTime<Utc>,
) -> ServiceResult<(Tenant, User)> {
    let mut tx = pool.begin().await?;
    if db::tenants::by_slug(&mut tx, input.slug.as_str())
        .await?
        .is_some()
    {
        return Err(DomainError::conflict(format!(
            "a tenant with the slug '{}' already exists",
            input.slug
        ))
        .into());
    }
    let tenant = Tenant {
        id: TenantId::new(),
        slug: input.slug.to_string(),
        display_name: input.display_name.to_string(),
        reply_to: None,
        approval_links_require_sign_in: false,
        created_at: now,
        updated_at: now,
        time_zone: "UTC".into(),
    };
    db::tenants::insert(&mut tx, &tenant).await?;
    let local = input
        .admin_email
        .as_str()
        .split('@')
        .next()
        .unwrap_or("Administrator")
        .to_string();
    let admin = User {
        tenant_id: tenant.id,
        id: UserId::new(),
        email: input.admin_email.to_string(),
        display_name: local,
        department: None,
        job_title: None,
        manager_id: None,
        kind: UserKind::Member,
        active: true,
        external_id: None,
        last_sign_in_at: None,
        directory_managed: false,
        time_zone: None,
        created_at: now,
        updated_at: now,
    };
    db::users::insert(&mut tx, &admin).await?;
    db::roles::insert(
        &mut tx,
        &RoleAssignment {
            tenant_id: tenant.id,
            id: RoleAssignmentId::new(),
            role: Role::TenantAdmin,
            user_id: Some(admin.id),
            group_id: None,
            catalog_id: None,
            created_at: now,
        },
    )
    .await?;
    let general = CatalogId::new();
    db::catalogs::insert(
        &mut tx,
        &crate::db::catalogs::Catalog {
            tenant_id: tenant.id,
            id: general,
            display_name: "General".into(),
            description: "The default catalog of the tenant.".into(),
            enabled: true,
            externally_visible: false,
            created_at: now,
            updated_at: now,
            version: 1,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        tenant.id,
        Actor::System,
        Entry {
            action: AuditAction::TenantCreated,
            target: Target::Tenant(tenant.id),
            details: json!({"slug": tenant.slug, "displayName": tenant.display_name,
                            "adminUserId": admin.id, "generalCatalogId": general}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((tenant, admin))
}

#[tracing::instrument(skip_all)]
pub async fn by_slug(pool: &PgPool, slug: &str) -> ServiceResult<Tenant> {
    let mut conn = pool.acquire().await?;
    db::tenants::by_slug(&mut conn, slug)
        .await?
        .ok_or_else(|| ServiceError::Domain(DomainError::NotFound("tenant")))
}

/// The tenant's settings, for those who may change them (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn settings(pool: &PgPool, caller: &Caller) -> ServiceResult<Tenant> {
    caller.require(Action::ManageDirectory)?;
    let mut conn = pool.acquire().await?;
    Ok(db::tenants::get(&mut conn, caller.tenant_id()).await?)
}

/// Raw PATCH of tenant settings; absent fields stay as they are.
#[derive(Debug, Default)]
pub struct TenantPatch {
    pub display_name: Option<String>,
    /// `Some(None)` clears the Reply-To address.
    pub reply_to: Option<Option<String>>,
    pub approval_links_require_sign_in: Option<bool>,
    /// An IANA name such as `Europe/Berlin`.
    pub time_zone: Option<String>,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    patch: TenantPatch,
    now: DateTime<Utc>,
) -> ServiceResult<Tenant> {
    let permit = caller.require(Action::ManageDirectory)?;
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let before = db::tenants::get(work.conn(), caller.tenant_id()).await?;
    let mut after = before.clone();
    let mut errors = FieldErrors::new();
    if let Some(name) = &patch.display_name
        && let Some(name) = errors.check("displayName", DisplayName::parse(name))
    {
        after.display_name = name.into_string();
    }
    if let Some(reply_to) = &patch.reply_to {
        after.reply_to = match optional_text(reply_to.as_deref(), 254) {
            Ok(None) => None,
            Ok(Some(v)) => errors
                .check("replyTo", EmailAddress::parse(&v))
                .map(|e| e.to_string()),
            Err(e) => {
                errors.add("replyTo", e.to_string());
                None
            }
        };
    }
    if let Some(v) = patch.approval_links_require_sign_in {
        after.approval_links_require_sign_in = v;
    }
    if let Some(zone) = &patch.time_zone
        && let Some(zone) = errors.check("timeZone", crate::time_text::parse_zone(zone))
    {
        after.time_zone = zone.name().to_string();
    }
    validated(errors)?;
    after.updated_at = now;
    db::tenants::update(work.conn(), &after).await?;
    work.audit(
        AuditAction::TenantUpdated,
        Target::Tenant(after.id),
        json!({
            "before": {"displayName": before.display_name, "replyTo": before.reply_to,
                       "approvalLinksRequireSignIn": before.approval_links_require_sign_in,
                       "timeZone": before.time_zone},
            "after": {"displayName": after.display_name, "replyTo": after.reply_to,
                      "approvalLinksRequireSignIn": after.approval_links_require_sign_in,
                      "timeZone": after.time_zone},
        }),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(after)
}
