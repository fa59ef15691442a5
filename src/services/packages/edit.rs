//! Creating, changing and deleting access packages. A package holds resource roles of
//! its own catalog only; changing its roles goes through `grants::package_roles_changed`
//! in the same transaction; one with active assignments or open requests cannot be
//! deleted, and one with history (requests, assignments, reviews) is archived instead.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{
    PackageFields, PackageView, ensure_live, history_conflict, is_history_fkey, load_visible,
    open_work_conflict, open_work_message, view,
};
use crate::db::packages::AccessPackage;
use crate::db::{self, Conn, DbError};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{Action, Permit};
use crate::domain::ids::{CatalogId, GroupId, PackageId, ResourceRoleId, TenantId};
use crate::domain::values::{DisplayName, description};
use crate::domain::{DomainError, FieldErrors};
use crate::services::roles::Principal;
use crate::services::tx::Work;
use crate::services::versions;
use crate::services::{Caller, ServiceError, ServiceResult, grants, principals, validated};

const PACKAGE_HISTORY: &str = "This access package has a request history; archive it (or hide it, or disable its policies) instead.";

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

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    fields: PackageFields,
    now: DateTime<Utc>,
) -> ServiceResult<PackageView> {
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
    fields: PackageFields,
) -> ServiceResult<(PackageView, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    let mut errors = FieldErrors::new();
    let catalog = match fields.catalog_id {
        None => {
            errors.add(
                "catalogId",
                "name the catalog of the access package (catalogId)",
            );
            None
        }
        Some(id) => {
            let found = db::catalogs::get(work.conn(), tenant, id).await?;
            if found.is_none() {
                errors.add("catalogId", format!("there is no catalog with id {id}"));
            }
            found
        }
    };
    let permit = match &catalog {
        Some(c) => Some(caller.require(Action::ManagePackages(c.id))?),
        None => None,
    };
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
            check_roles(work.conn(), tenant, c.id, &ids, &mut errors).await?
        }
        None => Vec::new(),
    };
    let other_packages = check_incompatible_packages(
        work.conn(),
        tenant,
        id,
        &fields.incompatible_package_ids.clone().unwrap_or_default(),
        &mut errors,
    )
    .await?;
    let groups = check_incompatible_groups(
        work.conn(),
        tenant,
        &fields.incompatible_group_ids.clone().unwrap_or_default(),
        &mut errors,
    )
    .await?;
    validated(errors)?;
    let (Some(catalog), Some(permit)) = (catalog, permit) else {
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
        archived_at: None,
        version: 1,
    };
    db::packages::insert(work.conn(), &package)
        .await
        .map_err(package_write_error)?;
    for role in &roles {
        db::packages::add_role(work.conn(), tenant, id, *role, now)
            .await
            .map_err(package_write_error)?;
    }
    db::packages::set_incompatible(work.conn(), tenant, id, &other_packages, &groups)
        .await
        .map_err(package_write_error)?;
    let view = view(work.conn(), tenant, package).await?;
    work.audit(
        AuditAction::PackageCreated,
        Target::AccessPackage(id),
        json!({"after": package_json(&view)}),
    );
    Ok((view, permit))
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
    fields: PackageFields,
    now: DateTime<Utc>,
) -> ServiceResult<PackageView> {
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
    id: PackageId,
    fields: PackageFields,
) -> ServiceResult<(PackageView, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    let (package, catalog) = load_visible(work.conn(), caller, id).await?;
    let permit = caller.require(Action::ManagePackages(catalog.id))?;
    ensure_live(&package)?;
    let target = Target::AccessPackage(id);
    let what = "access package";
    versions::check(
        work.conn(),
        tenant,
        target,
        what,
        package.version,
        fields.expected_version,
    )
    .await?;
    let before = view(work.conn(), tenant, package.clone()).await?;
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
        Some(ids) => check_roles(work.conn(), tenant, catalog.id, ids, &mut errors).await?,
        None => before.resource_role_ids.clone(),
    };
    let other_packages = match &fields.incompatible_package_ids {
        Some(ids) => check_incompatible_packages(work.conn(), tenant, id, ids, &mut errors).await?,
        None => before.incompatible_package_ids.clone(),
    };
    let groups = match &fields.incompatible_group_ids {
        Some(ids) => check_incompatible_groups(work.conn(), tenant, ids, &mut errors).await?,
        None => before.incompatible_group_ids.clone(),
    };
    validated(errors)?;
    package.updated_at = now;
    if !db::packages::update(work.conn(), &package).await? {
        return Err(versions::stale(work.conn(), tenant, target, what)
            .await?
            .into());
    }
    package.version += 1;
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
            db::packages::add_role(work.conn(), tenant, id, *role, now)
                .await
                .map_err(package_write_error)?;
        }
        for role in &removed {
            db::packages::remove_role(work.conn(), tenant, id, *role).await?;
        }
        grants::package_roles_changed(
            work.conn(),
            tenant,
            id,
            &added,
            &removed,
            caller.actor(),
            now,
        )
        .await?;
    }
    if fields.incompatible_package_ids.is_some() || fields.incompatible_group_ids.is_some() {
        db::packages::set_incompatible(work.conn(), tenant, id, &other_packages, &groups)
            .await
            .map_err(package_write_error)?;
    }
    let after = view(work.conn(), tenant, package).await?;
    work.audit(
        AuditAction::PackageUpdated,
        Target::AccessPackage(id),
        json!({"before": package_json(&before), "after": package_json(&after)}),
    );
    Ok((after, permit))
}

