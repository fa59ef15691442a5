//! Access packages and their assignment policies (DOMAIN.md §5). A package holds
//! resource roles of its own catalog only; a package or policy with active assignments
//! or open requests cannot be deleted, and one with request history cannot either
//! (hide it or disable its policies instead). Changing a package's roles goes through
//! `grants::package_roles_changed` in the same transaction.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::types::Json;

use super::audit::{self, Entry};
use super::{Caller, ServiceError, ServiceResult, catalogs, grants, validated};
use crate::db::catalogs::Catalog;
use crate::db::packages::{AccessPackage, Policy, Visibility};
use crate::db::{self, Conn, DbError, Page, PageRequest};
use crate::domain::authz::Action;
use crate::domain::ids::{
    CatalogId, GroupId, PackageId, PolicyId, ResourceRoleId, TenantId, UserId,
};
use crate::domain::policy::{PolicySettings, PrincipalKind};
use crate::domain::values::{DisplayName, description};
use crate::domain::{DomainError, FieldErrors};

/// Fields of a package as sent by a client; on create `catalogId` and `displayName`
/// are required, on update absent fields stay unchanged and lists are replaced whole.
#[derive(Debug, Default, Clone)]
pub struct PackageFields {
    pub catalog_id: Option<CatalogId>,
    pub display_name: Option<String>,
    pub description: Option<Option<String>>,
    pub hidden: Option<bool>,
    pub resource_role_ids: Option<Vec<ResourceRoleId>>,
    pub incompatible_package_ids: Option<Vec<PackageId>>,
    pub incompatible_group_ids: Option<Vec<GroupId>>,
}

/// A package with its resource roles and incompatibilities.
#[derive(Debug, Clone)]
pub struct PackageView {
    pub package: AccessPackage,
    pub resource_role_ids: Vec<ResourceRoleId>,
    pub incompatible_package_ids: Vec<PackageId>,
    pub incompatible_group_ids: Vec<GroupId>,
}

/// A policy as sent by a client (PUT takes the whole of it).
#[derive(Debug, Clone)]
pub struct PolicyInput {
    pub display_name: Option<String>,
    pub settings: PolicySettings,
}

fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("access package"))
}

fn policy_not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("policy"))
}

fn history_conflict(message: &str) -> ServiceError {
    DomainError::conflict(message).into()
}

const PACKAGE_HISTORY: &str =
    "This access package has a request history; hide it or disable its policies instead.";
const POLICY_HISTORY: &str = "This policy has a request history; set requestsEnabled to false (or change its requestors) instead.";

/// A policy's package the caller cannot see reads as a missing policy.
fn as_policy_not_found(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Domain(DomainError::NotFound(_)) => policy_not_found(),
        other => other,
    }
}

fn is_history_fkey(constraint: &str) -> bool {
    matches!(
        constraint,
        "assignment_requests_package_fkey"
            | "assignment_requests_policy_fkey"
            | "assignments_package_fkey"
            | "assignments_policy_fkey"
            | "access_reviews_package_fkey"
            | "access_reviews_policy_fkey"
    )
}

fn open_work_conflict(what: &str, assignments: i64, requests: i64) -> ServiceError {
    DomainError::conflict(format!(
        "This {what} has {assignments} active assignment(s) and {requests} open request(s); \
         remove the assignments and let the requests finish (or cancel them) before deleting it."
    ))
    .into()
}

/// A write that lost a race with the deletion of something it names.
fn package_write_error(e: DbError) -> ServiceError {
    let gone = |field: &str, what: &str| -> ServiceError {
        DomainError::field(field, format!("{what} named here has just been deleted")).into()
    };
    match e {
        DbError::ForeignKey(ref c) => match c.as_str() {
            "access_packages_catalog_fkey" => gone("catalogId", "the catalog"),
            "access_package_roles_role_fkey" => gone("resourceRoleIds", "a resource role"),
            "incompatible_packages_other_fkey" => {
                gone("incompatiblePackageIds", "an access package")
            }
            "incompatible_groups_group_fkey" => gone("incompatibleGroupIds", "a group"),
            _ => e.into(),
        },
        other => other.into(),
    }
}

fn dedupe<T: PartialEq + Copy>(ids: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(*id);
        }
    }
    out
}

fn package_json(v: &PackageView) -> Value {
    let p = &v.package;
    json!({"catalogId": p.catalog_id, "displayName": p.display_name, "description": p.description,
           "hidden": p.hidden, "resourceRoleIds": v.resource_role_ids,
           "incompatiblePackageIds": v.incompatible_package_ids,
           "incompatibleGroupIds": v.incompatible_group_ids})
}

