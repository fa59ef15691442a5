//! Catalogs and their resources (DOMAIN.md §4). A catalog that still has access
//! packages cannot be deleted; a resource whose roles a package uses cannot be removed;
//! a webhook connector's secret is write-only: stored for signing, never returned and
//! never written into audit details. A directory group enters a catalog only by the
//! hand of a tenant admin or of one of its owners, and a group that holds a role or
//! approves for another catalog only by a tenant admin's (`Roles::may_add_group`).

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use url::{Host, Url};

use super::audit::{self, Entry};
use super::{Caller, ServiceError, ServiceResult, validated};
use crate::connectors::webhook::is_private;
use crate::crypto::Keys;
use crate::db::catalogs::{Catalog, Resource, ResourceRole};
use crate::db::groups::Relation;
use crate::db::roles::RoleAssignment;
use crate::db::{self, Conn, DbError, Page, PageRequest};
use crate::domain::authz::{Action, GroupPrivilege, Role};
use crate::domain::ids::{
    CatalogId, GroupId, ResourceId, ResourceRoleId, RoleAssignmentId, TenantId,
};
use crate::domain::values::{DisplayName, description};
use crate::domain::{DomainError, FieldErrors};

/// Fields of a catalog as sent by a client; on create `displayName` is required, on
/// update absent fields stay unchanged.
#[derive(Debug, Default, Clone)]
pub struct CatalogFields {
    pub display_name: Option<String>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub externally_visible: Option<bool>,
}

fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("catalog"))
}

fn resource_not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("resource"))
}

fn catalog_json(c: &Catalog) -> Value {
    json!({"displayName": c.display_name, "description": c.description,
           "enabled": c.enabled, "externallyVisible": c.externally_visible})
}

