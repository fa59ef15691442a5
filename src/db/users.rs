//! Directory users. Email is unique per tenant, compared case-insensitively.

use chrono::{DateTime, Utc};

use super::{Conn, DbResult, Page, PageRequest, like_pattern};
use crate::domain::ids::{TenantId, UserId};
pub use crate::model::users::User;

pub(crate) const COLUMNS: &str = "tenant_id, id, email, display_name, department, job_title, manager_id, kind, active, external_id, last_sign_in_at, created_at, updated_at, directory_managed, time_zone";

pub async fn insert(conn: &mut Conn, u: &User) -> DbResult<()> {
    sqlx::query(
        "insert into users (tenant_id, id, email, display_name, department, job_title, manager_id, kind, active, external_id, last_sign_in_at, created_at, updated_at, directory_managed, time_zone)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(u.tenant_id)
    .bind(u.id)
    .bind(&u.email)
    .bind(&u.display_name)
    .bind(&u.department)
    .bind(&u.job_title)
    .bind(u.manager_id)
    .bind(u.kind)
    .bind(u.active)
    .bind(&u.external_id)
    .bind(u.last_sign_in_at)
    .bind(u.created_at)
    .bind(u.updated_at)
    .bind(u.directory_managed)
    .bind(&u.time_zone)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut Conn, u: &User) -> DbResult<()> {
    sqlx::query(
        "update users set email = $3, display_name = $4, department = $5, job_title = $6, manager_id = $7,
             kind = $8, active = $9, external_id = $10, last_sign_in_at = $11, updated_at = $12,
             directory_managed = $13, time_zone = $14
         where tenant_id = $1 and id = $2",
    )
    .bind(u.tenant_id)
    .bind(u.id)
    .bind(&u.email)
    .bind(&u.display_name)
    .bind(&u.department)
    .bind(&u.job_title)
    .bind(u.manager_id)
    .bind(u.kind)
    .bind(u.active)
    .bind(&u.external_id)
    .bind(u.last_sign_in_at)
    .bind(u.updated_at)
    .bind(u.directory_managed)
    .bind(&u.time_zone)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, tenant: TenantId, id: UserId) -> DbResult<Option<User>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from users where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Locks the user's row for the rest of the transaction (serialises decisions that
/// depend on the user's assignments).
pub async fn lock(conn: &mut Conn, tenant: TenantId, id: UserId) -> DbResult<Option<User>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from users where tenant_id = $1 and id = $2 for update"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn by_email(conn: &mut Conn, tenant: TenantId, email: &str) -> DbResult<Option<User>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from users where tenant_id = $1 and lower(email) = lower($2)"
    )))
    .bind(tenant)
    .bind(email)
    .fetch_optional(conn)
    .await?)
}

/// The users with any of these email addresses (compared without case), in one query.
pub async fn by_emails(
    conn: &mut Conn,
    tenant: TenantId,
    emails: &[String],
) -> DbResult<Vec<User>> {
    let lowered: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from users where tenant_id = $1 and lower(email) = any($2)"
    )))
    .bind(tenant)
    .bind(lowered)
    .fetch_all(conn)
    .await?)
}

pub async fn get_many(conn: &mut Conn, tenant: TenantId, ids: &[UserId]) -> DbResult<Vec<User>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from users where tenant_id = $1 and id = any($2)"
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Users newest first, optionally matching `search` in display name or email.
pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    search: Option<&str>,
    page: PageRequest,
) -> DbResult<Page<User>> {
    let rows: Vec<User> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from users
         where tenant_id = $1 and id < $2
           and ($3::text is null or lower(display_name || ' ' || email) like $3)
         order by id desc limit $4"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(search.map(like_pattern))
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |u| u.id.0))
}

/// Whether making `manager` the manager of `user` would close a loop.
pub async fn manager_chain_contains(
    conn: &mut Conn,
    tenant: TenantId,
    manager: UserId,
    user: UserId,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "with recursive chain(id, depth) as (
             select manager_id, 1 from users where tenant_id = $1 and id = $2
             union all
             select u.manager_id, c.depth + 1 from users u join chain c on u.tenant_id = $1 and u.id = c.id
             where c.depth < 100
         )
         select exists (select 1 from chain where id = $3) or $2 = $3",
    )
    .bind(tenant)
    .bind(manager)
    .bind(user)
    .fetch_one(conn)
    .await?)
}

pub async fn touch_sign_in(
    conn: &mut Conn,
    tenant: TenantId,
    id: UserId,
    at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query("update users set last_sign_in_at = $3 where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}