/// Deletes a package (and its policies) that never had requests.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn delete(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
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
    id: PackageId,
) -> ServiceResult<((), Permit)> {
    let tenant = caller.tenant_id();
    let (package, catalog) = load_visible(work.conn(), caller, id).await?;
    let permit = caller.require(Action::ManagePackages(catalog.id))?;
    ensure_live(&package)?;
    let (assignments, requests) = db::packages::open_work(work.conn(), tenant, id, None).await?;
    if assignments > 0 || requests > 0 {
        return Err(open_work_conflict("access package", assignments, requests));
    }
    let before = view(work.conn(), tenant, package).await?;
    db::packages::delete(work.conn(), tenant, id)
        .await
        .map_err(|e| match e {
            DbError::ForeignKey(ref c) if is_history_fkey(c) => history_conflict(PACKAGE_HISTORY),
            other => other.into(),
        })?;
    work.audit(
        AuditAction::PackageDeleted,
        Target::AccessPackage(id),
        json!({"before": package_json(&before)}),
    );
    Ok(((), permit))
}

/// What removing a package would do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Nothing refers to it: it can be deleted, with its policies.
    Delete,
    /// It has history but no open work: it can be archived.
    Archive,
    /// Open work (or an earlier archiving) keeps it; the message says what.
    Blocked(String),
}

/// Whether the package can be deleted, archived or neither, for the caller who would.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn removal(pool: &PgPool, caller: &Caller, id: PackageId) -> ServiceResult<Removal> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let (package, catalog) = load_visible(&mut conn, caller, id).await?;
    caller.require(Action::ManagePackages(catalog.id))?;
    if let Err(ServiceError::Domain(DomainError::Conflict(message))) = ensure_live(&package) {
        return Ok(Removal::Blocked(message));
    }
    let (assignments, requests) = db::packages::open_work(&mut conn, tenant, id, None).await?;
    if assignments > 0 || requests > 0 {
        return Ok(Removal::Blocked(open_work_message(
            "access package",
            assignments,
            requests,
        )));
    }
    Ok(if db::packages::has_history(&mut conn, tenant, id).await? {
        Removal::Archive
    } else {
        Removal::Delete
    })
}

/// Archives a package whose requests and assignments are all history: it keeps its
/// rows (past requests, assignments, reviews and audit events still name it), leaves
/// every list, My Access included, and can no longer be changed, requested or
/// assigned. Archiving is final.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn archive(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
    now: DateTime<Utc>,
) -> ServiceResult<PackageView> {
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    db::packages::lock(work.conn(), tenant, id).await?;
    let (package, catalog) = load_visible(work.conn(), caller, id).await?;
    let permit = caller.require(Action::ManagePackages(catalog.id))?;
    ensure_live(&package)?;
    let (assignments, requests) = db::packages::open_work(work.conn(), tenant, id, None).await?;
    if assignments > 0 || requests > 0 {
        return Err(DomainError::conflict(open_work_message(
            "access package",
            assignments,
            requests,
        ))
        .into());
    }
    db::packages::archive(work.conn(), tenant, id, now).await?;
    let archived = AccessPackage {
        archived_at: Some(now),
        updated_at: now,
        ..package
    };
    let after = view(work.conn(), tenant, archived).await?;
    work.audit(
        AuditAction::PackageArchived,
        Target::AccessPackage(id),
        json!({"package": package_json(&after)}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(after)
}

/// The admin portal's package form as typed: incompatible groups are kept by id and
/// added by name.
#[derive(Clone, Debug, Default)]
pub struct PackageForm {
    pub fields: PackageFields,
    pub add_incompatible_group: Option<String>,
}

/// Saves a package's edit form (adding the incompatible group named, if any).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn update_package(
    pool: &PgPool,
    caller: &Caller,
    id: PackageId,
    mut form: PackageForm,
    now: DateTime<Utc>,
) -> ServiceResult<PackageView> {
    if let Some(name) = form
        .add_incompatible_group
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        match principals::resolve_principal(pool, caller, name, "addIncompatibleGroup").await? {
            Principal::Group(g) => {
                let groups = form
                    .fields
                    .incompatible_group_ids
                    .get_or_insert_with(Vec::new);
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
            Principal::User(_) => {
                return Err(DomainError::field(
                    "addIncompatibleGroup",
                    "enter the exact name of a group, not a person",
                )
                .into());
            }
        }
    }
    update(pool, caller, id, form.fields, now).await
}