/// The second halves of the pairs that belong to `package`.
fn of<T: Copy>(pairs: &[(PackageId, T)], package: PackageId) -> Vec<T> {
    pairs
        .iter()
        .filter(|(p, _)| *p == package)
        .map(|(_, x)| *x)
        .collect()
}

/// Packages with their roles and incompatibilities, in three queries whatever the count.
async fn views(
    conn: &mut Conn,
    tenant: TenantId,
    packages: Vec<AccessPackage>,
) -> ServiceResult<Vec<PackageView>> {
    let ids: Vec<PackageId> = packages.iter().map(|p| p.id).collect();
    let roles = db::packages::roles_of(conn, tenant, &ids).await?;
    let other_packages = db::packages::incompatible_packages_of(conn, tenant, &ids).await?;
    let groups = db::packages::incompatible_groups_of(conn, tenant, &ids).await?;
    Ok(packages
        .into_iter()
        .map(|package| PackageView {
            resource_role_ids: of(&roles, package.id),
            incompatible_package_ids: of(&other_packages, package.id),
            incompatible_group_ids: of(&groups, package.id),
            package,
        })
        .collect())
}

async fn view(
    conn: &mut Conn,
    tenant: TenantId,
    package: AccessPackage,
) -> ServiceResult<PackageView> {
    views(conn, tenant, vec![package])
        .await?
        .pop()
        .ok_or_else(not_found)
}

/// Whether the caller may see packages of `catalog`: its readers always (hidden ones
/// included); everyone else while it is enabled, guests only when it is externally
/// visible. Hidden packages are readable by id (requestable by direct link).
fn may_see(caller: &Caller, catalog: &Catalog) -> bool {
    caller.roles.allows(Action::ReadCatalog(catalog.id))
        || (catalog.enabled && (!caller.user.is_guest() || catalog.externally_visible))
}

