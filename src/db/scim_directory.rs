//! What the SCIM server reads and writes: users with the document the directory pushed
//! (`scim_document`), groups, and the directory's own memberships
//! (`group_memberships.from_directory`), changed set-based (one statement per change,
//! whatever the number of members). Users and groups the directory deleted
//! (`scim_deleted_at`) are invisible here.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, Postgres, QueryBuilder};

use super::{Conn, DbResult};
use crate::db::groups::Group;
use crate::db::users::User;
use crate::domain::ids::{GroupId, TenantId, UserId};

/// A user with the document the directory pushed, if it did.
#[derive(Clone, Debug, FromRow)]
pub struct UserDoc {
    #[sqlx(flatten)]
    pub user: User,
    pub scim_document: Option<Json<Value>>,
}

impl UserDoc {
    pub fn document(&self) -> Option<&Value> {
        self.scim_document.as_ref().map(|j| &j.0)
    }
}

fn user_columns() -> String {
    format!(
        "{}, u.scim_document",
        super::qualified(crate::db::users::COLUMNS, "u")
    )
}

fn group_columns() -> String {
    super::qualified(crate::db::groups::COLUMNS, "g")
}

/// Appends a condition to a `where` clause being built.
pub type Condition<'c> = &'c (dyn Fn(&mut QueryBuilder<Postgres>) + Sync);

pub async fn user(conn: &mut Conn, tenant: TenantId, id: UserId) -> DbResult<Option<UserDoc>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {} from users u where u.tenant_id = $1 and u.id = $2 and u.scim_deleted_at is null",
        user_columns()
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn lock_user(conn: &mut Conn, tenant: TenantId, id: UserId) -> DbResult<Option<UserDoc>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {} from users u where u.tenant_id = $1 and u.id = $2 and u.scim_deleted_at is null for update",
        user_columns()
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Another visible user already holding this userName or sign-in email.
pub async fn user_name_taken(
    conn: &mut Conn,
    tenant: TenantId,
    user_name: &str,
    email: &str,
    except: Option<UserId>,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from users
            where tenant_id = $1 and id is distinct from $4
              and ((scim_deleted_at is null and lower(coalesce(scim_document ->> 'userName', email)) = lower($2))
                   or lower(email) = lower($3)))",
    )
    .bind(tenant)
    .bind(user_name)
    .bind(email)
    .bind(except)
    .fetch_one(conn)
    .await?)
}

/// A user the directory deleted, with this sign-in email (a later POST brings them back).
pub async fn deleted_by_email(
    conn: &mut Conn,
    tenant: TenantId,
    email: &str,
) -> DbResult<Option<UserId>> {
    Ok(sqlx::query_scalar(
        "select id from users where tenant_id = $1 and lower(email) = lower($2)
           and scim_deleted_at is not null for update",
    )
    .bind(tenant)
    .bind(email)
    .fetch_optional(conn)
    .await?)
}

