//! Catalogs and their resources (DOMAIN.md §4). A catalog that still has access
//! packages cannot be deleted. This file holds the catalogs themselves; `resources`
//! their resources and roles, `connector` a resource's connector: its settings, address
//! check and sealed secret.

mod connection;
mod connector;
mod resources;

pub use connection::{ConnectionTest, test_connector};
pub use connector::{
    MIN_SECRET, NewConnector, NewLdap, check_webhook_url, connector_secret_context, ldap_config,
    seal_legacy_secrets, update_connector,
};
pub(crate) use connector::{check_connector, update_connector_in};
pub use resources::{
    MAX_ROLES, NewResource, NewRole, ResourceKind, ResourceView, add_group_by_name, add_resource,
    get_resource, list_resources, remove_resource,
};
pub(crate) use resources::{add_resource_in, remove_resource_in};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{Caller, ServiceError, ServiceResult, validated};
use crate::db::catalogs::Catalog;
use crate::db::roles::RoleAssignment;
use crate::db::{self, Conn, DbError, Page, PageRequest};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{Action, Permit, Role};
use crate::domain::ids::{CatalogId, RoleAssignmentId, TenantId};
use crate::domain::values::{DisplayName, description};
use crate::domain::{DomainError, FieldErrors};
use crate::services::tx::Work;
use crate::services::versions;

/// Fields of a catalog as sent by a client; on create `displayName` is required, on
/// update absent fields stay unchanged.
#[derive(Debug, Default, Clone)]
pub struct CatalogFields {
    pub display_name: Option<String>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub externally_visible: Option<bool>,
    /// The version the client's copy was made from (`If-Match`, a form's hidden field);
    /// an update from another version is refused (412). None: last write wins.
    pub expected_version: Option<i64>,
}

fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("catalog"))
}

pub(super) fn resource_not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("resource"))
}

fn catalog_json(c: &Catalog) -> Value {
    json!({"displayName": c.display_name, "description": c.description,
           "enabled": c.enabled, "externallyVisible": c.externally_visible})
}

/// The catalog `id` of `tenant`, or 404.
#[tracing::instrument(skip_all)]
pub(crate) async fn load(
    conn: &mut Conn,
    tenant: TenantId,
    id: CatalogId,
) -> ServiceResult<Catalog> {
    db::catalogs::get(conn, tenant, id)
        .await?
        .ok_or_else(not_found)
}

/// Catalogs the caller may read: all for tenant admins, otherwise those where they hold
/// a catalog role (none at all for requesters: an empty list, not a refusal).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    page: PageRequest,
) -> ServiceResult<Page<Catalog>> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    if caller.roles.is_tenant_admin() {
        return Ok(db::catalogs::list(&mut conn, tenant, None, page).await?);
    }
    let mut readable: Vec<CatalogId> = caller
        .roles
        .catalogs()
        .filter(|c| caller.roles.allows(Action::ReadCatalog(*c)))
        .collect();
    readable.sort();
    readable.dedup();
    if readable.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    }
    Ok(db::catalogs::list(&mut conn, tenant, Some(&readable), page).await?)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(pool: &PgPool, caller: &Caller, id: CatalogId) -> ServiceResult<Catalog> {
    let mut conn = pool.acquire().await?;
    let catalog = load(&mut conn, caller.tenant_id(), id).await?;
    caller.require(Action::ReadCatalog(id))?;
    Ok(catalog)
}

