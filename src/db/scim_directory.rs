//! What the SCIM server reads and writes: users with the document the directory pushed
//! (`scim_document`), groups, and the directory's own memberships
//! (`group_memberships.from_directory`), changed set-based (one statement per change,
//! whatever the number of members). Users and groups the directory deleted
//! (`scim_deleted_at`) are invisible here.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{FromRow, Postgres, QueryBuilder, Row};

use super::scim_filter::{Column, ColumnKind, Columns, Elements, push_filter};
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

/// A user's `emails` as `GET /Users` shows them: what the directory pushed, or the
/// sign-in email as the one work, primary email when it pushed none.
const USER_EMAILS: Elements = Elements {
    from: "jsonb_array_elements(case when jsonb_typeof(u.scim_document -> 'emails') = 'array'
             then u.scim_document -> 'emails'
             else jsonb_build_array(jsonb_build_object('value', u.email, 'type', 'work', 'primary', true))
           end) as em(v)",
    correlate: "true",
    column: |sub| match sub {
        "value" => col("(em.v ->> 'value')", ColumnKind::Text),
        "type" => col("(em.v ->> 'type')", ColumnKind::Text),
        "primary" => col(
            "(case jsonb_typeof(em.v -> 'primary') when 'boolean' then (em.v -> 'primary')::boolean end)",
            ColumnKind::Bool,
        ),
        _ => None,
    },
};

/// A group's `members`: the directory's memberships (what `GET /Groups` shows).
const GROUP_MEMBERS: Elements = Elements {
    from: "group_memberships gm",
    correlate: "gm.tenant_id = g.tenant_id and gm.group_id = g.id and gm.from_directory",
    column: |sub| match sub {
        "value" => col("gm.user_id", ColumnKind::Uuid),
        // Members are users only.
        "type" => col("'User'", ColumnKind::Text),
        _ => None,
    },
};

/// What a filter of users may name.
struct UserSchema;

impl Columns for UserSchema {
    fn column(&self, path: &AttrPath) -> Option<Column> {
        user_column(path)
    }

    fn elements(&self, path: &AttrPath) -> Option<Elements> {
        path.is("emails", None).then_some(USER_EMAILS)
    }
}

/// What a filter of groups may name.
struct GroupSchema;

impl Columns for GroupSchema {
    fn column(&self, path: &AttrPath) -> Option<Column> {
        group_column(path)
    }

    fn elements(&self, path: &AttrPath) -> Option<Elements> {
        path.is("members", None).then_some(GROUP_MEMBERS)
    }
}

fn schema_of(kind: Kind) -> &'static dyn Columns {
    match kind {
        Kind::Users => &UserSchema,
        Kind::Groups => &GroupSchema,
    }
}

/// Refuses a filter on attributes that cannot be filtered on (400 invalidFilter).
pub fn check_filter(kind: Kind, f: &Filter) -> Result<(), ScimError> {
    let mut scratch = QueryBuilder::new("");
    push_filter(&mut scratch, f, schema_of(kind))
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
        && let Some(c) = schema_of(kind).column(path)
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
    push_filter(qb, f, schema_of(kind)).map_err(|e| DbError::Other(sqlx::Error::Protocol(e.detail)))
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

/// What writing a user must know first, read in one statement.
#[derive(Clone, Copy, Debug, Default, FromRow)]
pub struct UserChecks {
    /// On create: the user the directory deleted with this sign-in email (locked); a
    /// POST brings them back.
    pub revived: Option<UserId>,
    /// Another user holds the userName (among visible users) or the sign-in email.
    pub name_taken: bool,
    /// The manager is a visible user.
    pub manager_visible: bool,
    /// The manager reports (directly or not) to the user written.
    pub manager_loop: bool,
}

/// The checks of writing user `id` (None: a new user) with this userName, sign-in
/// email and manager.
pub async fn user_checks(
    conn: &mut Conn,
    tenant: TenantId,
    id: Option<UserId>,
    user_name: &str,
    email: &str,
    manager: Option<UserId>,
) -> DbResult<UserChecks> {
    // Each check is a lookup on exactly one unique index's columns (the chain steps on
    // the primary key), so its plan does not depend on the table's statistics: during a
    // first sync the tenant grows faster than they are refreshed, and an `OR` of the two
    // name checks was then answered by reading every user of the tenant.
    Ok(sqlx::query_as(
        "with recursive revived as (
             select id from users
             where $2::uuid is null and tenant_id = $1 and lower(email) = lower($4)
               and scim_deleted_at is not null
             for update),
         chain(id, depth) as (
             select manager_id, 1 from users where tenant_id = $1 and id = $5
             union all
             select (select u.manager_id from users u where u.tenant_id = $1 and u.id = c.id),
                    c.depth + 1
             from chain c where c.id is not null and c.depth < 100)
         select (select id from revived) as revived,
                exists (select 1 from users
                        where tenant_id = $1 and scim_deleted_at is null
                          and lower(coalesce(scim_document ->> 'userName', email)) = lower($3)
                          and id is distinct from coalesce($2, (select id from revived)))
                or exists (select 1 from users
                           where tenant_id = $1 and lower(email) = lower($4)
                             and id is distinct from coalesce($2, (select id from revived)))
                    as name_taken,
                exists (select 1 from users where tenant_id = $1 and id = $5 and scim_deleted_at is null)
                    as manager_visible,
                exists (select 1 from chain where id = coalesce($2, (select id from revived)))
                    as manager_loop",
    )
    .bind(tenant)
    .bind(id)
    .bind(user_name)
    .bind(email)
    .bind(manager)
    .fetch_one(conn)
    .await?)
}

