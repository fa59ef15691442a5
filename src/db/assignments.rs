//! Assignments (a user holds a package under a policy) and their per-role grants.

use chrono::{DateTime, Utc};

use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::assignment::AssignmentState;
use crate::domain::ids::{
    AssignmentId, CatalogId, GroupId, PackageId, PolicyId, ResourceId, ResourceRoleId, TenantId,
    UserId,
};
pub use crate::model::assignments::{AssignmentRow, GrantRow};

/// States in which an assignment gives access.
pub const ACTIVE: &str = "('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed')";

const COLUMNS: &str = "tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at, request_id, removal_reason, created_at, updated_at, ended_at";

pub async fn insert(conn: &mut Conn, a: &AssignmentRow) -> DbResult<()> {
    sqlx::query(
        "insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at, request_id,
             removal_reason, created_at, updated_at, ended_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(a.tenant_id)
    .bind(a.id)
    .bind(a.package_id)
    .bind(a.policy_id)
    .bind(a.target_user_id)
    .bind(a.state)
    .bind(a.start_at)
    .bind(a.end_at)
    .bind(a.request_id)
    .bind(a.removal_reason)
    .bind(a.created_at)
    .bind(a.updated_at)
    .bind(a.ended_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update(conn: &mut Conn, a: &AssignmentRow) -> DbResult<()> {
    sqlx::query(
        "update assignments set state = $3, end_at = $4, removal_reason = $5, updated_at = $6, ended_at = $7
         where tenant_id = $1 and id = $2",
    )
    .bind(a.tenant_id)
    .bind(a.id)
    .bind(a.state)
    .bind(a.end_at)
    .bind(a.removal_reason)
    .bind(a.updated_at)
    .bind(a.ended_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut Conn,
    tenant: TenantId,
    id: AssignmentId,
) -> DbResult<Option<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignments where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn lock(
    conn: &mut Conn,
    tenant: TenantId,
    id: AssignmentId,
) -> DbResult<Option<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignments where tenant_id = $1 and id = $2 for update"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn active_for(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    user: UserId,
) -> DbResult<Option<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignments where tenant_id = $1 and package_id = $2 and target_user_id = $3 and state in {ACTIVE}"
    )))
    .bind(tenant)
    .bind(package)
    .bind(user)
    .fetch_optional(conn)
    .await?)
}

pub async fn active_of_user(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
) -> DbResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignments where tenant_id = $1 and target_user_id = $2 and state in {ACTIVE} order by id"
    )))
    .bind(tenant)
    .bind(user)
    .fetch_all(conn)
    .await?)
}

/// The active assignments under a policy that came from a requestor's own request (not
/// an admin's direct assignment), locked for this transaction.
pub async fn lock_requested_under_policy(
    conn: &mut Conn,
    tenant: TenantId,
    policy: PolicyId,
) -> DbResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {cols} from assignments a
         join assignment_requests r on r.tenant_id = a.tenant_id and r.id = a.request_id
         where a.tenant_id = $1 and a.policy_id = $2 and a.state in {ACTIVE} and r.request_type = 'userAdd'
         order by a.id for update of a",
        cols = super::qualified(COLUMNS, "a")
    )))
    .bind(tenant)
    .bind(policy)
    .fetch_all(conn)
    .await?)
}

/// Assignments a directory change may have put outside their policy's requestor scope:
/// active, from the holder's own request, under a policy whose `removeWhenOutOfScope`
/// is on; for a group, only under policies naming the group and held by people no
/// longer in it; for users, any of theirs. Locked, in id order.
pub async fn lock_scope_candidates(
    conn: &mut Conn,
    tenant: TenantId,
    change: ScopeChange<'_>,
) -> DbResult<Vec<AssignmentRow>> {
    let (condition, group, users): (&str, Option<GroupId>, &[UserId]) = match change {
        ScopeChange::LeftGroup(g) => (
            "p.settings -> 'requestors' -> 'principals' @> jsonb_build_array(jsonb_build_object('type', 'group', 'id', $2::uuid))
             and not exists (select 1 from group_memberships m
                             where m.tenant_id = a.tenant_id and m.group_id = $2 and m.user_id = a.target_user_id)",
            Some(g),
            &[],
        ),
        ScopeChange::Users(u) => ("a.target_user_id = any($3)", None, u),
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {cols} from assignments a
         join assignment_requests r on r.tenant_id = a.tenant_id and r.id = a.request_id
         join policies p on p.tenant_id = a.tenant_id and p.id = a.policy_id
         where a.tenant_id = $1 and a.state in {ACTIVE} and r.request_type = 'userAdd'
           and p.settings -> 'requestors' ->> 'removeWhenOutOfScope' = 'true'
           and {condition}
         order by a.id for update of a",
        cols = super::qualified(COLUMNS, "a")
    )))
    .bind(tenant)
    .bind(group)
    .bind(users)
    .fetch_all(conn)
    .await?)
}