/// Creates a catalog; a creator who is not a tenant admin becomes its owner.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    fields: CatalogFields,
    now: DateTime<Utc>,
) -> ServiceResult<Catalog> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = create_in(&mut work, caller, fields).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `create`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub(crate) async fn create_in(
    work: &mut Work,
    caller: &Caller,
    fields: CatalogFields,
) -> ServiceResult<(Catalog, Permit)> {
    let now = work.now();
    let permit = caller.require(Action::CreateCatalog)?;
    let tenant = caller.tenant_id();
    let mut errors = FieldErrors::new();
    let name = match &fields.display_name {
        None => {
            errors.add("displayName", "a display name is required");
            None
        }
        Some(n) => errors.check("displayName", DisplayName::parse(n)),
    };
    let desc = errors.check(
        "description",
        description(fields.description.clone().flatten().as_deref()),
    );
    validated(errors)?;
    let catalog = Catalog {
        tenant_id: tenant,
        id: CatalogId::new(),
        display_name: name.map(DisplayName::into_string).unwrap_or_default(),
        description: desc.unwrap_or_default(),
        enabled: fields.enabled.unwrap_or(true),
        externally_visible: fields.externally_visible.unwrap_or(false),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    db::catalogs::insert(work.conn(), &catalog).await?;
    work.audit(
        AuditAction::CatalogCreated,
        Target::Catalog(catalog.id),
        json!({"after": catalog_json(&catalog)}),
    );
    if !caller.roles.is_tenant_admin() {
        let owner = RoleAssignment {
            tenant_id: tenant,
            id: RoleAssignmentId::new(),
            role: Role::CatalogOwner,
            user_id: Some(caller.user_id()),
            group_id: None,
            catalog_id: Some(catalog.id),
            created_at: now,
        };
        db::roles::insert(work.conn(), &owner).await?;
        work.audit(
            AuditAction::RoleAssignmentCreated,
            Target::RoleAssignment(owner.id),
            json!({"role": owner.role, "userId": owner.user_id, "groupId": null,
                                "catalogId": owner.catalog_id, "reason": "catalogCreated"}),
        );
    }
    Ok((catalog, permit))
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    id: CatalogId,
    fields: CatalogFields,
    now: DateTime<Utc>,
) -> ServiceResult<Catalog> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = update_in(&mut work, caller, id, fields).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `update`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub(crate) async fn update_in(
    work: &mut Work,
    caller: &Caller,
    id: CatalogId,
    fields: CatalogFields,
) -> ServiceResult<(Catalog, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    let before = load(work.conn(), tenant, id).await?;
    let permit = caller.require(Action::EditCatalog(id))?;
    let target = Target::Catalog(id);
    versions::check(
        work.conn(),
        tenant,
        target,
        "catalog",
        before.version,
        fields.expected_version,
    )
    .await?;
    let mut catalog = before.clone();
    let mut errors = FieldErrors::new();
    if let Some(n) = &fields.display_name
        && let Some(n) = errors.check("displayName", DisplayName::parse(n))
    {
        catalog.display_name = n.into_string();
    }
    if let Some(d) = &fields.description
        && let Some(d) = errors.check("description", description(d.as_deref()))
    {
        catalog.description = d;
    }
    if let Some(enabled) = fields.enabled {
        catalog.enabled = enabled;
    }
    if let Some(visible) = fields.externally_visible {
        catalog.externally_visible = visible;
    }
    validated(errors)?;
    catalog.updated_at = now;
    if !db::catalogs::update(work.conn(), &catalog).await? {
        return Err(versions::stale(work.conn(), tenant, target, "catalog")
            .await?
            .into());
    }
    catalog.version += 1;
    work.audit(
        AuditAction::CatalogUpdated,
        Target::Catalog(id),
        json!({"before": catalog_json(&before), "after": catalog_json(&catalog)}),
    );
    Ok((catalog, permit))
}

fn catalog_has_packages(count: i64) -> ServiceError {
    DomainError::conflict(format!(
        "This catalog still has {count} access package(s); delete them before deleting the catalog."
    ))
    .into()
}

pub(super) fn history_conflict() -> ServiceError {
    DomainError::conflict(
        "Access was delivered through this resource's roles and that history is kept, so it cannot be removed.",
    )
    .into()
}

/// Deletes a catalog without access packages, with its resources (its role
/// assignments go with it).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn delete(
    pool: &PgPool,
    caller: &Caller,
    id: CatalogId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = delete_in(&mut work, caller, id).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `delete`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub(crate) async fn delete_in(
    work: &mut Work,
    caller: &Caller,
    id: CatalogId,
) -> ServiceResult<((), Permit)> {
    let tenant = caller.tenant_id();
    let catalog = load(work.conn(), tenant, id).await?;
    let permit = caller.require(Action::EditCatalog(id))?;
    let (packages, archived) = db::catalogs::count_packages(work.conn(), tenant, id).await?;
    if packages > 0 && packages == archived {
        return Err(DomainError::conflict(format!(
            "This catalog holds {archived} archived access package(s), kept for their history, so it stays; disable it to stop everything in it."
        ))
        .into());
    }
    if packages > 0 {
        return Err(catalog_has_packages(packages));
    }
    let resources = db::catalogs::delete_resources_of_catalog(work.conn(), tenant, id)
        .await
        .map_err(|e| match e {
            DbError::ForeignKey(ref c) if c == "access_package_roles_role_fkey" => {
                catalog_has_packages(1)
            }
            DbError::ForeignKey(_) => history_conflict(),
            other => other.into(),
        })?;
    db::catalogs::delete(work.conn(), tenant, id)
        .await
        .map_err(|e| match e {
            // A package created at the same moment.
            DbError::ForeignKey(ref c) if c == "access_packages_catalog_fkey" => {
                catalog_has_packages(1)
            }
            other => other.into(),
        })?;
    work.audit(
        AuditAction::CatalogDeleted,
        Target::Catalog(id),
        json!({"before": catalog_json(&catalog), "resourcesRemoved": resources}),
    );
    Ok(((), permit))
}
