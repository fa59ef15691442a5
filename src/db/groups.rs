//! Directory groups, their owners and members. Each membership (and ownership) row has
//! a source: `None` = direct, or the assignment that delivered it. A user is a member
//! while any source remains, so ending an assignment removes only its own rows.
//! Memberships pushed by the tenant's directory (SCIM) are rows of their own
//! (`from_directory`): the functions here never touch them; `db::scim_directory` does.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Conn, DbResult, Page, PageRequest, like_pattern};
use crate::domain::ids::{CatalogId, GroupId, TenantId, UserId};
use crate::domain::policy::PolicySettings;
pub use crate::model::groups::{Group, MemberRow, Relation};

/// The table that holds `relation`.
fn table(relation: Relation) -> &'static str {
    match relation {
        Relation::Member => "group_memberships",
        Relation::Owner => "group_owners",
    }
}

pub(crate) const COLUMNS: &str = "tenant_id, id, display_name, description, created_at, updated_at, external_id, directory_managed";

pub async fn insert(conn: &mut Conn, g: &Group) -> DbResult<()> {
    sqlx::query(
        "insert into groups (tenant_id, id, display_name, description, created_at, updated_at, external_id, directory_managed)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(g.tenant_id)
    .bind(g.id)
    .bind(&g.display_name)
    .bind(&g.description)
    .bind(g.created_at)
    .bind(g.updated_at)
    .bind(&g.external_id)
    .bind(g.directory_managed)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut Conn, g: &Group) -> DbResult<()> {
    sqlx::query(
        "update groups set display_name = $3, description = $4, updated_at = $5, external_id = $6,
             directory_managed = $7
         where tenant_id = $1 and id = $2",
    )
    .bind(g.tenant_id)
    .bind(g.id)
    .bind(&g.display_name)
    .bind(&g.description)
    .bind(g.updated_at)
    .bind(&g.external_id)
    .bind(g.directory_managed)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, tenant: TenantId, id: GroupId) -> DbResult<()> {
    sqlx::query("delete from groups where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, tenant: TenantId, id: GroupId) -> DbResult<Option<Group>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from groups where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn get_many(conn: &mut Conn, tenant: TenantId, ids: &[GroupId]) -> DbResult<Vec<Group>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from groups where tenant_id = $1 and id = any($2)"
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    search: Option<&str>,
    page: PageRequest,
) -> DbResult<Page<Group>> {
    let rows: Vec<Group> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from groups
         where tenant_id = $1 and id < $2 and ($3::text is null or lower(display_name) like $3)
         order by id desc limit $4"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(search.map(like_pattern))
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |g| g.id.0))
}

/// Adds one source of membership/ownership; `false` when that source already existed.
pub async fn add(
    conn: &mut Conn,
    relation: Relation,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
    source: Option<Uuid>,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "insert into {} (tenant_id, group_id, user_id, assignment_id, created_at)
         values ($1, $2, $3, $4, $5) on conflict do nothing",
        table(relation)
    )))
    .bind(tenant)
    .bind(group)
    .bind(user)
    .bind(source)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes one source (never the directory's); `false` when it was not there.
pub async fn remove(
    conn: &mut Conn,
    relation: Relation,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
    source: Option<Uuid>,
) -> DbResult<bool> {
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "delete from {} where tenant_id = $1 and group_id = $2 and user_id = $3
           and assignment_id is not distinct from $4{}",
        table(relation),
        match relation {
            Relation::Member => " and not from_directory",
            Relation::Owner => "",
        }
    )))
    .bind(tenant)
    .bind(group)
    .bind(user)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes every row that `assignment` delivered, in any group.
pub async fn remove_source_everywhere(
    conn: &mut Conn,
    tenant: TenantId,
    assignment: Uuid,
) -> DbResult<()> {
    for relation in [Relation::Member, Relation::Owner] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "delete from {} where tenant_id = $1 and assignment_id = $2",
            table(relation)
        )))
        .bind(tenant)
        .bind(assignment)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn list_related(
    conn: &mut Conn,
    relation: Relation,
    tenant: TenantId,
    group: GroupId,
    page: PageRequest,
) -> DbResult<Page<MemberRow>> {
    let (sources, directory) = match relation {
        Relation::Member => (
            "coalesce(array_agg(assignment_id order by assignment_id nulls first) filter (where not from_directory), '{}')",
            "bool_or(from_directory)",
        ),
        Relation::Owner => (
            "array_agg(assignment_id order by assignment_id nulls first)",
            "false",
        ),
    };
    let rows: Vec<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select user_id, {sources} as sources, {directory} as directory
         from {} where tenant_id = $1 and group_id = $2 and user_id < $3
         group by user_id order by user_id desc limit $4",
        table(relation)
    )))
    .bind(tenant)
    .bind(group)
    .bind(page.before_bound())
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |m| m.user_id.0))
}