/// The package `id` with its catalog, if the caller may see it (else 404).
async fn load_visible(
    conn: &mut Conn,
    caller: &Caller,
    id: PackageId,
) -> ServiceResult<(AccessPackage, Catalog)> {
    let tenant = caller.tenant_id();
    let package = db::packages::get(conn, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    let catalog = catalogs::load(conn, tenant, package.catalog_id).await?;
    if !may_see(caller, &catalog) {
        return Err(not_found());
    }
    Ok((package, catalog))
}

/// Checks that every role is a role of a resource in `catalog`; returns them deduplicated.
async fn check_roles(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
    ids: &[ResourceRoleId],
    errors: &mut FieldErrors,
) -> ServiceResult<Vec<ResourceRoleId>> {
    let found = if ids.is_empty() {
        Vec::new()
    } else {
        db::catalogs::roles_in_catalog(conn, tenant, catalog, ids).await?
    };
    for (i, id) in ids.iter().enumerate() {
        if !found.contains(id) {
            errors.add(
                format!("resourceRoleIds[{i}]"),
                format!(
                    "there is no resource role {id} in this package's catalog; add its resource to the catalog first"
                ),
            );
        }
    }
    Ok(dedupe(ids))
}

async fn check_incompatible_packages(
    conn: &mut Conn,
    tenant: TenantId,
    own: PackageId,
    ids: &[PackageId],
    errors: &mut FieldErrors,
) -> ServiceResult<Vec<PackageId>> {
    let found = if ids.is_empty() {
        Vec::new()
    } else {
        db::packages::get_many(conn, tenant, ids).await?
    };
    for (i, id) in ids.iter().enumerate() {
        let field = format!("incompatiblePackageIds[{i}]");
        if *id == own {
            errors.add(
                field,
                "an access package cannot be incompatible with itself",
            );
        } else if !found.iter().any(|p| p.id == *id) {
            errors.add(field, format!("there is no access package with id {id}"));
        }
    }
    Ok(dedupe(ids))
}

async fn check_incompatible_groups(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[GroupId],
    errors: &mut FieldErrors,
) -> ServiceResult<Vec<GroupId>> {
    let found = if ids.is_empty() {
        Vec::new()
    } else {
        db::groups::get_many(conn, tenant, ids).await?
    };
    for (i, id) in ids.iter().enumerate() {
        if !found.iter().any(|g| g.id == *id) {
            errors.add(
                format!("incompatibleGroupIds[{i}]"),
                format!("there is no group with id {id}"),
            );
        }
    }
    Ok(dedupe(ids))
}

/// Packages the caller may see, newest first.
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    catalog: Option<CatalogId>,
    search: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<PackageView>> {
    let tenant = caller.tenant_id();
    let mut readable: Vec<CatalogId> = caller
        .roles
        .catalogs()
        .filter(|c| caller.roles.allows(Action::ReadCatalog(*c)))
        .collect();
    readable.sort();
    readable.dedup();
    let visibility = Visibility {
        read_all: caller.roles.is_tenant_admin(),
        readable: &readable,
        guest: caller.user.is_guest(),
    };
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let mut conn = pool.acquire().await?;
    let page =
        db::packages::list_visible(&mut conn, tenant, &visibility, catalog, search, page).await?;
    let items = views(&mut conn, tenant, page.items).await?;
    Ok(Page {
        items,
        next: page.next,
    })
}

pub async fn get(pool: &PgPool, caller: &Caller, id: PackageId) -> ServiceResult<PackageView> {
    let mut conn = pool.acquire().await?;
    let (package, _) = load_visible(&mut conn, caller, id).await?;
    view(&mut conn, caller.tenant_id(), package).await
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    fields: PackageFields,
    now: DateTime<Utc>,
) -> ServiceResult<PackageView> {
    let tenant = caller.tenant_id();
    let mut errors = FieldErrors::new();
    let mut tx = pool.begin().await?;
    let catalog = match fields.catalog_id {
        None => {
            errors.add(
                "catalogId",
                "name the catalog of the access package (catalogId)",
            );
            None
        }
        Some(id) => {
            let found = db::catalogs::get(&mut tx, tenant, id).await?;
            if found.is_none() {
                errors.add("catalogId", format!("there is no catalog with id {id}"));
            }
            found
        }
    };
    if let Some(c) = &catalog {
        caller.require(Action::ManagePackages(c.id))?;
    }
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
    let id = PackageId::new();
    let roles = match &catalog {
        Some(c) => {
            let ids = fields.resource_role_ids.clone().unwrap_or_default();
            check_roles(&mut tx, tenant, c.id, &ids, &mut errors).await?
        }
        None => Vec::new(),
    };
    let other_packages = check_incompatible_packages(
        &mut tx,
        tenant,
        id,
        &fields.incompatible_package_ids.clone().unwrap_or_default(),
        &mut errors,
    )
    .await?;
    let groups = check_incompatible_groups(
        &mut tx,
        tenant,
        &fields.incompatible_group_ids.clone().unwrap_or_default(),
        &mut errors,
    )
    .await?;
    validated(errors)?;
    let Some(catalog) = catalog else {
        return Err(
            DomainError::field("catalogId", "name the catalog of the access package").into(),
        );
    };
    let package = AccessPackage {
        tenant_id: tenant,
        id,
        catalog_id: catalog.id,
        display_name: name.map(DisplayName::into_string).unwrap_or_default(),
        description: desc.unwrap_or_default(),
        hidden: fields.hidden.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    db::packages::insert(&mut tx, &package)
        .await
        .map_err(package_write_error)?;
    for role in &roles {
        db::packages::add_role(&mut tx, tenant, id, *role, now)
            .await
            .map_err(package_write_error)?;
    }
    db::packages::set_incompatible(&mut tx, tenant, id, &other_packages, &groups)
        .await
        .map_err(package_write_error)?;
    let view = view(&mut tx, tenant, package).await?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "accessPackage.created",
            target_type: "accessPackage",
            target_id: Some(id.0),
            details: json!({"after": package_json(&view)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
    fields: PackageFields,
    now: DateTime<Utc>,
) -> ServiceResult<PackageView> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let (package, catalog) = load_visible(&mut tx, caller, id).await?;
    caller.require(Action::ManagePackages(catalog.id))?;
    let before = view(&mut tx, tenant, package.clone()).await?;
    let mut package = package;
    let mut errors = FieldErrors::new();
    if let Some(c) = fields.catalog_id
        && c != package.catalog_id
    {
        errors.add(
            "catalogId",
            "an access package cannot move to another catalog; create a new one there instead",
        );
    }
    if let Some(n) = &fields.display_name
        && let Some(n) = errors.check("displayName", DisplayName::parse(n))
    {
        package.display_name = n.into_string();
    }
    if let Some(d) = &fields.description
        && let Some(d) = errors.check("description", description(d.as_deref()))
    {
        package.description = d;
    }
    if let Some(hidden) = fields.hidden {
        package.hidden = hidden;
    }
    let roles = match &fields.resource_role_ids {
        Some(ids) => check_roles(&mut tx, tenant, catalog.id, ids, &mut errors).await?,
        None => before.resource_role_ids.clone(),
    };
    let other_packages = match &fields.incompatible_package_ids {
        Some(ids) => check_incompatible_packages(&mut tx, tenant, id, ids, &mut errors).await?,
        None => before.incompatible_package_ids.clone(),
    };
    let groups = match &fields.incompatible_group_ids {
        Some(ids) => check_incompatible_groups(&mut tx, tenant, ids, &mut errors).await?,
        None => before.incompatible_group_ids.clone(),
    };
    validated(errors)?;
    package.updated_at = now;
    db::packages::update(&mut tx, &package).await?;
    let added: Vec<ResourceRoleId> = roles
        .iter()
        .filter(|r| !before.resource_role_ids.contains(r))
        .copied()
        .collect();
    let removed: Vec<ResourceRoleId> = before
        .resource_role_ids
        .iter()
        .filter(|r| !roles.contains(r))
        .copied()
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        for role in &added {
            db::packages::add_role(&mut tx, tenant, id, *role, now)
                .await
                .map_err(package_write_error)?;
        }
        for role in &removed {
            db::packages::remove_role(&mut tx, tenant, id, *role).await?;
        }
        grants::package_roles_changed(&mut tx, tenant, id, &added, &removed, caller.actor(), now)
            .await?;
    }
    if fields.incompatible_package_ids.is_some() || fields.incompatible_group_ids.is_some() {
        db::packages::set_incompatible(&mut tx, tenant, id, &other_packages, &groups)
            .await
            .map_err(package_write_error)?;
    }
    let after = view(&mut tx, tenant, package).await?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "accessPackage.updated",
            target_type: "accessPackage",
            target_id: Some(id.0),
            details: json!({"before": package_json(&before), "after": package_json(&after)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a package (and its policies) that never had requests.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn delete(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let (package, catalog) = load_visible(&mut tx, caller, id).await?;
    caller.require(Action::ManagePackages(catalog.id))?;
    let (assignments, requests) = db::packages::open_work(&mut tx, tenant, id, None).await?;
    if assignments > 0 || requests > 0 {
        return Err(open_work_conflict("access package", assignments, requests));
    }
    let before = view(&mut tx, tenant, package).await?;
    db::packages::delete(&mut tx, tenant, id)
        .await
        .map_err(|e| match e {
            DbError::ForeignKey(ref c) if is_history_fkey(c) => history_conflict(PACKAGE_HISTORY),
            other => other.into(),
        })?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "accessPackage.deleted",
            target_type: "accessPackage",
            target_id: Some(id.0),
            details: json!({"before": package_json(&before)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn policy_json(p: &Policy) -> Value {
    json!({"accessPackageId": p.package_id, "displayName": p.display_name, "settings": p.settings.0})
}

/// Checks the name and settings of a policy, and that every user and group it names
/// exists in the tenant; returns the parsed name.
async fn check_policy(
    conn: &mut Conn,
    tenant: TenantId,
    input: &PolicyInput,
    previous: Option<&PolicySettings>,
    now: DateTime<Utc>,
) -> ServiceResult<String> {
    let mut errors = FieldErrors::new();
    let name = match &input.display_name {
        None => {
            errors.add("displayName", "a display name is required");
            None
        }
        Some(n) => errors.check("displayName", DisplayName::parse(n)),
    };
    for (field, message) in input.settings.validate(now, previous).0 {
        errors.add(field, message);
    }
    let refs = input.settings.referenced_principals();
    let user_ids: Vec<UserId> = refs
        .iter()
        .filter(|(_, k, _)| *k == PrincipalKind::User)
        .map(|(_, _, id)| UserId(*id))
        .collect();
    let group_ids: Vec<GroupId> = refs
        .iter()
        .filter(|(_, k, _)| *k == PrincipalKind::Group)
        .map(|(_, _, id)| GroupId(*id))
        .collect();
    let users = if user_ids.is_empty() {
        Vec::new()
    } else {
        db::users::get_many(conn, tenant, &user_ids).await?
    };
    let groups = if group_ids.is_empty() {
        Vec::new()
    } else {
        db::groups::get_many(conn, tenant, &group_ids).await?
    };
    for (field, kind, id) in refs {
        match kind {
            PrincipalKind::User if !users.iter().any(|u| u.id.0 == id) => {
                errors.add(field, format!("there is no user with id {id}"));
            }
            PrincipalKind::Group if !groups.iter().any(|g| g.id.0 == id) => {
                errors.add(field, format!("there is no group with id {id}"));
            }
            _ => {}
        }
    }
    validated(errors)?;
    Ok(name.map(DisplayName::into_string).unwrap_or_default())
}

/// Policies of a package the caller may see, newest first.
pub async fn list_policies(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    page: PageRequest,
) -> ServiceResult<Page<Policy>> {
    let mut conn = pool.acquire().await?;
    load_visible(&mut conn, caller, package).await?;
    Ok(db::packages::list_policies(&mut conn, caller.tenant_id(), package, page).await?)
}

pub async fn get_policy(pool: &PgPool, caller: &Caller, id: PolicyId) -> ServiceResult<Policy> {
    let mut conn = pool.acquire().await?;
    let policy = db::packages::get_policy(&mut conn, caller.tenant_id(), id)
        .await?
        .ok_or_else(policy_not_found)?;
    load_visible(&mut conn, caller, policy.package_id)
        .await
        .map_err(as_policy_not_found)?;
    Ok(policy)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, package = %package_id))]
pub async fn create_policy(
    pool: &PgPool,
    caller: &Caller,
    package_id: PackageId,
    input: PolicyInput,
    now: DateTime<Utc>,
) -> ServiceResult<Policy> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let (_, catalog) = load_visible(&mut tx, caller, package_id).await?;
    caller.require(Action::ManagePackages(catalog.id))?;
    let display_name = check_policy(&mut tx, tenant, &input, None, now).await?;
    let mut settings = input.settings;
    settings.assign_question_ids();
    let policy = Policy {
        tenant_id: tenant,
        id: PolicyId::new(),
        package_id,
        display_name,
        settings: Json(settings),
        created_at: now,
        updated_at: now,
    };
    db::packages::insert_policy(&mut tx, &policy).await?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "policy.created",
            target_type: "policy",
            target_id: Some(policy.id.0),
            details: json!({"after": policy_json(&policy)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(policy)
}

/// Replaces a policy in place (same id); open requests and active assignments stay
/// under it, and questions sent with an id keep it.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn replace_policy(
    pool: &PgPool,
    caller: &Caller,
    id: PolicyId,
    input: PolicyInput,
    now: DateTime<Utc>,
) -> ServiceResult<Policy> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let before = db::packages::get_policy(&mut tx, tenant, id)
        .await?
        .ok_or_else(policy_not_found)?;
    let (_, catalog) = load_visible(&mut tx, caller, before.package_id)
        .await
        .map_err(as_policy_not_found)?;
    caller.require(Action::ManagePackages(catalog.id))?;
    let display_name = check_policy(&mut tx, tenant, &input, Some(&before.settings.0), now).await?;
    let mut settings = input.settings;
    settings.assign_question_ids();
    let after = Policy {
        display_name,
        settings: Json(settings),
        updated_at: now,
        ..before.clone()
    };
    db::packages::update_policy(&mut tx, &after).await?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "policy.updated",
            target_type: "policy",
            target_id: Some(id.0),
            details: json!({"before": policy_json(&before), "after": policy_json(&after)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn delete_policy(
    pool: &PgPool,
    caller: &Caller,
    id: PolicyId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let policy = db::packages::get_policy(&mut tx, tenant, id)
        .await?
        .ok_or_else(policy_not_found)?;
    let (_, catalog) = load_visible(&mut tx, caller, policy.package_id)
        .await
        .map_err(as_policy_not_found)?;
    caller.require(Action::ManagePackages(catalog.id))?;
    let (assignments, requests) =
        db::packages::open_work(&mut tx, tenant, policy.package_id, Some(id)).await?;
    if assignments > 0 || requests > 0 {
        return Err(open_work_conflict("policy", assignments, requests));
    }
    db::packages::delete_policy(&mut tx, tenant, id)
        .await
        .map_err(|e| match e {
            DbError::ForeignKey(ref c) if is_history_fkey(c) => history_conflict(POLICY_HISTORY),
            other => other.into(),
        })?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: "policy.deleted",
            target_type: "policy",
            target_id: Some(id.0),
            details: json!({"before": policy_json(&policy)}),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