/// The catalog `id` of `tenant`, or 404.
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
    caller.require(Action::CreateCatalog)?;
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
    };
    let mut tx = pool.begin().await?;
    db::catalogs::insert(&mut tx, &catalog).await?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "catalog.created",
            target_type: "catalog",
            target_id: Some(catalog.id.0),
            details: json!({"after": catalog_json(&catalog)}),
        },
        now,
    )
    .await?;
    if !caller.roles.is_tenant_admin() {
        let owner = RoleAssignment {
            tenant_id: tenant,
            id: RoleAssignmentId::new(),
            role: Role::CatalogOwner.as_str().into(),
            user_id: Some(caller.user_id()),
            group_id: None,
            catalog_id: Some(catalog.id),
            created_at: now,
        };
        db::roles::insert(&mut tx, &owner).await?;
        audit::record(
            &mut tx,
            tenant,
            caller.actor(),
            Entry {
                action: "roleAssignment.created",
                target_type: "roleAssignment",
                target_id: Some(owner.id.0),
                details: json!({"role": owner.role, "userId": owner.user_id, "groupId": null,
                                "catalogId": owner.catalog_id, "reason": "catalogCreated"}),
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(catalog)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    id: CatalogId,
    fields: CatalogFields,
    now: DateTime<Utc>,
) -> ServiceResult<Catalog> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let before = load(&mut tx, tenant, id).await?;
    caller.require(Action::EditCatalog(id))?;
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
    db::catalogs::update(&mut tx, &catalog).await?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "catalog.updated",
            target_type: "catalog",
            target_id: Some(id.0),
            details: json!({"before": catalog_json(&before), "after": catalog_json(&catalog)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(catalog)
}

fn catalog_has_packages(count: i64) -> ServiceError {
    DomainError::conflict(format!(
        "This catalog still has {count} access package(s); delete them before deleting the catalog."
    ))
    .into()
}

fn history_conflict() -> ServiceError {
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
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let catalog = load(&mut tx, tenant, id).await?;
    caller.require(Action::EditCatalog(id))?;
    let packages = db::catalogs::count_packages(&mut tx, tenant, id).await?;
    if packages > 0 {
        return Err(catalog_has_packages(packages));
    }
    let resources = db::catalogs::delete_resources_of_catalog(&mut tx, tenant, id)
        .await
        .map_err(|e| match e {
            DbError::ForeignKey(ref c) if c == "access_package_roles_role_fkey" => {
                catalog_has_packages(1)
            }
            DbError::ForeignKey(_) => history_conflict(),
            other => other.into(),
        })?;
    db::catalogs::delete(&mut tx, tenant, id)
        .await
        .map_err(|e| match e {
            // A package created at the same moment.
            DbError::ForeignKey(ref c) if c == "access_packages_catalog_fkey" => {
                catalog_has_packages(1)
            }
            other => other.into(),
        })?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "catalog.deleted",
            target_type: "catalog",
            target_id: Some(id.0),
            details: json!({"before": catalog_json(&catalog), "resourcesRemoved": resources}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a resource is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    Group,
    Application,
    Site,
    Custom,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Application => "application",
            Self::Site => "site",
            Self::Custom => "custom",
        }
    }
}

/// A resource as sent by a client: `kind: group` with `groupId`, or another kind with
/// its own display name, roles and optional webhook connector.
#[derive(Debug, Default, Clone)]
pub struct NewResource {
    pub kind: Option<ResourceKind>,
    pub group_id: Option<GroupId>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub roles: Option<Vec<String>>,
    pub connector: Option<NewConnector>,
}

/// A webhook connector; the secret never leaves the service once stored.
#[derive(Default, Clone)]
pub struct NewConnector {
    pub url: Option<String>,
    pub secret: Option<String>,
}

impl std::fmt::Debug for NewConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConnector")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A resource with its roles, never with its connector secret; a group resource shows
/// its group's current name.
#[derive(Debug, Clone)]
pub struct ResourceView {
    pub resource: Resource,
    pub roles: Vec<ResourceRole>,
}

pub const MAX_ROLES: usize = 50;
pub const MIN_SECRET: usize = 16;
const MAX_SECRET: usize = 1024;
const MAX_URL: usize = 2048;
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

async fn resource_views(
    conn: &mut Conn,
    tenant: TenantId,
    resources: Vec<Resource>,
) -> ServiceResult<Vec<ResourceView>> {
    let ids: Vec<ResourceId> = resources.iter().map(|r| r.id).collect();
    let roles = db::catalogs::roles_of_resources(conn, tenant, &ids).await?;
    let group_ids: Vec<GroupId> = resources.iter().filter_map(|r| r.group_id).collect();
    let groups = if group_ids.is_empty() {
        Vec::new()
    } else {
        db::groups::get_many(conn, tenant, &group_ids).await?
    };
    Ok(resources
        .into_iter()
        .map(|mut resource| {
            // Write-only: it stays in the database for signing and goes no further.
            resource.connector_secret = None;
            if let Some(g) = resource
                .group_id
                .and_then(|g| groups.iter().find(|x| x.id == g))
            {
                resource.display_name = g.display_name.clone();
            }
            let roles = roles
                .iter()
                .filter(|r| r.resource_id == resource.id)
                .cloned()
                .collect();
            ResourceView { resource, roles }
        })
        .collect())
}

/// The audit form of a resource: everything but the connector secret.
fn resource_json(v: &ResourceView) -> Value {
    let r = &v.resource;
    json!({
        "catalogId": r.catalog_id, "kind": r.kind, "displayName": r.display_name,
        "description": r.description, "groupId": r.group_id,
        "addedByTenantAdmin": r.added_by_tenant_admin,
        "roles": v.roles.iter().map(|role| json!({"id": role.id, "displayName": role.display_name})).collect::<Vec<_>>(),
        "connector": r.connector_url.as_ref().map(|url| json!({"type": "webhook", "url": url})),
    })
}

/// What a resource's sealed connector secret is bound to.
pub fn connector_secret_context(tenant: TenantId, resource: ResourceId) -> String {
    format!("resources.connector_secret/{tenant}/{resource}")
}

/// Seals connector secrets written before they were sealed at rest (run at start-up;
/// a no-op once every secret is sealed).
pub async fn seal_legacy_secrets(pool: &PgPool, keys: &Keys) -> ServiceResult<usize> {
    let mut conn = pool.acquire().await?;
    let rows = db::catalogs::unsealed_connector_secrets(&mut conn).await?;
    for (tenant, id, plain) in &rows {
        let sealed = keys.seal(plain, &connector_secret_context(*tenant, *id));
        db::catalogs::reseal_connector_secret(&mut conn, *tenant, *id, plain, &sealed).await?;
    }
    Ok(rows.len())
}

/// Resources of a catalog with their roles (readers of the catalog).
pub async fn list_resources(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
    page: PageRequest,
) -> ServiceResult<Page<ResourceView>> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    load(&mut conn, tenant, catalog).await?;
    caller.require(Action::ReadCatalog(catalog))?;
    let page = db::catalogs::list_resources(&mut conn, tenant, catalog, page).await?;
    let items = resource_views(&mut conn, tenant, page.items).await?;
    Ok(Page {
        items,
        next: page.next,
    })
}

fn private_target(host: &str) -> String {
    format!(
        "'{host}' is a loopback, private or link-local address; a webhook must reach a public address \
         (operators of closed networks can allow this with PORTICO_WEBHOOK_ALLOW_PRIVATE=true)"
    )
}

/// Checks a webhook URL: http(s) with a host, no credentials, and unless private
/// targets are allowed, a host that is not (and does not resolve only to) a
/// non-public address. Names that do not resolve now are accepted: delivery resolves
/// them again.
pub async fn check_webhook_url(raw: &str, allow_private: bool) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("a webhook URL is required".into());
    }
    if raw.chars().count() > MAX_URL {
        return Err(format!("a webhook URL has at most {MAX_URL} characters"));
    }
    let url = Url::parse(raw).map_err(|e| {
        format!("'{raw}' is not a URL ({e}); write it like https://example.com/hooks/portico")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "a webhook URL starts with https:// or http://, not {}://",
            url.scheme()
        ));
    }
    let Some(host) = url.host() else {
        return Err("a webhook URL needs a host name".into());
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("put credentials in the connector secret, not in the URL".into());
    }
    if allow_private {
        return Ok(raw.to_string());
    }
    match host {
        Host::Ipv4(ip) if is_private(IpAddr::V4(ip)) => {
            return Err(private_target(&ip.to_string()));
        }
        Host::Ipv6(ip) if is_private(IpAddr::V6(ip)) => {
            return Err(private_target(&ip.to_string()));
        }
        Host::Ipv4(_) | Host::Ipv6(_) => {}
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(private_target(&name));
            }
            let port = url.port_or_known_default().unwrap_or(443);
            if let Ok(Ok(addrs)) = tokio::time::timeout(
                RESOLVE_TIMEOUT,
                tokio::net::lookup_host((name.as_str(), port)),
            )
            .await
            {
                let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                // As at delivery: one non-public answer refuses the name.
                if ips.iter().any(|ip| is_private(*ip)) {
                    return Err(format!(
                        "'{name}' resolves to a loopback, private or otherwise non-public address; a webhook must reach a public address \
                         (operators of closed networks can allow this with PORTICO_WEBHOOK_ALLOW_PRIVATE=true)"
                    ));
                }
            }
        }
    }
    Ok(raw.to_string())
}

