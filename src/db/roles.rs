//! Role assignments: a user or a group holds a role, tenant-wide or in one catalog.

use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::ids::{CatalogId, RoleAssignmentId, TenantId, UserId};
pub use crate::model::roles::RoleAssignment;

pub(crate) const COLUMNS: &str = "tenant_id, id, role, user_id, group_id, catalog_id, created_at";

pub async fn insert(conn: &mut Conn, r: &RoleAssignment) -> DbResult<()> {
    sqlx::query(
        "insert into role_assignments (tenant_id, id, role, user_id, group_id, catalog_id, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r.tenant_id)
    .bind(r.id)
    .bind(r.role)
    .bind(r.user_id)
    .bind(r.group_id)
    .bind(r.catalog_id)
    .bind(r.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut Conn,
    tenant: TenantId,
    id: RoleAssignmentId,
) -> DbResult<Option<RoleAssignment>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from role_assignments where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn delete(conn: &mut Conn, tenant: TenantId, id: RoleAssignmentId) -> DbResult<()> {
    sqlx::query("delete from role_assignments where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Role assignments, optionally only those of some catalogs (`None`: all).
pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    catalogs: Option<&[CatalogId]>,
    page: PageRequest,
) -> DbResult<Page<RoleAssignment>> {
    let rows: Vec<RoleAssignment> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from role_assignments
         where tenant_id = $1 and id < $2 and ($3::uuid[] is null or catalog_id = any($3))
         order by id desc limit $4"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(catalogs)
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |r| r.id.0))
}

/// The tenant-wide role assignments (no catalog), oldest first.
pub async fn tenant_wide(conn: &mut Conn, tenant: TenantId) -> DbResult<Vec<RoleAssignment>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from role_assignments where tenant_id = $1 and catalog_id is null order by id"
    )))
    .bind(tenant)
    .fetch_all(conn)
    .await?)
}

/// Every (role, catalog) the user holds directly or through a group membership.
pub async fn grants_of_user(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
) -> DbResult<Vec<(String, Option<CatalogId>)>> {
    Ok(sqlx::query_as(
        "select distinct role, catalog_id from role_assignments
         where tenant_id = $1 and (user_id = $2 or group_id in (
             select group_id from group_memberships where tenant_id = $1 and user_id = $2))",
    )
    .bind(tenant)
    .bind(user)
    .fetch_all(conn)
    .await?)
}

/// Active users holding `role` (optionally in one catalog), directly or through a group.
pub async fn active_holders(
    conn: &mut Conn,
    tenant: TenantId,
    role: &str,
    catalog: Option<CatalogId>,
) -> DbResult<Vec<UserId>> {
    Ok(sqlx::query_scalar(
        "select distinct u.id from role_assignments r
         left join group_memberships m on m.tenant_id = r.tenant_id and m.group_id = r.group_id
         join users u on u.tenant_id = r.tenant_id and u.id = coalesce(r.user_id, m.user_id)
         where r.tenant_id = $1 and r.role = $2 and r.catalog_id is not distinct from $3 and u.active
         order by u.id",
    )
    .bind(tenant)
    .bind(role)
    .bind(catalog)
    .fetch_all(conn)
    .await?)
}
