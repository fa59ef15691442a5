//! A tenant's configuration read whole, for configuration as code: every catalog,
//! resource and role, live package with its roles and incompatibilities, policy,
//! custom extension and role assignment, and the names of the people and groups they
//! refer to. One statement per table, in the caller's transaction.

use super::catalogs::{
    CATALOG_COLUMNS, Catalog, RESOURCE_COLUMNS, ROLE_COLUMNS, Resource, ResourceRole,
};
use super::packages::{AccessPackage, POLICY_COLUMNS, Policy};
use super::{Conn, DbResult};
use crate::domain::ids::{GroupId, PackageId, ResourceRoleId, TenantId};
use crate::model::extensions::ExtensionRow;
use crate::model::roles::RoleAssignment;

/// Everything configuration as code reads and writes of one tenant.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub catalogs: Vec<Catalog>,
    pub resources: Vec<Resource>,
    pub resource_roles: Vec<ResourceRole>,
    /// Live packages only: archived ones are history and not configuration.
    pub packages: Vec<AccessPackage>,
    pub package_roles: Vec<(PackageId, ResourceRoleId)>,
    pub incompatible_packages: Vec<(PackageId, PackageId)>,
    pub incompatible_groups: Vec<(PackageId, GroupId)>,
    pub policies: Vec<Policy>,
    pub extensions: Vec<ExtensionRow>,
    pub role_assignments: Vec<RoleAssignment>,
}

pub async fn snapshot(conn: &mut Conn, tenant: TenantId) -> DbResult<Snapshot> {
    let q = |sql: String| sqlx::AssertSqlSafe(sql);
    let catalogs = sqlx::query_as(q(format!(
        "select {CATALOG_COLUMNS} from catalogs where tenant_id = $1 order by created_at, id"
    )))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let resources = sqlx::query_as(q(format!(
        "select {RESOURCE_COLUMNS} from resources where tenant_id = $1 order by created_at, id"
    )))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let resource_roles = sqlx::query_as(q(format!(
        "select {ROLE_COLUMNS} from resource_roles where tenant_id = $1 order by created_at, id"
    )))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let packages: Vec<AccessPackage> = sqlx::query_as(q(format!(
        "select {} from access_packages where tenant_id = $1 and archived_at is null order by created_at, id",
        super::packages::COLUMNS
    )))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let package_roles = sqlx::query_as(
        "select r.package_id, r.resource_role_id from access_package_roles r
         join access_packages p on p.tenant_id = r.tenant_id and p.id = r.package_id and p.archived_at is null
         where r.tenant_id = $1 order by r.created_at, r.resource_role_id",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let incompatible_packages = sqlx::query_as(
        "select package_id, other_package_id from incompatible_packages where tenant_id = $1
         order by package_id, other_package_id",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let incompatible_groups = sqlx::query_as(
        "select package_id, group_id from incompatible_groups where tenant_id = $1 order by package_id, group_id",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let policies = sqlx::query_as(q(format!(
        "select {POLICY_COLUMNS} from policies p where tenant_id = $1
           and exists (select 1 from access_packages a where a.tenant_id = p.tenant_id and a.id = p.package_id
                       and a.archived_at is null)
         order by created_at, id"
    )))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let extensions = sqlx::query_as(q(format!(
        "select {} from custom_extensions where tenant_id = $1 order by created_at, id",
        super::extensions::COLUMNS
    )))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let role_assignments = sqlx::query_as(q(format!(
        "select {} from role_assignments where tenant_id = $1 order by created_at, id",
        super::roles::COLUMNS
    )))
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Snapshot {
        catalogs,
        resources,
        resource_roles,
        packages,
        package_roles,
        incompatible_packages,
        incompatible_groups,
        policies,
        extensions,
        role_assignments,
    })
}

/// (display name, id) of the groups with these names (exact), several per name when
/// names repeat.
pub async fn groups_by_name(
    conn: &mut Conn,
    tenant: TenantId,
    names: &[String],
) -> DbResult<Vec<(String, GroupId)>> {
    Ok(sqlx::query_as(
        "select display_name, id from groups where tenant_id = $1 and display_name = any($2)",
    )
    .bind(tenant)
    .bind(names)
    .fetch_all(conn)
    .await?)
}

/// Serializes configuration applies to one tenant (until the transaction ends).
pub async fn lock(conn: &mut Conn, tenant: TenantId) -> DbResult<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('portico.config.' || $1::text, 0))")
        .bind(tenant)
        .execute(conn)
        .await?;
    Ok(())
}

/// The tenant's longest-standing active tenant admin (a direct grant).
pub async fn first_tenant_admin(
    conn: &mut Conn,
    tenant: TenantId,
) -> DbResult<Option<crate::model::users::User>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {} from users u where tenant_id = $1 and active
           and exists (select 1 from role_assignments r where r.tenant_id = u.tenant_id and r.user_id = u.id
                       and r.role = 'tenantAdmin')
         order by created_at, id limit 1",
        super::users::COLUMNS
    )))
    .bind(tenant)
    .fetch_optional(conn)
    .await?)
}