/// What changed in the directory (see [`lock_scope_candidates`]).
#[derive(Clone, Copy, Debug)]
pub enum ScopeChange<'a> {
    /// Members left this group (removed, replaced, or the group deleted).
    LeftGroup(GroupId),
    /// These people changed in a way a scope looks at (guest or member).
    Users(&'a [UserId]),
}

/// The user's ended (expired or removed) assignments, the most recently ended first.
pub async fn ended_of_user(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    limit: i64,
) -> DbResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignments where tenant_id = $1 and target_user_id = $2 and state in ('expired', 'removed')
         order by coalesce(ended_at, updated_at) desc, id desc limit $3"
    )))
    .bind(tenant)
    .bind(user)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn active_of_package(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
) -> DbResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignments where tenant_id = $1 and package_id = $2 and state in {ACTIVE} order by id for update"
    )))
    .bind(tenant)
    .bind(package)
    .fetch_all(conn)
    .await?)
}

#[derive(Clone, Debug, Default)]
pub struct AssignmentFilter<'a> {
    pub package: Option<PackageId>,
    pub target: Option<UserId>,
    pub state: Option<AssignmentState>,
    pub catalogs: Option<&'a [CatalogId]>,
}

pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    f: &AssignmentFilter<'_>,
    page: PageRequest,
) -> DbResult<Page<AssignmentRow>> {
    let rows: Vec<AssignmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignments
         where tenant_id = $1 and id < $2
           and ($3::uuid is null or package_id = $3)
           and ($4::uuid is null or target_user_id = $4)
           and ($5::text is null or state = $5)
           and ($6::uuid[] is null or package_id in (
               select id from access_packages p where p.tenant_id = $1 and p.catalog_id = any($6)))
         order by id desc limit $7"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(f.package)
    .bind(f.target)
    .bind(f.state)
    .bind(f.catalogs)
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |a| a.id.0))
}

pub async fn upsert_grant(conn: &mut Conn, g: &GrantRow) -> DbResult<()> {
    sqlx::query(
        "insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, error, updated_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (tenant_id, assignment_id, resource_role_id)
         do update set state = excluded.state, error = excluded.error, updated_at = excluded.updated_at",
    )
    .bind(g.tenant_id)
    .bind(g.assignment_id)
    .bind(g.resource_role_id)
    .bind(g.state)
    .bind(&g.error)
    .bind(g.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn grants_of(
    conn: &mut Conn,
    tenant: TenantId,
    assignments: &[AssignmentId],
) -> DbResult<Vec<GrantRow>> {
    Ok(sqlx::query_as(
        "select tenant_id, assignment_id, resource_role_id, state, error, updated_at from assignment_grants
         where tenant_id = $1 and assignment_id = any($2) order by assignment_id, resource_role_id",
    )
    .bind(tenant)
    .bind(assignments)
    .fetch_all(conn)
    .await?)
}

/// Whether another active assignment of the user holds this role, delivered.
pub async fn role_held_elsewhere(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    role: ResourceRoleId,
    except: AssignmentId,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select exists (select 1 from assignment_grants g join assignments a on a.tenant_id = g.tenant_id and a.id = g.assignment_id
         where g.tenant_id = $1 and a.target_user_id = $2 and g.resource_role_id = $3 and a.id <> $4
           and a.state in {ACTIVE} and g.state in ('pending', 'delivered'))"
    )))
    .bind(tenant)
    .bind(user)
    .bind(role)
    .bind(except)
    .fetch_one(conn)
    .await?)
}