/// Role names of a non-group resource: 1–50 unique (case-insensitive) display names.
fn check_role_names(names: Option<&[String]>, errors: &mut FieldErrors) -> Vec<String> {
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        errors.add(
            "roles",
            "name at least one role of the resource (for example \"Reader\")",
        );
        return Vec::new();
    };
    if names.len() > MAX_ROLES {
        errors.add("roles", format!("a resource has at most {MAX_ROLES} roles"));
        return Vec::new();
    }
    let mut parsed: Vec<String> = Vec::new();
    for (i, raw) in names.iter().enumerate() {
        let field = format!("roles[{i}]");
        if let Some(name) = errors.check(&field, DisplayName::parse(raw)) {
            let name = name.into_string();
            if parsed
                .iter()
                .any(|p| p.to_lowercase() == name.to_lowercase())
            {
                errors.add(&field, format!("the role '{name}' is named twice"));
            } else {
                parsed.push(name);
            }
        }
    }
    parsed
}

/// Adds a resource to a catalog (its editors). Group resources get the roles Member
/// and Owner; other kinds the roles they name. Whether a tenant admin added it is kept:
/// delivery into a group that carries power depends on it.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog_id))]
pub async fn add_resource(
    pool: &PgPool,
    caller: &Caller,
    catalog_id: CatalogId,
    input: NewResource,
    allow_private_webhooks: bool,
    keys: &Keys,
    now: DateTime<Utc>,
) -> ServiceResult<ResourceView> {
    let tenant = caller.tenant_id();
    {
        let mut conn = pool.acquire().await?;
        load(&mut conn, tenant, catalog_id).await?;
    }
    caller.require(Action::EditCatalog(catalog_id))?;
    let mut errors = FieldErrors::new();
    let desc = errors
        .check("description", description(input.description.as_deref()))
        .unwrap_or_default();
    let resource_id = ResourceId::new();
    let mut resource = Resource {
        tenant_id: tenant,
        id: resource_id,
        catalog_id,
        kind: String::new(),
        group_id: None,
        display_name: String::new(),
        description: desc,
        connector_url: None,
        connector_secret: None,
        added_by_tenant_admin: caller.roles.is_tenant_admin(),
        created_at: now,
        updated_at: now,
    };
    let role = |name: &str, relation: Option<&str>| ResourceRole {
        tenant_id: tenant,
        id: ResourceRoleId::new(),
        resource_id,
        display_name: name.to_string(),
        group_relation: relation.map(str::to_string),
        created_at: now,
    };
    let roles: Vec<ResourceRole>;
    match input.kind {
        None => {
            errors.add(
                "kind",
                "say what the resource is: group, application, site or custom",
            );
            return Err(DomainError::Validation(errors).into());
        }
        Some(ResourceKind::Group) => {
            resource.kind = ResourceKind::Group.as_str().into();
            if input.group_id.is_none() {
                errors.add(
                    "groupId",
                    "a group resource needs the groupId of a directory group",
                );
            }
            if input.roles.as_ref().is_some_and(|r| !r.is_empty()) {
                errors.add(
                    "roles",
                    "group resources always have the roles Member and Owner; leave roles out",
                );
            }
            if input.connector.is_some() {
                errors.add(
                    "connector",
                    "group resources are delivered directly into the group and take no connector",
                );
            }
            resource.group_id = input.group_id;
            roles = vec![role("Member", Some("member")), role("Owner", Some("owner"))];
        }
        Some(kind) => {
            resource.kind = kind.as_str().into();
            if input.group_id.is_some() {
                errors.add("groupId", "only group resources point at a directory group");
            }
            match &input.display_name {
                None => errors.add("displayName", "a display name is required"),
                Some(n) => {
                    if let Some(n) = errors.check("displayName", DisplayName::parse(n)) {
                        resource.display_name = n.into_string();
                    }
                }
            }
            roles = check_role_names(input.roles.as_deref(), &mut errors)
                .iter()
                .map(|name| role(name, None))
                .collect();
            if let Some(connector) = &input.connector {
                match connector.url.as_deref() {
                    None => {
                        errors.add("connector.url", "a webhook connector needs the URL to call")
                    }
                    Some(url) => match check_webhook_url(url, allow_private_webhooks).await {
                        Ok(url) => resource.connector_url = Some(url),
                        Err(message) => errors.add("connector.url", message),
                    },
                }
                match connector.secret.as_deref() {
                    None => errors.add(
                        "connector.secret",
                        format!("a webhook connector needs a signing secret of at least {MIN_SECRET} characters"),
                    ),
                    Some(s) if s.chars().count() < MIN_SECRET => errors.add(
                        "connector.secret",
                        format!("the secret must have at least {MIN_SECRET} characters"),
                    ),
                    Some(s) if s.chars().count() > MAX_SECRET => {
                        errors.add("connector.secret", format!("the secret has at most {MAX_SECRET} characters"))
                    }
                    // Sealed at rest, bound to this tenant and resource.
                    Some(s) => {
                        resource.connector_secret =
                            Some(keys.seal(s, &connector_secret_context(tenant, resource_id)))
                    }
                }
            }
        }
    }
    let mut tx = pool.begin().await?;
    if let Some(group_id) = resource.group_id {
        match db::groups::get(&mut tx, tenant, group_id).await? {
            Some(group) => resource.display_name = group.display_name,
            None => errors.add("groupId", format!("there is no group with id {group_id}")),
        }
    }
    validated(errors)?;
    if let Some(group_id) = resource.group_id {
        let owns =
            db::groups::is_related(&mut tx, Relation::Owner, tenant, group_id, caller.user_id())
                .await?;
        let facts = db::groups::privilege_facts(&mut tx, tenant, &[group_id]).await?;
        let privilege = GroupPrivilege::assess(
            group_id,
            catalog_id,
            &facts.holding_roles,
            &facts.policies(),
        );
        caller.roles.may_add_group(owns, privilege)?;
    }
    db::catalogs::insert_resource(&mut tx, &resource, &roles)
        .await
        .map_err(|e| match e {
            DbError::Unique(ref c) if c == "resources_group_once_key" => ServiceError::Domain(
                DomainError::conflict("This group is already a resource of this catalog."),
            ),
            DbError::Unique(ref c) if c == "resource_roles_name_key" => {
                DomainError::field("roles", "two roles of a resource cannot have the same name")
                    .into()
            }
            // Deleted while this request was being checked.
            DbError::ForeignKey(ref c) if c == "resources_catalog_fkey" => not_found(),
            DbError::ForeignKey(ref c) if c == "resources_group_fkey" => {
                DomainError::field("groupId", "this group has just been deleted").into()
            }
            other => other.into(),
        })?;
    resource.connector_secret = None;
    let view = ResourceView { resource, roles };
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "resource.added",
            target_type: "resource",
            target_id: Some(resource_id.0),
            details: json!({"after": resource_json(&view)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// Removes a resource that no access package uses (its editors).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog_id, id = %id))]
pub async fn remove_resource(
    pool: &PgPool,
    caller: &Caller,
    catalog_id: CatalogId,
    id: ResourceId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    load(&mut tx, tenant, catalog_id).await?;
    let resource = db::catalogs::get_resource(&mut tx, tenant, catalog_id, id)
        .await?
        .ok_or_else(resource_not_found)?;
    caller.require(Action::EditCatalog(catalog_id))?;
    let in_use = || {
        ServiceError::Domain(DomainError::conflict(
            "Access packages use roles of this resource; remove those roles from the packages first.",
        ))
    };
    if db::catalogs::resource_in_use(&mut tx, tenant, id).await? {
        return Err(in_use());
    }
    let view = resource_views(&mut tx, tenant, vec![resource])
        .await?
        .pop()
        .ok_or_else(resource_not_found)?;
    db::catalogs::delete_resource(&mut tx, tenant, id)
        .await
        .map_err(|e| match e {
            DbError::ForeignKey(ref c) if c == "access_package_roles_role_fkey" => in_use(),
            DbError::ForeignKey(_) => history_conflict(),
            other => other.into(),
        })?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "resource.removed",
            target_type: "resource",
            target_id: Some(id.0),
            details: json!({"before": resource_json(&view)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn loopback_private_link_local_and_unspecified_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip(a)), "{a} should not be public");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(ip(a)), "{a} should be public");
        }
    }

    #[tokio::test]
    async fn webhook_urls_must_be_http_with_a_public_host() {
        for bad in [
            "",
            "not a url",
            "ftp://example.com/x",
            "http://localhost:8080/hook",
            "http://api.localhost/hook",
            "http://127.0.0.1/hook",
            "http://[::1]/hook",
            "http://0x7f.1/hook",
            "https://user:pw@93.184.216.34/hook",
        ] {
            assert!(
                check_webhook_url(bad, false).await.is_err(),
                "{bad} should be refused"
            );
        }
        assert!(
            check_webhook_url("https://93.184.216.34/hook", false)
                .await
                .is_ok()
        );
        assert!(
            check_webhook_url("http://127.0.0.1:9/hook", true)
                .await
                .is_ok()
        );
        assert!(
            check_webhook_url("ftp://127.0.0.1/hook", true)
                .await
                .is_err()
        );
    }
}
