//! Tenants: one organisation each, addressed by slug.

use super::{Conn, DbResult};
use crate::domain::ids::TenantId;
pub use crate::model::tenants::Tenant;

pub(crate) const COLUMNS: &str = "id, slug, display_name, reply_to, approval_links_require_sign_in, created_at, updated_at, time_zone";

pub async fn insert(conn: &mut Conn, t: &Tenant) -> DbResult<()> {
    sqlx::query(
        "insert into tenants (id, slug, display_name, reply_to, approval_links_require_sign_in, created_at, updated_at, time_zone)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(t.id)
    .bind(&t.slug)
    .bind(&t.display_name)
    .bind(&t.reply_to)
    .bind(t.approval_links_require_sign_in)
    .bind(t.created_at)
    .bind(t.updated_at)
    .bind(&t.time_zone)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_slug(conn: &mut Conn, slug: &str) -> DbResult<Option<Tenant>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from tenants where slug = $1"
    )))
    .bind(slug)
    .fetch_optional(conn)
    .await?)
}

pub async fn get(conn: &mut Conn, id: TenantId) -> DbResult<Tenant> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from tenants where id = $1"
    )))
    .bind(id)
    .fetch_one(conn)
    .await?)
}

pub async fn update(conn: &mut Conn, t: &Tenant) -> DbResult<()> {
    sqlx::query(
        "update tenants set display_name = $2, reply_to = $3, approval_links_require_sign_in = $4, updated_at = $5,
             time_zone = $6
         where id = $1",
    )
    .bind(t.id)
    .bind(&t.display_name)
    .bind(&t.reply_to)
    .bind(t.approval_links_require_sign_in)
    .bind(t.updated_at)
    .bind(&t.time_zone)
    .execute(conn)
    .await?;
    Ok(())
}

/// Serialises the changes that could leave a tenant without an active admin
/// (deactivating a user, removing a tenant admin role): each takes this lock before it
/// counts the admins. `no key update` lets inserts elsewhere in the tenant go on.
pub async fn lock_admins(conn: &mut Conn, id: TenantId) -> DbResult<()> {
    sqlx::query("select 1 from tenants where id = $1 for no key update")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
