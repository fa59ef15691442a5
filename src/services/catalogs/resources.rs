//! Resources of a catalog and their roles. A resource whose roles a package uses cannot
//! be removed; a connector's secret (webhook secret, SCIM token) is write-only: stored
//! sealed for delivery, never returned and never written into audit details. Each role
//! of a non-group resource says what it means in the connector's target (its
//! connector value, its name unless given). A directory group enters a catalog
//! only by the hand of a tenant admin or of one of its owners, and a group that holds a
//! role or approves for another catalog only by a tenant admin's
//! (`Roles::may_add_group`).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::connector::{NewConnector, check_connector, connector_secret_context};
use super::{history_conflict, load, not_found, resource_not_found};
use crate::connectors::ldap::parse_group_dn;
use crate::crypto::Keys;
use crate::db::catalogs::{Resource, ResourceRole};
use crate::db::groups::Relation;
use crate::db::{self, Conn, DbError, Page, PageRequest};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{Action, GroupPrivilege, Permit};
use crate::domain::connector::{ConnectorType, parse_connector_value};
use crate::domain::ids::{CatalogId, GroupId, ResourceId, ResourceRoleId, TenantId};
use crate::domain::values::{DisplayName, description};
use crate::domain::{DomainError, FieldErrors};
use crate::model::outbox::ConnectorHealth;
use crate::services::tx::Work;
use crate::services::{Caller, ServiceError, ServiceResult, validated};

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
/// its own display name, roles and optional connector.
#[derive(Debug, Default, Clone)]
pub struct NewResource {
    pub kind: Option<ResourceKind>,
    pub group_id: Option<GroupId>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub roles: Option<Vec<NewRole>>,
    pub connector: Option<NewConnector>,
}

/// A role as sent by a client: a name (which is also its connector value), or a name
/// with the value it has in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewRole {
    Named(String),
    Mapped {
        display_name: Option<String>,
        connector_value: Option<String>,
    },
}

/// A resource with its roles, never with its connector secret; a group resource shows
/// its group's current name. A resource with a connector has its health (from the
/// outbox; all zero before the first call), one without has none.
#[derive(Debug, Clone)]
pub struct ResourceView {
    pub resource: Resource,
    pub roles: Vec<ResourceRole>,
    pub health: Option<ConnectorHealth>,
}

pub const MAX_ROLES: usize = 50;

async fn resource_views(
    conn: &mut Conn,
    tenant: TenantId,
    resources: Vec<Resource>,
) -> ServiceResult<Vec<ResourceView>> {
    let ids: Vec<ResourceId> = resources.iter().map(|r| r.id).collect();
    let roles = db::catalogs::roles_of_resources(conn, tenant, &ids).await?;
    let connected: Vec<ResourceId> = resources
        .iter()
        .filter(|r| r.connector.is_some())
        .map(|r| r.id)
        .collect();
    let health = db::outbox::connector_health(conn, tenant, &connected).await?;
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
            let health = resource.connector.as_ref().map(|_| {
                health
                    .iter()
                    .find(|h| h.resource_id == resource.id.0)
                    .cloned()
                    .unwrap_or_else(|| ConnectorHealth {
                        resource_id: resource.id.0,
                        ..ConnectorHealth::default()
                    })
            });
            ResourceView {
                resource,
                roles,
                health,
            }
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
        "roles": v.roles.iter().map(|role| json!({"id": role.id, "displayName": role.display_name,
                                                   "connectorValue": role.connector_value})).collect::<Vec<_>>(),
        "connector": r.connector,
    })
}

/// Resources of a catalog with their roles (readers of the catalog).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
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

/// One resource of a catalog with its roles (readers of the catalog).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn get_resource(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
    id: ResourceId,
) -> ServiceResult<ResourceView> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    load(&mut conn, tenant, catalog).await?;
    caller.require(Action::ReadCatalog(catalog))?;
    let resource = db::catalogs::get_resource(&mut conn, tenant, catalog, id)
        .await?
        .ok_or_else(resource_not_found)?;
    resource_views(&mut conn, tenant, vec![resource])
        .await?
        .pop()
        .ok_or_else(resource_not_found)
}