/// Whether the user holds any grant of a role of `resource` that is delivered or on
/// its way, in an active assignment (a revoke in progress does not count).
pub async fn holds_grant_on_resource(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    resource: ResourceId,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select exists (select 1 from assignment_grants g
           join assignments a on a.tenant_id = g.tenant_id and a.id = g.assignment_id
           join resource_roles rr on rr.tenant_id = g.tenant_id and rr.id = g.resource_role_id
         where g.tenant_id = $1 and a.target_user_id = $2 and rr.resource_id = $3
           and a.state in {ACTIVE} and g.state in ('pending', 'delivered'))"
    )))
    .bind(tenant)
    .bind(user)
    .bind(resource)
    .fetch_one(conn)
    .await?)
}

/// Active assignments due a warning `days` before their end (and whose warning time
/// falls after their start), not yet warned, claimed for this transaction.
pub async fn claim_warnings(
    conn: &mut Conn,
    days: i32,
    now: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<AssignmentRow>> {
    let column = if days == 1 {
        "warned_1_at"
    } else {
        "warned_14_at"
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignments
         where state in {ACTIVE} and end_at is not null and {column} is null
           and end_at - make_interval(days => $1) <= $2 and end_at > $2
           and end_at - make_interval(days => $1) > start_at
         order by end_at limit $3 for update skip locked"
    )))
    .bind(days)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn mark_warned(
    conn: &mut Conn,
    tenant: TenantId,
    id: AssignmentId,
    days: i32,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let sql = if days == 1 {
        "update assignments set warned_1_at = $3, warned_14_at = coalesce(warned_14_at, $3) where tenant_id = $1 and id = $2"
    } else {
        "update assignments set warned_14_at = $3 where tenant_id = $1 and id = $2"
    };
    sqlx::query(sql)
        .bind(tenant)
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a batch of active assignments whose end has passed, in one statement: they
/// become `expired` and are returned (claimed rows are skipped by other replicas).
pub async fn expire_due_batch(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with due as (
             select tenant_id, id from assignments where end_at <= $1 and state in {ACTIVE}
             order by end_at limit $2 for update skip locked)
         update assignments a set state = 'expired', ended_at = $1, updated_at = $1
         from due where a.tenant_id = due.tenant_id and a.id = due.id
         returning a.tenant_id, a.id, a.package_id, a.policy_id, a.target_user_id, a.state, a.start_at, a.end_at,
                   a.request_id, a.removal_reason, a.created_at, a.updated_at, a.ended_at"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Ids of the given assignments that hold a connector grant which may need a revoke call.
pub async fn with_connector_grants(
    conn: &mut Conn,
    assignments: &[(TenantId, AssignmentId)],
) -> DbResult<Vec<(TenantId, AssignmentId)>> {
    Ok(sqlx::query_as(
        "select distinct g.tenant_id, g.assignment_id from assignment_grants g
         join resource_roles rr on rr.tenant_id = g.tenant_id and rr.id = g.resource_role_id
         join resources r on r.tenant_id = rr.tenant_id and r.id = rr.resource_id
         join unnest($1::uuid[], $2::uuid[]) as x(t, a) on g.tenant_id = x.t and g.assignment_id = x.a
         where r.connector is not null and g.state not in ('revoked', 'revoking')",
    )
    .bind(assignments.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(assignments.iter().map(|(_, a)| *a).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?)
}

/// Removes what the assignments delivered to groups and marks their remaining grants
/// revoked (connector grants are handled before, one by one).
pub async fn revoke_local_grants(
    conn: &mut Conn,
    assignments: &[(TenantId, AssignmentId)],
    now: DateTime<Utc>,
) -> DbResult<()> {
    let tenants: Vec<TenantId> = assignments.iter().map(|(t, _)| *t).collect();
    let ids: Vec<AssignmentId> = assignments.iter().map(|(_, a)| *a).collect();
    for table in ["group_memberships", "group_owners"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "delete from {table} m using unnest($1::uuid[], $2::uuid[]) as x(t, a)
             where m.tenant_id = x.t and m.assignment_id = x.a"
        )))
        .bind(&tenants)
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "update assignment_grants g set state = 'revoked', updated_at = $3
         from unnest($1::uuid[], $2::uuid[]) as x(t, a)
         where g.tenant_id = x.t and g.assignment_id = x.a and g.state not in ('revoked', 'revoking')",
    )
    .bind(&tenants)
    .bind(&ids)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