/// Stores what the directory pushed and marks the user as the directory's.
pub async fn set_user_document(
    conn: &mut Conn,
    tenant: TenantId,
    id: UserId,
    doc: &Value,
    deleted_at: Option<DateTime<Utc>>,
) -> DbResult<()> {
    sqlx::query(
        "update users set scim_document = $3, scim_deleted_at = $4, directory_managed = true
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(Json(doc))
    .bind(deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Users in creation order, `offset` skipped, at most `limit`, with the total count.
pub async fn users(
    conn: &mut Conn,
    tenant: TenantId,
    condition: Option<Condition<'_>>,
    offset: i64,
    limit: i64,
) -> DbResult<(i64, Vec<UserDoc>)> {
    let mut count = QueryBuilder::new("select count(*) from users u where u.tenant_id = ");
    count.push_bind(tenant);
    count.push(" and u.scim_deleted_at is null");
    if let Some(c) = condition {
        count.push(" and (");
        c(&mut count);
        count.push(")");
    }
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    if limit == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let mut q = QueryBuilder::new(format!(
        "select {} from users u where u.tenant_id = ",
        user_columns()
    ));
    q.push_bind(tenant);
    q.push(" and u.scim_deleted_at is null");
    if let Some(c) = condition {
        q.push(" and (");
        c(&mut q);
        q.push(")");
    }
    q.push(" order by u.id offset ");
    q.push_bind(offset);
    q.push(" limit ");
    q.push_bind(limit);
    let rows = q.build_query_as().fetch_all(conn).await?;
    Ok((total, rows))
}

pub async fn group(conn: &mut Conn, tenant: TenantId, id: GroupId) -> DbResult<Option<Group>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {} from groups g where g.tenant_id = $1 and g.id = $2 and g.scim_deleted_at is null",
        group_columns()
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn lock_group(conn: &mut Conn, tenant: TenantId, id: GroupId) -> DbResult<Option<Group>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {} from groups g where g.tenant_id = $1 and g.id = $2 and g.scim_deleted_at is null for update",
        group_columns()
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Groups in creation order, `offset` skipped, at most `limit`, with the total count.
pub async fn groups(
    conn: &mut Conn,
    tenant: TenantId,
    condition: Option<Condition<'_>>,
    offset: i64,
    limit: i64,
) -> DbResult<(i64, Vec<Group>)> {
    let mut count = QueryBuilder::new("select count(*) from groups g where g.tenant_id = ");
    count.push_bind(tenant);
    count.push(" and g.scim_deleted_at is null");
    if let Some(c) = condition {
        count.push(" and (");
        c(&mut count);
        count.push(")");
    }
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    if limit == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let mut q = QueryBuilder::new(format!(
        "select {} from groups g where g.tenant_id = ",
        group_columns()
    ));
    q.push_bind(tenant);
    q.push(" and g.scim_deleted_at is null");
    if let Some(c) = condition {
        q.push(" and (");
        c(&mut q);
        q.push(")");
    }
    q.push(" order by g.id offset ");
    q.push_bind(offset);
    q.push(" limit ");
    q.push_bind(limit);
    let rows = q.build_query_as().fetch_all(conn).await?;
    Ok((total, rows))
}

/// Whether another visible group already has this display name (compared without case).
pub async fn group_name_taken(
    conn: &mut Conn,
    tenant: TenantId,
    name: &str,
    except: Option<GroupId>,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from groups where tenant_id = $1 and lower(display_name) = lower($2)
                          and id is distinct from $3 and scim_deleted_at is null)",
    )
    .bind(tenant)
    .bind(name)
    .bind(except)
    .fetch_one(conn)
    .await?)
}

/// Hides a group from SCIM (the directory deleted it while Portico still uses it).
pub async fn hide_group(
    conn: &mut Conn,
    tenant: TenantId,
    id: GroupId,
    at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update groups set scim_deleted_at = $3, directory_managed = false, external_id = null, updated_at = $3
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The directory's members of each of `groups`, for building representations.
pub async fn directory_members(
    conn: &mut Conn,
    tenant: TenantId,
    groups: &[GroupId],
) -> DbResult<Vec<(GroupId, UserId)>> {
    Ok(sqlx::query_as(
        "select group_id, user_id from group_memberships
         where tenant_id = $1 and group_id = any($2) and from_directory order by group_id, user_id",
    )
    .bind(tenant)
    .bind(groups)
    .fetch_all(conn)
    .await?)
}

/// Those of `ids` that are users of the tenant.
pub async fn existing_users(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[UserId],
) -> DbResult<Vec<UserId>> {
    Ok(
        sqlx::query_scalar("select id from users where tenant_id = $1 and id = any($2)")
            .bind(tenant)
            .bind(ids)
            .fetch_all(conn)
            .await?,
    )
}

/// Adds the directory's membership of each of `users`; returns how many were new.
pub async fn add_members(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    users: &[UserId],
    now: DateTime<Utc>,
) -> DbResult<u64> {
    let done = sqlx::query(
        "insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at, from_directory)
         select $1, $2, u, null, $4, true from unnest($3::uuid[]) as u
         on conflict do nothing",
    )
    .bind(tenant)
    .bind(group)
    .bind(users)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Removes the directory's membership of each of `users` (other sources stay).
pub async fn remove_members(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    users: &[UserId],
) -> DbResult<u64> {
    let done = sqlx::query(
        "delete from group_memberships where tenant_id = $1 and group_id = $2 and from_directory
           and user_id = any($3)",
    )
    .bind(tenant)
    .bind(group)
    .bind(users)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Makes the directory's members exactly `users` (other sources stay).
pub async fn replace_members(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    users: &[UserId],
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "delete from group_memberships where tenant_id = $1 and group_id = $2 and from_directory
           and not (user_id = any($3))",
    )
    .bind(tenant)
    .bind(group)
    .bind(users)
    .execute(&mut *conn)
    .await?;
    add_members(conn, tenant, group, users, now).await?;
    Ok(())
}