/// Distinct users related to any of `groups` (owners or members).
pub async fn users_of(
    conn: &mut Conn,
    relation: Relation,
    tenant: TenantId,
    groups: &[GroupId],
) -> DbResult<Vec<UserId>> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select distinct user_id from {} where tenant_id = $1 and group_id = any($2)",
        table(relation)
    )))
    .bind(tenant)
    .bind(groups)
    .fetch_all(conn)
    .await?)
}

/// Owner ids of each of `groups`, for building representations without N+1 queries.
pub async fn owners_of(
    conn: &mut Conn,
    tenant: TenantId,
    groups: &[GroupId],
) -> DbResult<Vec<(GroupId, UserId)>> {
    Ok(sqlx::query_as(
        "select distinct group_id, user_id from group_owners
         where tenant_id = $1 and group_id = any($2) order by group_id, user_id",
    )
    .bind(tenant)
    .bind(groups)
    .fetch_all(conn)
    .await?)
}

/// Groups in which `user` is related by any source.
pub async fn groups_of_user(
    conn: &mut Conn,
    relation: Relation,
    tenant: TenantId,
    user: UserId,
) -> DbResult<Vec<GroupId>> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select distinct group_id from {} where tenant_id = $1 and user_id = $2",
        table(relation)
    )))
    .bind(tenant)
    .bind(user)
    .fetch_all(conn)
    .await?)
}

pub async fn is_related(
    conn: &mut Conn,
    relation: Relation,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select exists (select 1 from {} where tenant_id = $1 and group_id = $2 and user_id = $3)",
        table(relation)
    )))
    .bind(tenant)
    .bind(group)
    .bind(user)
    .fetch_one(conn)
    .await?)
}

/// Whether the directory (SCIM) made `user` a member of `group`.
pub async fn is_directory_member(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from group_memberships
                        where tenant_id = $1 and group_id = $2 and user_id = $3 and from_directory)",
    )
    .bind(tenant)
    .bind(group)
    .bind(user)
    .fetch_one(conn)
    .await?)
}

/// Removes the direct owners that are not in `keep` (owners from assignments stay).
pub async fn remove_direct_owners_except(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    keep: &[UserId],
) -> DbResult<()> {
    sqlx::query(
        "delete from group_owners where tenant_id = $1 and group_id = $2 and assignment_id is null
           and not (user_id = any($3))",
    )
    .bind(tenant)
    .bind(group)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(())
}

/// What tells whether groups carry power (`GroupPrivilege::assess` decides).
#[derive(Clone, Debug, Default)]
pub struct PrivilegeFacts {
    /// Those of the groups asked about that hold a role assignment.
    pub holding_roles: Vec<GroupId>,
    /// Policies, with the catalog of their package, whose settings mention any of the
    /// groups; a text match only narrows what is read, the rule looks at where.
    pub policies: Vec<(CatalogId, PolicySettings)>,
}

impl PrivilegeFacts {
    pub fn policies(&self) -> Vec<(CatalogId, &PolicySettings)> {
        self.policies.iter().map(|(c, p)| (*c, p)).collect()
    }
}

pub async fn privilege_facts(
    conn: &mut Conn,
    tenant: TenantId,
    groups: &[GroupId],
) -> DbResult<PrivilegeFacts> {
    if groups.is_empty() {
        return Ok(PrivilegeFacts::default());
    }
    let holding_roles = sqlx::query_scalar(
        "select distinct group_id from role_assignments where tenant_id = $1 and group_id = any($2)",
    )
    .bind(tenant)
    .bind(groups)
    .fetch_all(&mut *conn)
    .await?;
    let patterns: Vec<String> = groups.iter().map(|g| format!("%{}%", g.0)).collect();
    let rows: Vec<(CatalogId, Json<PolicySettings>)> = sqlx::query_as(
        "select a.catalog_id, p.settings from policies p
           join access_packages a on a.tenant_id = p.tenant_id and a.id = p.package_id
         where p.tenant_id = $1 and p.settings::text like any($2)",
    )
    .bind(tenant)
    .bind(&patterns)
    .fetch_all(conn)
    .await?;
    Ok(PrivilegeFacts {
        holding_roles,
        policies: rows.into_iter().map(|(c, Json(p))| (c, p)).collect(),
    })
}

/// The email addresses of the group's direct members (not those an assignment made
/// members), in address order.
pub async fn direct_member_emails(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select distinct u.email from group_memberships m
           join users u on u.tenant_id = m.tenant_id and u.id = m.user_id
         where m.tenant_id = $1 and m.group_id = $2 and m.assignment_id is null
         order by u.email",
    )
    .bind(tenant)
    .bind(group)
    .fetch_all(conn)
    .await?)
}
