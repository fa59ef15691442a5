//! Access packages and their assignment policies (DOMAIN.md §5). A package holds
//! resource roles of its own catalog only; a package or policy with active assignments
//! or open requests cannot be deleted, and one with request history cannot either: a
//! package is archived instead (kept for its history, read-only, listed nowhere, never
//! requested again), a policy disabled. Changing a package's roles goes through
//! `grants::package_roles_changed` in the same transaction.
//!
//! This file holds what packages and policies share and the reads; `edit` creates,
//! changes and deletes packages, `policies` their policies.

mod edit;
mod policies;

pub use edit::{PackageForm, Removal, archive, create, delete, removal, update, update_package};
pub(crate) use edit::{create_in, delete_in, update_in};
pub use policies::{create_policy, delete_policy, get_policy, list_policies, replace_policy};
pub(crate) use policies::{create_policy_in, delete_policy_in, replace_policy_in};

use sqlx::PgPool;

use super::{Caller, ServiceError, ServiceResult, catalogs};
use crate::db::catalogs::Catalog;
use crate::db::packages::{AccessPackage, Visibility};
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::ids::{CatalogId, GroupId, PackageId, ResourceRoleId, TenantId};
use crate::domain::policy::PolicySettings;

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
    /// The version the client's copy was made from (`If-Match`, a form's hidden field);
    /// an update from another version is refused (412). None: last write wins.
    pub expected_version: Option<i64>,
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
    /// The version the client's copy was made from (`If-Match`, a form's hidden field);
    /// an update from another version is refused (412). None: last write wins.
    pub expected_version: Option<i64>,
}

pub(super) fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("access package"))
}

pub(super) fn history_conflict(message: &str) -> ServiceError {
    DomainError::conflict(message).into()
}

/// Archived packages are read-only: nothing of them or their policies changes.
pub(super) fn ensure_live(package: &AccessPackage) -> ServiceResult<()> {
    match package.archived_at {
        None => Ok(()),
        Some(at) => Err(DomainError::conflict(format!(
            "This access package was archived on {}; it is kept for its history and can no longer be changed, requested or assigned.",
            at.format("%Y-%m-%d")
        ))
        .into()),
    }
}

pub(super) fn is_history_fkey(constraint: &str) -> bool {
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

pub(super) fn open_work_message(what: &str, assignments: i64, requests: i64) -> String {
    format!(
        "This {what} has {assignments} active assignment(s) and {requests} open request(s); \
         remove the assignments and let the requests finish (or cancel them) before deleting it."
    )
}

pub(super) fn open_work_conflict(what: &str, assignments: i64, requests: i64) -> ServiceError {
    DomainError::conflict(open_work_message(what, assignments, requests)).into()
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

#[tracing::instrument(skip_all)]
pub(super) async fn view(
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
pub(super) fn may_see(caller: &Caller, catalog: &Catalog) -> bool {
    caller.roles.allows(Action::ReadCatalog(catalog.id))
        || (catalog.enabled && (!caller.user.is_guest() || catalog.externally_visible))
}

/// The package `id` with its catalog, if the caller may see it (else 404).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub(super) async fn load_visible(
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

/// Packages the caller may see, newest first; archived ones are not listed.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    catalog: Option<CatalogId>,
    search: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<PackageView>> {
    listed(pool, caller, catalog, search, page, false).await
}

/// The archived packages the caller may see, newest first.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list_archived(
    pool: &PgPool,
    caller: &Caller,
    search: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<PackageView>> {
    listed(pool, caller, None, search, page, true).await
}

async fn listed(
    pool: &PgPool,
    caller: &Caller,
    catalog: Option<CatalogId>,
    search: Option<&str>,
    page: PageRequest,
    archived: bool,
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
        archived,
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

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(pool: &PgPool, caller: &Caller, id: PackageId) -> ServiceResult<PackageView> {
    let mut conn = pool.acquire().await?;
    let (package, _) = load_visible(&mut conn, caller, id).await?;
    view(&mut conn, caller.tenant_id(), package).await
}