/// Roles of a non-group resource: 1–50 with unique (case-insensitive) display names
/// and unique connector values; `(name, connector value)` pairs. A role given by name
/// is answered at `roles[i]`, one given as an object at `roles[i].<field>`.
/// With `group_dns` (an LDAP connector), every connector value must be a group's DN.
fn check_roles(
    roles: Option<&[NewRole]>,
    group_dns: bool,
    errors: &mut FieldErrors,
) -> Vec<(String, String)> {
    let Some(roles) = roles.filter(|n| !n.is_empty()) else {
        errors.add(
            "roles",
            "name at least one role of the resource (for example \"Reader\")",
        );
        return Vec::new();
    };
    if roles.len() > MAX_ROLES {
        errors.add("roles", format!("a resource has at most {MAX_ROLES} roles"));
        return Vec::new();
    }
    let mut parsed: Vec<(String, String)> = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let (name_field, value_field, name, value) = match role {
            NewRole::Named(name) => (
                format!("roles[{i}]"),
                format!("roles[{i}]"),
                Some(name.as_str()),
                None,
            ),
            NewRole::Mapped {
                display_name,
                connector_value,
            } => (
                format!("roles[{i}].displayName"),
                format!("roles[{i}].connectorValue"),
                display_name.as_deref(),
                connector_value.as_deref(),
            ),
        };
        let Some(raw) = name else {
            errors.add(&name_field, "a role needs a displayName");
            continue;
        };
        let Some(name) = errors.check(&name_field, DisplayName::parse(raw)) else {
            continue;
        };
        let name = name.into_string();
        let value = match value {
            None => name.clone(),
            Some(v) => match errors.check(&value_field, parse_connector_value(v)) {
                Some(v) => v,
                None => continue,
            },
        };
        if group_dns && let Err(e) = parse_group_dn(&value) {
            errors.add(
                &value_field,
                format!(
                    "the role '{name}' is delivered by an LDAP connector, so its connector value must be the DN of an LDAP group, like cn=editors,ou=groups,dc=example,dc=com ({e})"
                ),
            );
            continue;
        }
        if let Some((other, _)) = parsed
            .iter()
            .find(|(p, _)| p.to_lowercase() == name.to_lowercase())
        {
            errors.add(&name_field, format!("the role '{other}' is named twice"));
        } else if let Some((other, _)) = parsed
            .iter()
            .find(|(_, v)| v.to_lowercase() == value.to_lowercase())
        {
            errors.add(
                &value_field,
                format!("the roles '{other}' and '{name}' would both mean '{value}' in the target; give each role its own connector value"),
            );
        } else {
            parsed.push((name, value));
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
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = add_resource_in(
        &mut work,
        caller,
        catalog_id,
        input,
        allow_private_webhooks,
        keys,
    )
    .await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `add_resource`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog_id))]
