//! Catalogs and their resources (with resource roles).

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;

use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::connector::Connector;
use crate::domain::ids::{CatalogId, ResourceId, ResourceRoleId, TenantId};
pub use crate::model::catalogs::{Catalog, Resource, ResourceRole};

pub(crate) const CATALOG_COLUMNS: &str = "tenant_id, id, display_name, description, enabled, externally_visible, created_at, updated_at, version";

pub async fn insert(conn: &mut Conn, c: &Catalog) -> DbResult<()> {
    sqlx::query(
        "insert into catalogs (tenant_id, id, display_name, description, enabled, externally_visible, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.tenant_id)
    .bind(c.id)
    .bind(&c.display_name)
    .bind(&c.description)
    .bind(c.enabled)
    .bind(c.externally_visible)
    .bind(c.created_at)
    .bind(c.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes `c` over the stored catalog if it is still at `c.version`, raising the version;
/// false when another change came first.
pub async fn update(conn: &mut Conn, c: &Catalog) -> DbResult<bool> {
    let done = sqlx::query(
        "update catalogs set display_name = $3, description = $4, enabled = $5, externally_visible = $6, updated_at = $7,
             version = version + 1
         where tenant_id = $1 and id = $2 and version = $8",
    )
    .bind(c.tenant_id)
    .bind(c.id)
    .bind(&c.display_name)
    .bind(&c.description)
    .bind(c.enabled)
    .bind(c.externally_visible)
    .bind(c.updated_at)
    .bind(c.version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(conn: &mut Conn, tenant: TenantId, id: CatalogId) -> DbResult<()> {
    sqlx::query("delete from catalogs where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, tenant: TenantId, id: CatalogId) -> DbResult<Option<Catalog>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {CATALOG_COLUMNS} from catalogs where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Catalogs newest first; `only` restricts to some ids (`None`: all).
pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    only: Option<&[CatalogId]>,
    page: PageRequest,
) -> DbResult<Page<Catalog>> {
    let rows: Vec<Catalog> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {CATALOG_COLUMNS} from catalogs
         where tenant_id = $1 and id < $2 and ($3::uuid[] is null or id = any($3))
         order by id desc limit $4"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(only)
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |c| c.id.0))
}

pub(crate) const RESOURCE_COLUMNS: &str = "tenant_id, id, catalog_id, kind, group_id, display_name, description, connector, connector_secret, added_by_tenant_admin, created_at, updated_at";

pub(crate) const ROLE_COLUMNS: &str =
    "tenant_id, id, resource_id, display_name, group_relation, connector_value, created_at";

pub async fn insert_resource(
    conn: &mut Conn,
    r: &Resource,
    roles: &[ResourceRole],
) -> DbResult<()> {
    sqlx::query(
        "insert into resources (tenant_id, id, catalog_id, kind, group_id, display_name, description, connector, connector_secret, added_by_tenant_admin, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(r.tenant_id)
    .bind(r.id)
    .bind(r.catalog_id)
    .bind(&r.kind)
    .bind(r.group_id)
    .bind(&r.display_name)
    .bind(&r.description)
    .bind(r.connector.as_ref().map(Json))
    .bind(&r.connector_secret)
    .bind(r.added_by_tenant_admin)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(&mut *conn)
    .await?;
    for role in roles {
        sqlx::query(
            "insert into resource_roles (tenant_id, id, resource_id, display_name, group_relation, connector_value, created_at)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(role.tenant_id)
        .bind(role.id)
        .bind(role.resource_id)
        .bind(&role.display_name)
        .bind(&role.group_relation)
        .bind(&role.connector_value)
        .bind(role.created_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn get_resource(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
    id: ResourceId,
) -> DbResult<Option<Resource>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {RESOURCE_COLUMNS} from resources where tenant_id = $1 and catalog_id = $2 and id = $3"
    )))
    .bind(tenant)
    .bind(catalog)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn get_resources(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[ResourceId],
) -> DbResult<Vec<Resource>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {RESOURCE_COLUMNS} from resources where tenant_id = $1 and id = any($2)"
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

pub async fn list_resources(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
    page: PageRequest,
) -> DbResult<Page<Resource>> {
    let rows: Vec<Resource> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {RESOURCE_COLUMNS} from resources where tenant_id = $1 and catalog_id = $2 and id < $3
         order by id desc limit $4"
    )))
    .bind(tenant)
    .bind(catalog)
    .bind(page.before_bound())
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |r| r.id.0))
}

/// Deletes a resource and its roles; a role used by a package makes this fail with
/// the foreign key `access_package_roles_role_fkey`.
pub async fn delete_resource(conn: &mut Conn, tenant: TenantId, id: ResourceId) -> DbResult<()> {
    sqlx::query("delete from resources where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn roles_of_resources(
    conn: &mut Conn,
    tenant: TenantId,
    resources: &[ResourceId],
) -> DbResult<Vec<ResourceRole>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ROLE_COLUMNS} from resource_roles where tenant_id = $1 and resource_id = any($2) order by id"
    )))
    .bind(tenant)
    .bind(resources)
    .fetch_all(conn)
    .await?)
}