/// Refreshes the planner's statistics of the tables a directory's sync grows.
pub async fn refresh_statistics(conn: &mut Conn) -> DbResult<()> {
    sqlx::query("analyze users, groups, group_memberships")
        .execute(conn)
        .await?;
    Ok(())
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
    page(conn, tenant, Kind::Users, filter, offset, limit).await
}

impl Kind {
    /// `from` of the kind's list (aliased as its columns expect) and the selected columns.
    fn source(self) -> (&'static str, String) {
        match self {
            Kind::Users => ("users u", user_columns()),
            Kind::Groups => ("groups g", group_columns()),
        }
    }

    fn alias(self) -> &'static str {
        match self {
            Kind::Users => "u",
            Kind::Groups => "g",
        }
    }
}

fn visible_where(
    qb: &mut QueryBuilder<Postgres>,
    kind: Kind,
    tenant: TenantId,
    filter: Option<&Filter>,
) -> DbResult<()> {
    let a = kind.alias();
    qb.push(format!(" where {a}.tenant_id = "));
    qb.push_bind(tenant);
    qb.push(format!(" and {a}.scim_deleted_at is null"));
    if let Some(f) = filter {
        qb.push(" and (");
        push_where(qb, kind, f)?;
        qb.push(")");
    }
    Ok(())
}

async fn count(
    conn: &mut Conn,
    tenant: TenantId,
    kind: Kind,
    filter: Option<&Filter>,
) -> DbResult<i64> {
    let mut q = QueryBuilder::new(format!("select count(*) from {}", kind.source().0));
    visible_where(&mut q, kind, tenant, filter)?;
    Ok(q.build_query_scalar().fetch_one(conn).await?)
}

/// One page and the total in one statement (the total rides on each row); only a page
/// past the end, or `count=0`, asks for the total on its own.
async fn page<T>(
    conn: &mut Conn,
    tenant: TenantId,
    kind: Kind,
    filter: Option<&Filter>,
    offset: i64,
    limit: i64,
) -> DbResult<(i64, Vec<T>)>
where
    T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    if limit == 0 {
        return Ok((count(conn, tenant, kind, filter).await?, Vec::new()));
    }
    let (from, columns) = kind.source();
    let mut q = QueryBuilder::new(format!(
        "select {columns}, count(*) over () as scim_total from {from}"
    ));
    visible_where(&mut q, kind, tenant, filter)?;
    q.push(format!(" order by {}.id offset ", kind.alias()));
    q.push_bind(offset);
    q.push(" limit ");
    q.push_bind(limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    let total = match rows.first() {
        Some(r) => r.try_get::<i64, _>("scim_total")?,
        None if offset == 0 => 0,
        None => count(conn, tenant, kind, filter).await?,
    };
    let items = rows
        .iter()
        .map(T::from_row)
        .collect::<Result<Vec<T>, _>>()?;
    Ok((total, items))
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
    page(conn, tenant, Kind::Groups, filter, offset, limit).await
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

/// Adds the directory's membership of each of `users` (already members stay as they
/// are) in one statement, unless one of them is no user of the tenant: then nothing is
/// added and the first such id is returned.
pub async fn add_members(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    users: &[UserId],
    now: DateTime<Utc>,
) -> DbResult<Option<UserId>> {
    if users.is_empty() {
        return Ok(None);
    }
    Ok(sqlx::query_scalar(
        "with wanted as (select distinct u from unnest($3::uuid[]) as u),
         missing as (
             select w.u from wanted w
             where not exists (select 1 from users x where x.tenant_id = $1 and x.id = w.u)
             order by w.u limit 1),
         added as (
             insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at, from_directory)
             select $1, $2, w.u, null, $4, true from wanted w
             where not exists (select 1 from missing)
             on conflict do nothing)
         select (select u from missing)",
    )
    .bind(tenant)
    .bind(group)
    .bind(users)
    .bind(now)
    .fetch_one(conn)
    .await?)
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

/// Makes the directory's members exactly `users` (other sources stay); as
/// `add_members`, returns the first of `users` that is no user of the tenant (then
/// the caller must not commit: the other members are already removed).
pub async fn replace_members(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    users: &[UserId],
    now: DateTime<Utc>,
) -> DbResult<Option<UserId>> {
    sqlx::query(
        "delete from group_memberships where tenant_id = $1 and group_id = $2 and from_directory
           and not (user_id = any($3))",
    )
    .bind(tenant)
    .bind(group)
    .bind(users)
    .execute(&mut *conn)
    .await?;
    add_members(conn, tenant, group, users, now).await
}
