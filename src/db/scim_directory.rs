//! What the SCIM server reads and writes: users with the document the directory pushed
//! (`scim_document`), groups, and the directory's own memberships
//! (`group_memberships.from_directory`), changed set-based (one statement per change,
//! whatever the number of members). Users and groups the directory deleted
//! (`scim_deleted_at`) are invisible here.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, Postgres, QueryBuilder};

use super::scim_filter::{Column, ColumnKind, push_filter};
use super::{Conn, DbError, DbResult};
use crate::db::groups::Group;
use crate::db::users::User;
use crate::domain::ids::{GroupId, TenantId, UserId};
use crate::domain::scim::ScimError;
use crate::domain::scim::filter::{AttrPath, CompareOp, ENTERPRISE_USER_URN, Filter};

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

/// Which resources a filter is about: each maps attribute paths to its columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

const fn col(sql: &'static str, kind: ColumnKind) -> Option<Column> {
    Some(Column { sql, kind })
}

/// The column of a user attribute a filter may use (the `u` alias).
pub fn user_column(p: &AttrPath) -> Option<Column> {
    use ColumnKind::*;
    let enterprise = p
        .urn
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case(ENTERPRISE_USER_URN));
    if enterprise {
        return match (p.attr.as_str(), p.sub.as_deref()) {
            ("department", None) => col("u.department", Text),
            ("manager", Some("value")) | ("manager", None) => col("u.manager_id", Uuid),
            _ => None,
        };
    }
    let is = |a: &str, s: Option<&str>| p.is(a, s);
    if is("id", None) {
        col("u.id", Uuid)
    } else if is("username", None) {
        col("coalesce(u.scim_document ->> 'userName', u.email)", Text)
    } else if is("externalid", None) {
        col("u.external_id", CaseExactText)
    } else if is("emails", Some("value")) || is("emails", None) {
        col("u.email", Text)
    } else if is("displayname", None) {
        col("u.display_name", Text)
    } else if is("active", None) {
        col("u.active", Bool)
    } else if is("title", None) {
        col("u.job_title", Text)
    } else if is("name", Some("givenname")) {
        col("(u.scim_document #>> '{name,givenName}')", Text)
    } else if is("name", Some("familyname")) {
        col("(u.scim_document #>> '{name,familyName}')", Text)
    } else if is("name", Some("formatted")) {
        col("(u.scim_document #>> '{name,formatted}')", Text)
    } else if is("meta", Some("lastmodified")) {
        col("u.updated_at", Time)
    } else if is("meta", Some("created")) {
        col("u.created_at", Time)
    } else {
        None
    }
}

/// The column of a group attribute a filter may use (the `g` alias).
pub fn group_column(p: &AttrPath) -> Option<Column> {
    use ColumnKind::*;
    if p.is("id", None) {
        col("g.id", Uuid)
    } else if p.is("displayname", None) {
        col("g.display_name", Text)
    } else if p.is("externalid", None) {
        col("g.external_id", CaseExactText)
    } else if p.is("meta", Some("lastmodified")) {
        col("g.updated_at", Time)
    } else if p.is("meta", Some("created")) {
        col("g.created_at", Time)
    } else {
        None
    }
}

fn column_of(kind: Kind) -> fn(&AttrPath) -> Option<Column> {
    match kind {
        Kind::Users => user_column,
        Kind::Groups => group_column,
    }
}

/// Refuses a filter on attributes that cannot be filtered on (400 invalidFilter).
pub fn check_filter(kind: Kind, f: &Filter) -> Result<(), ScimError> {
    let mut scratch = QueryBuilder::new("");
    push_filter(&mut scratch, f, &column_of(kind))
}

/// Appends the filter. The most common one, a single `eq` (how every directory
/// looks a user or group up before creating it), is written so that the indexes on
/// `lower(userName)`, `externalId` and `lower(displayName)` serve it.
fn push_where(qb: &mut QueryBuilder<Postgres>, kind: Kind, f: &Filter) -> DbResult<()> {
    if let Filter::Compare {
        path,
        op: CompareOp::Eq,
        value: Value::String(v),
    } = f
        && let Some(c) = column_of(kind)(path)
    {
        match c.kind {
            ColumnKind::Text => {
                qb.push(format!("lower({}) = lower(", c.sql))
                    .push_bind(v.clone())
                    .push(")");
                return Ok(());
            }
            ColumnKind::CaseExactText => {
                qb.push(format!("{} = ", c.sql)).push_bind(v.clone());
                return Ok(());
            }
            _ => {}
        }
    }
    push_filter(qb, f, &column_of(kind))
        .map_err(|e| DbError::Other(sqlx::Error::Protocol(e.detail)))
}

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
    filter: Option<&Filter>,
    offset: i64,
    limit: i64,
) -> DbResult<(i64, Vec<UserDoc>)> {
    let mut count = QueryBuilder::new("select count(*) from users u where u.tenant_id = ");
    count.push_bind(tenant);
    count.push(" and u.scim_deleted_at is null");
    if let Some(f) = filter {
        count.push(" and (");
        push_where(&mut count, Kind::Users, f)?;
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
    if let Some(f) = filter {
        q.push(" and (");
        push_where(&mut q, Kind::Users, f)?;
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
    filter: Option<&Filter>,
    offset: i64,
    limit: i64,
) -> DbResult<(i64, Vec<Group>)> {
    let mut count = QueryBuilder::new("select count(*) from groups g where g.tenant_id = ");
    count.push_bind(tenant);
    count.push(" and g.scim_deleted_at is null");
    if let Some(f) = filter {
        count.push(" and (");
        push_where(&mut count, Kind::Groups, f)?;
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
    if let Some(f) = filter {
        q.push(" and (");
        push_where(&mut q, Kind::Groups, f)?;
        q.push(")");
    }
    q.push(" order by g.id offset ");
    q.push_bind(offset);
    q.push(" limit ");
    q.push_bind(limit);
    let rows = q.build_query_as().fetch_all(conn).await?;
    Ok((total, rows))
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
