//! Read models of catalogs for the admin portal: a catalog's page, and the catalogs
//! where the caller may create packages.

use sqlx::PgPool;

use super::names::{Names, Wanted};
use crate::db::PageRequest;
use crate::db::catalogs::Catalog;
use crate::db::roles::RoleAssignment;
use crate::domain::authz::{Action, Role};
use crate::domain::ids::CatalogId;
use crate::services::catalogs::{self, ResourceView};
use crate::services::packages::{self, PackageView};
use crate::services::{Caller, ServiceResult, roles};

/// Every resource of a catalog with its roles.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub(super) async fn all_resources(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
) -> ServiceResult<Vec<ResourceView>> {
    Ok(
        catalogs::list_resources(pool, caller, catalog, PageRequest::first(PageRequest::MAX))
            .await?
            .items,
    )
}

/// A catalog with everything its page shows.
#[derive(Debug)]
pub struct CatalogPage {
    pub catalog: Catalog,
    pub resources: Vec<ResourceView>,
    pub packages: Vec<PackageView>,
    /// Its custom extensions (never with their secrets).
    pub extensions: Vec<crate::model::extensions::ExtensionRow>,
    /// Role holders of this catalog, when the caller may see them.
    pub role_holders: Option<Vec<RoleAssignment>>,
    pub names: Names,
    pub can_edit: bool,
    pub can_grant: bool,
    pub can_manage_packages: bool,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn catalog_page(
    pool: &PgPool,
    caller: &Caller,
    id: CatalogId,
) -> ServiceResult<CatalogPage> {
    let catalog = catalogs::get(pool, caller, id).await?;
    let resources = all_resources(pool, caller, id).await?;
    let extensions =
        crate::services::extensions::list(pool, caller, id, PageRequest::first(PageRequest::MAX))
            .await?
            .items;
    let packages = packages::list(pool, caller, Some(id), None, PageRequest::first(200))
        .await?
        .items;
    let role_holders = if caller.roles.allows(Action::ReadRoles(Some(id))) {
        let all = roles::list(pool, caller, PageRequest::first(PageRequest::MAX)).await?;
        Some(
            all.items
                .into_iter()
                .filter(|r| r.catalog_id == Some(id))
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let mut wanted = Wanted::default();
    for r in role_holders.iter().flatten() {
        if let Some(u) = r.user_id {
            wanted.user(u.0);
        }
        if let Some(g) = r.group_id {
            wanted.group(g.0);
        }
    }
    let mut conn = pool.acquire().await?;
    let mut names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    names.add_role_labels(&resources);
    Ok(CatalogPage {
        can_edit: caller.roles.allows(Action::EditCatalog(id)),
        can_grant: caller
            .roles
            .allows(Action::GrantRole(Role::CatalogReader, Some(id))),
        can_manage_packages: caller.roles.allows(Action::ManagePackages(id)),
        catalog,
        resources,
        extensions,
        packages,
        role_holders,
        names,
    })
}

/// The catalogs where the caller may create packages.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn package_catalogs(pool: &PgPool, caller: &Caller) -> ServiceResult<Vec<Catalog>> {
    Ok(
        catalogs::list(pool, caller, PageRequest::first(PageRequest::MAX))
            .await?
            .items
            .into_iter()
            .filter(|c| caller.roles.allows(Action::ManagePackages(c.id)))
            .collect(),
    )
}
