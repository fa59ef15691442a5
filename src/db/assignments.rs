//! Assignments (a user holds a package under a policy) and their per-role grants.

use chrono::{DateTime, Utc};

use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::assignment::AssignmentState;
use crate::domain::audit::{ActorType, AuditAction, TargetType};
use crate::domain::ids::{
    AssignmentId, CatalogId, GroupId, PackageId, PolicyId, RequestId, ResourceId, ResourceRoleId,
    TenantId, UserId,
};
use crate::domain::outbox::OutboxKind;
use crate::domain::request::{RequestState, RequestType};
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
           and end_at <= $2 + make_interval(days => $1) and end_at > $2
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

/// One assignment a batch of expiry ended (see [`expire_due_batch`]).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Expired {
    pub tenant_id: TenantId,
    pub id: AssignmentId,
    /// The `systemRemove` request that records the end in the assignment's history.
    pub request_id: RequestId,
    /// It holds a grant through a connector still to be revoked: its grants and group
    /// rows were left for the caller, which queues the revoke calls.
    pub connector: bool,
    /// Its policy calls custom extensions.
    pub extensions: bool,
    /// An extension request of it is still open.
    pub open_extension: bool,
}

/// A time-ordered (v7) id made in SQL: the batch's clock in milliseconds (`x.ms`), then
/// `seq` (below 2^18) as a counter, so a batch's ids sort in the order the rows were
/// numbered, then random bits.
fn v7(seq: &str) -> String {
    format!(
        "(lpad(to_hex(x.ms), 12, '0') || '7' || lpad(to_hex((({seq}) >> 6) & 4095), 3, '0') || to_hex(128 | (({seq}) & 63))
          || substr(md5(random()::text), 1, 14))::uuid"
    )
}

/// Ends a batch of active assignments whose end has passed, in one statement: claims
/// them (other replicas skip claimed rows), marks them `expired`, removes the group
/// members and owners they delivered, marks their grants revoked, and writes their
/// history: a delivered `systemRemove` request each, its two audit events (request
/// created, assignment ended) and the holder's `accessEnded` email (`notice`, whose
/// `assignmentId` is filled in per row). An assignment with a connector grant still to
/// revoke keeps its grants and group rows here (`connector`): the caller revokes them.
pub async fn expire_due_batch(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
    notice: &serde_json::Value,
) -> DbResult<Vec<Expired>> {
    let request_id = v7("3 * x.n");
    let created_id = v7("3 * x.n + 1");
    let ended_id = v7("3 * x.n + 2");
    let outbox_id = v7("x.n");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with due as (
             select tenant_id, id from assignments where end_at <= $1 and state in {ACTIVE}
             order by end_at limit $2 for update skip locked),
         ended as (
             update assignments a set state = $12::text, ended_at = $1, updated_at = $1
             from due where a.tenant_id = due.tenant_id and a.id = due.id
             returning a.tenant_id, a.id, a.package_id, a.policy_id, a.target_user_id),
         numbered as (
             select e.*, row_number() over (order by e.tenant_id, e.id) as n, c.ms
             from ended e cross join (select (extract(epoch from clock_timestamp()) * 1000)::bigint as ms) c),
         x as (
             select x.tenant_id, x.id, x.package_id, x.policy_id, x.target_user_id, x.n, {request_id} as request_id,
                    exists (select 1 from assignment_grants g
                            join resource_roles rr on rr.tenant_id = g.tenant_id and rr.id = g.resource_role_id
                            join resources r on r.tenant_id = rr.tenant_id and r.id = rr.resource_id
                            where g.tenant_id = x.tenant_id and g.assignment_id = x.id
                              and r.connector is not null and g.state not in ('revoked', 'revoking')) as connector,
                    coalesce(jsonb_array_length(p.settings -> 'customExtensions'), 0) > 0 as extensions,
                    exists (select 1 from assignment_requests r
                            where r.tenant_id = x.tenant_id and r.assignment_id = x.id
                              and r.request_type in ('userUpdate', 'adminUpdate')
                              and r.state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled')) as open_extension,
                    ap.display_name || ' for ' || (u.display_name || ' <' || u.email || '>') as name,
                    x.ms
             from numbered x
             left join policies p on p.tenant_id = x.tenant_id and p.id = x.policy_id
             left join access_packages ap on ap.tenant_id = x.tenant_id and ap.id = x.package_id
             left join users u on u.tenant_id = x.tenant_id and u.id = x.target_user_id),
         members as (
             delete from group_memberships m using x
             where m.tenant_id = x.tenant_id and m.assignment_id = x.id and not x.connector),
         owners as (
             delete from group_owners m using x
             where m.tenant_id = x.tenant_id and m.assignment_id = x.id and not x.connector),
         grants as (
             update assignment_grants g set state = 'revoked', updated_at = $1 from x
             where g.tenant_id = x.tenant_id and g.assignment_id = x.id and not x.connector
               and g.state not in ('revoked', 'revoking')),
         requests as (
             insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id,
                 target_user_id, assignment_id, justification, answers, schedule_start, schedule_end, created_at,
                 updated_at, completed_at)
             select x.tenant_id, x.request_id, $3::text, $4::text, x.package_id, x.policy_id, null, x.target_user_id, x.id, null,
                    '[]', null, null, $1, $1, $1
             from x),
         audit as (
             insert into audit_events (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type,
                 target_id, details, correlation_id, actor_name, target_name)
             select x.tenant_id, v.id, $1, $5::text, null, null, v.action, v.target_type, v.target_id, v.details, null, null, x.name
             from x, lateral (values
                 ({created_id}, $6::text, $7::text, x.request_id,
                  jsonb_build_object('requestType', $3::text, 'assignmentId', x.id, 'state', $4::text)),
                 ({ended_id}, $8::text, $9::text, x.id,
                  jsonb_build_object('state', $12::text, 'removalReason', null, 'requestId', x.request_id))
             ) as v (id, action, target_type, target_id, details)),
         emails as (
             insert into outbox (tenant_id, id, kind, payload, next_attempt_at, created_at)
             select x.tenant_id, {outbox_id}, $10::text,
                    jsonb_build_object('to', x.target_user_id, 'notice', jsonb_set($11::jsonb, '{{assignmentId}}', to_jsonb(x.id))),
                    $1, $1
             from x)
         select tenant_id, id, request_id, connector, extensions, open_extension from x order by n"
    )))
    .bind(now)
    .bind(limit)
    .bind(RequestType::SystemRemove)
    .bind(RequestState::Delivered)
    .bind(ActorType::System)
    .bind(AuditAction::RequestCreated)
    .bind(TargetType::AssignmentRequest)
    .bind(AuditAction::AssignmentEnded)
    .bind(TargetType::Assignment)
    .bind(OutboxKind::Email)
    .bind(notice)
    .bind(AssignmentState::Expired)
    .fetch_all(conn)
    .await?)
}

/// The given assignments, in the order given (those that exist).
pub async fn get_many(
    conn: &mut Conn,
    keys: &[(TenantId, AssignmentId)],
) -> DbResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {cols} from unnest($1::uuid[], $2::uuid[]) with ordinality as x(t, i, n)
         join assignments a on a.tenant_id = x.t and a.id = x.i order by x.n",
        cols = super::qualified(COLUMNS, "a")
    )))
    .bind(keys.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(keys.iter().map(|(_, a)| *a).collect::<Vec<_>>())
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