pub(crate) async fn add_resource_in(
    work: &mut Work,
    caller: &Caller,
    catalog_id: CatalogId,
    input: NewResource,
    allow_private_webhooks: bool,
    keys: &Keys,
) -> ServiceResult<(ResourceView, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    {
        let conn = work.conn();
        load(conn, tenant, catalog_id).await?;
    }
    let permit = caller.require(Action::EditCatalog(catalog_id))?;
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
        connector: None,
        connector_secret: None,
        added_by_tenant_admin: caller.roles.is_tenant_admin(),
        created_at: now,
        updated_at: now,
    };
    let role = |name: &str, relation: Option<&str>, value: Option<&str>| ResourceRole {
        tenant_id: tenant,
        id: ResourceRoleId::new(),
        resource_id,
        display_name: name.to_string(),
        group_relation: relation.map(str::to_string),
        connector_value: value.map(str::to_string),
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
            roles = vec![
                role("Member", Some("member"), None),
                role("Owner", Some("owner"), None),
            ];
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
            let group_dns = input
                .connector
                .as_ref()
                .is_some_and(|c| c.kind == ConnectorType::Ldap);
            roles = check_roles(input.roles.as_deref(), group_dns, &mut errors)
                .iter()
                .map(|(name, value)| role(name, None, Some(value)))
                .collect();
            if let Some(connector) = &input.connector
                && let Some(checked) =
                    check_connector(connector, allow_private_webhooks, false, &mut errors).await
            {
                // Sealed at rest, bound to this tenant and resource.
                resource.connector_secret = checked
                    .secret
                    .map(|s| keys.seal(&s, &connector_secret_context(tenant, resource_id)));
                resource.connector = Some(checked.connector);
            }
        }
    }
    if let Some(group_id) = resource.group_id {
        match db::groups::get(work.conn(), tenant, group_id).await? {
            Some(group) => resource.display_name = group.display_name,
            None => errors.add("groupId", format!("there is no group with id {group_id}")),
        }
    }
    validated(errors)?;
    if let Some(group_id) = resource.group_id {
        let owns = db::groups::is_related(
            work.conn(),
            Relation::Owner,
            tenant,
            group_id,
            caller.user_id(),
        )
        .await?;
        let facts = db::groups::privilege_facts(work.conn(), tenant, &[group_id]).await?;
        let privilege = GroupPrivilege::assess(
            group_id,
            catalog_id,
            &facts.holding_roles,
            &facts.policies(),
        );
        caller.roles.may_add_group(owns, privilege)?;
    }
    db::catalogs::insert_resource(work.conn(), &resource, &roles)
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
    let health = resource.connector.as_ref().map(|_| ConnectorHealth {
        resource_id: resource_id.0,
        ..ConnectorHealth::default()
    });
    let view = ResourceView {
        resource,
        roles,
        health,
    };
    work.audit(
        AuditAction::ResourceAdded,
        Target::Resource(resource_id),
        json!({"after": resource_json(&view)}),
    );
    Ok((view, permit))
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
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = remove_resource_in(&mut work, caller, catalog_id, id).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `remove_resource`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog_id, id = %id))]
pub(crate) async fn remove_resource_in(
    work: &mut Work,
    caller: &Caller,
    catalog_id: CatalogId,
    id: ResourceId,
) -> ServiceResult<((), Permit)> {
    let tenant = caller.tenant_id();
    load(work.conn(), tenant, catalog_id).await?;
    let resource = db::catalogs::get_resource(work.conn(), tenant, catalog_id, id)
        .await?
        .ok_or_else(resource_not_found)?;
    let permit = caller.require(Action::EditCatalog(catalog_id))?;
    let in_use = || {
        ServiceError::Domain(DomainError::conflict(
            "Access packages use roles of this resource; remove those roles from the packages first.",
        ))
    };
    if db::catalogs::resource_in_use(work.conn(), tenant, id).await? {
        return Err(in_use());
    }
    let view = resource_views(work.conn(), tenant, vec![resource])
        .await?
        .pop()
        .ok_or_else(resource_not_found)?;
    db::catalogs::delete_resource(work.conn(), tenant, id)
        .await
        .map_err(|e| match e {
            DbError::ForeignKey(ref c) if c == "access_package_roles_role_fkey" => in_use(),
            DbError::ForeignKey(_) => history_conflict(),
            other => other.into(),
        })?;
    work.audit(
        AuditAction::ResourceRemoved,
        Target::Resource(id),
        json!({"before": resource_json(&view)}),
    );
    Ok(((), permit))
}

/// Adds the group with this exact name to the catalog as a resource (the package
/// form's "add a group" step); errors name `field`. The group rules of `add_resource`
/// hold: only a tenant admin or an owner of the group may add it.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog_id))]
pub async fn add_group_by_name(
    pool: &PgPool,
    caller: &Caller,
    catalog_id: CatalogId,
    name: &str,
    field: &str,
    keys: &Keys,
    now: DateTime<Utc>,
) -> ServiceResult<ResourceView> {
    let group = match crate::services::principals::resolve_principal(pool, caller, name, field)
        .await?
    {
        crate::services::roles::Principal::Group(g) => g,
        crate::services::roles::Principal::User(_) => {
            return Err(
                DomainError::field(field, "enter the exact name of a group, not a person").into(),
            );
        }
    };
    add_resource(
        pool,
        caller,
        catalog_id,
        NewResource {
            kind: Some(ResourceKind::Group),
            group_id: Some(group),
            display_name: None,
            description: None,
            roles: None,
            connector: None,
        },
        false,
        keys,
        now,
    )
    .await
    .map_err(|e| match e {
        ServiceError::Domain(DomainError::Validation(errors)) => {
            let mut renamed = FieldErrors::new();
            for message in errors.0.values() {
                renamed.add(field, message.clone());
            }
            ServiceError::Domain(DomainError::Validation(renamed))
        }
        other => other,
    })
}