pub async fn get_roles(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[ResourceRoleId],
) -> DbResult<Vec<ResourceRole>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ROLE_COLUMNS} from resource_roles where tenant_id = $1 and id = any($2) order by id"
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Whether any package uses a role of this resource.
pub async fn resource_in_use(conn: &mut Conn, tenant: TenantId, id: ResourceId) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from access_package_roles p join resource_roles r
             on r.tenant_id = p.tenant_id and r.id = p.resource_role_id
         where p.tenant_id = $1 and r.resource_id = $2)",
    )
    .bind(tenant)
    .bind(id)
    .fetch_one(conn)
    .await?)
}

/// The catalog's access packages: how many in all, and how many of them archived.
pub async fn count_packages(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
) -> DbResult<(i64, i64)> {
    Ok(sqlx::query_as(
        "select count(*), count(archived_at) from access_packages where tenant_id = $1 and catalog_id = $2",
    )
    .bind(tenant)
    .bind(catalog)
    .fetch_one(conn)
    .await?)
}

/// Deletes every resource of a catalog (their roles go with them); a role that a
/// package or an assignment's history still uses makes this fail with its foreign key.
pub async fn delete_resources_of_catalog(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
) -> DbResult<u64> {
    let done = sqlx::query("delete from resources where tenant_id = $1 and catalog_id = $2")
        .bind(tenant)
        .bind(catalog)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Those of `ids` that are roles of a resource in `catalog`.
pub async fn roles_in_catalog(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
    ids: &[ResourceRoleId],
) -> DbResult<Vec<ResourceRoleId>> {
    Ok(sqlx::query_scalar(
        "select r.id from resource_roles r
           join resources s on s.tenant_id = r.tenant_id and s.id = r.resource_id
         where r.tenant_id = $1 and s.catalog_id = $2 and r.id = any($3)",
    )
    .bind(tenant)
    .bind(catalog)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

#[derive(FromRow)]
struct TargetRow {
    role_id: ResourceRoleId,
    role_name: String,
    group_relation: Option<String>,
    connector_value: Option<String>,
    role_created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    resource: Resource,
}

/// The resource roles of a package with their resources, in one statement.
pub async fn targets_of_package(
    conn: &mut Conn,
    tenant: TenantId,
    package: crate::domain::ids::PackageId,
) -> DbResult<Vec<(ResourceRole, Resource)>> {
    let rows: Vec<TargetRow> = sqlx::query_as(
        "select rr.id as role_id, rr.display_name as role_name, rr.group_relation, rr.connector_value, rr.created_at as role_created_at,
                r.tenant_id, r.id, r.catalog_id, r.kind, r.group_id, r.display_name, r.description, r.connector,
                r.connector_secret, r.added_by_tenant_admin, r.created_at, r.updated_at
         from access_package_roles p
         join resource_roles rr on rr.tenant_id = p.tenant_id and rr.id = p.resource_role_id
         join resources r on r.tenant_id = rr.tenant_id and r.id = rr.resource_id
         where p.tenant_id = $1 and p.package_id = $2 order by rr.id",
    )
    .bind(tenant)
    .bind(package)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|t| {
            (
                ResourceRole {
                    tenant_id: t.resource.tenant_id,
                    id: t.role_id,
                    resource_id: t.resource.id,
                    display_name: t.role_name,
                    group_relation: t.group_relation,
                    connector_value: t.connector_value,
                    created_at: t.role_created_at,
                },
                t.resource,
            )
        })
        .collect())
}

/// Connector secrets stored before sealing existed (any tenant: a start-up task).
pub async fn unsealed_connector_secrets(
    conn: &mut Conn,
) -> DbResult<Vec<(TenantId, ResourceId, String)>> {
    Ok(sqlx::query_as(
        "select tenant_id, id, connector_secret from resources
         where connector_secret is not null and connector_secret not like 'enc:v1:%'",
    )
    .fetch_all(conn)
    .await?)
}

/// Replaces a stored connector secret with its sealed form, if it is still `plain`.
pub async fn reseal_connector_secret(
    conn: &mut Conn,
    tenant: TenantId,
    id: ResourceId,
    plain: &str,
    sealed: &str,
) -> DbResult<()> {
    sqlx::query(
        "update resources set connector_secret = $4
         where tenant_id = $1 and id = $2 and connector_secret = $3",
    )
    .bind(tenant)
    .bind(id)
    .bind(plain)
    .bind(sealed)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a resource's connector and its sealed secret (both `None`: no connector).
pub async fn set_connector(
    conn: &mut Conn,
    tenant: TenantId,
    id: ResourceId,
    connector: Option<&Connector>,
    sealed_secret: Option<&str>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update resources set connector = $3, connector_secret = $4, updated_at = $5
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(connector.map(Json))
    .bind(sealed_secret)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces what each role means in the target (`(role, value)` pairs of one resource).
pub async fn set_connector_values(
    conn: &mut Conn,
    tenant: TenantId,
    resource: ResourceId,
    values: &[(ResourceRoleId, String)],
) -> DbResult<()> {
    for (role, value) in values {
        sqlx::query(
            "update resource_roles set connector_value = $4
             where tenant_id = $1 and resource_id = $2 and id = $3 and group_relation is null",
        )
        .bind(tenant)
        .bind(resource)
        .bind(role)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
