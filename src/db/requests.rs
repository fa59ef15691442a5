//! Assignment requests, their approval stages and the decisions on each stage.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::users::User;
use super::{Conn, DbResult, Page, PageRequest};
use crate::domain::ids::{AssignmentId, CatalogId, PackageId, RequestId, TenantId, UserId};
use crate::domain::request::{Decision, RequestState};
pub use crate::model::requests::{DecisionRow, RequestRow, StageRow};

const COLUMNS: &str = "tenant_id, id, request_type, state, package_id, policy_id, requestor_id, target_user_id, assignment_id, justification, answers, schedule_start, schedule_end, end_follows_start, created_at, updated_at, completed_at";

/// Writes a request that may not be in the database yet (the engine writes a request
/// decided in its submitting transaction once, in its final state).
pub async fn save(conn: &mut Conn, r: &RequestRow) -> DbResult<()> {
    sqlx::query(
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id, target_user_id,
             assignment_id, justification, answers, schedule_start, schedule_end, created_at, updated_at, completed_at,
             end_follows_start)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         on conflict (tenant_id, id) do update set state = excluded.state, assignment_id = excluded.assignment_id,
             schedule_start = excluded.schedule_start, schedule_end = excluded.schedule_end,
             end_follows_start = excluded.end_follows_start,
             updated_at = excluded.updated_at, completed_at = excluded.completed_at",
    )
    .bind(r.tenant_id)
    .bind(r.id)
    .bind(r.request_type)
    .bind(r.state)
    .bind(r.package_id)
    .bind(r.policy_id)
    .bind(r.requestor_id)
    .bind(r.target_user_id)
    .bind(r.assignment_id)
    .bind(&r.justification)
    .bind(&r.answers)
    .bind(r.schedule_start)
    .bind(r.schedule_end)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.completed_at)
    .bind(r.end_follows_start)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the mutable part of a request: state, assignment, schedule, completion.
pub async fn update(conn: &mut Conn, r: &RequestRow) -> DbResult<()> {
    sqlx::query(
        "update assignment_requests set state = $3, assignment_id = $4, schedule_start = $5, schedule_end = $6,
             updated_at = $7, completed_at = $8, end_follows_start = $9
         where tenant_id = $1 and id = $2",
    )
    .bind(r.tenant_id)
    .bind(r.id)
    .bind(r.state)
    .bind(r.assignment_id)
    .bind(r.schedule_start)
    .bind(r.schedule_end)
    .bind(r.updated_at)
    .bind(r.completed_at)
    .bind(r.end_follows_start)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, tenant: TenantId, id: RequestId) -> DbResult<Option<RequestRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignment_requests where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Locks the request for a decision or cancellation: concurrent deciders queue here.
pub async fn lock(
    conn: &mut Conn,
    tenant: TenantId,
    id: RequestId,
) -> DbResult<Option<RequestRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignment_requests where tenant_id = $1 and id = $2 for update"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn get_many(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[RequestId],
) -> DbResult<Vec<RequestRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignment_requests where tenant_id = $1 and id = any($2) order by id desc"
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Filters of a request list; every filter narrows.
#[derive(Clone, Debug, Default)]
pub struct RequestFilter<'a> {
    /// Requestor or target is this user.
    pub involving: Option<UserId>,
    pub package: Option<PackageId>,
    pub target: Option<UserId>,
    pub state: Option<RequestState>,
    /// Only packages of these catalogs.
    pub catalogs: Option<&'a [CatalogId]>,
}

pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    f: &RequestFilter<'_>,
    page: PageRequest,
) -> DbResult<Page<RequestRow>> {
    let rows: Vec<RequestRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignment_requests r
         where tenant_id = $1 and id < $2
           and ($3::uuid is null or requestor_id = $3 or target_user_id = $3)
           and ($4::uuid is null or package_id = $4)
           and ($5::uuid is null or target_user_id = $5)
           and ($6::text is null or state = $6)
           and ($7::uuid[] is null or package_id in (
               select id from access_packages p where p.tenant_id = $1 and p.catalog_id = any($7)))
         order by id desc limit $8"
    )))
    .bind(tenant)
    .bind(page.before_bound())
    .bind(f.involving)
    .bind(f.package)
    .bind(f.target)
    .bind(f.state)
    .bind(f.catalogs)
    .bind(page.fetch_limit())
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |r| r.id.0))
}

/// Open requests made by or for a user (deactivation cancels them).
pub async fn open_of_user(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
) -> DbResult<Vec<RequestId>> {
    Ok(sqlx::query_scalar(
        "select id from assignment_requests where tenant_id = $1 and (target_user_id = $2 or requestor_id = $2)
             and state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled') order by id",
    )
    .bind(tenant)
    .bind(user)
    .fetch_all(conn)
    .await?)
}

/// Open extension requests of these assignments (each named with its tenant), locked.
pub async fn lock_open_extensions(
    conn: &mut Conn,
    assignments: &[(TenantId, AssignmentId)],
) -> DbResult<Vec<RequestRow>> {
    if assignments.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignment_requests
         where (tenant_id, assignment_id) in (select * from unnest($1::uuid[], $2::uuid[]))
           and request_type in ('userUpdate', 'adminUpdate')
           and state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled')
         order by id for update"
    )))
    .bind(assignments.iter().map(|(t, _)| *t).collect::<Vec<_>>())
    .bind(assignments.iter().map(|(_, a)| *a).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?)
}

/// Scheduled requests whose start has come, oldest first, claimed for this transaction.
pub async fn claim_due_scheduled(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<RequestRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from assignment_requests where state = 'scheduled' and schedule_start <= $1
         order by schedule_start limit $2 for update skip locked"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

const STAGE_COLUMNS: &str = "tenant_id, request_id, stage_index, state, decision_rule, approver_ids, alternate_ids, require_justification, opened_at, due_at, escalate_at, escalated_at, completed_at";

pub async fn insert_stage(conn: &mut Conn, s: &StageRow) -> DbResult<()> {
    sqlx::query(
        "insert into request_stages (tenant_id, request_id, stage_index, state, decision_rule, approver_ids, require_justification,
             opened_at, due_at, escalate_at, escalated_at, completed_at, alternate_ids)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(s.tenant_id)
    .bind(s.request_id)
    .bind(s.stage_index)
    .bind(s.state)
    .bind(s.decision_rule)
    .bind(&s.approver_ids)
    .bind(s.require_justification)
    .bind(s.opened_at)
    .bind(s.due_at)
    .bind(s.escalate_at)
    .bind(s.escalated_at)
    .bind(s.completed_at)
    .bind(&s.alternate_ids)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_stage(conn: &mut Conn, s: &StageRow) -> DbResult<()> {
    sqlx::query(
        "update request_stages set state = $4, approver_ids = $5, escalated_at = $6, completed_at = $7,
             alternate_ids = $8, decision_rule = $9
         where tenant_id = $1 and request_id = $2 and stage_index = $3",
    )
    .bind(s.tenant_id)
    .bind(s.request_id)
    .bind(s.stage_index)
    .bind(s.state)
    .bind(&s.approver_ids)
    .bind(s.escalated_at)
    .bind(s.completed_at)
    .bind(&s.alternate_ids)
    .bind(s.decision_rule)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn stages_of(
    conn: &mut Conn,
    tenant: TenantId,
    requests: &[RequestId],
) -> DbResult<Vec<StageRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {STAGE_COLUMNS} from request_stages where tenant_id = $1 and request_id = any($2)
         order by request_id, stage_index"
    )))
    .bind(tenant)
    .bind(requests)
    .fetch_all(conn)
    .await?)
}

pub async fn insert_decision(conn: &mut Conn, d: &DecisionRow) -> DbResult<()> {
    sqlx::query(
        "insert into stage_decisions (tenant_id, request_id, stage_index, approver_id, decision, justification, decided_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(d.tenant_id)
    .bind(d.request_id)
    .bind(d.stage_index)
    .bind(d.approver_id)
    .bind(d.decision)
    .bind(&d.justification)
    .bind(d.decided_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn decisions_of(
    conn: &mut Conn,
    tenant: TenantId,
    requests: &[RequestId],
) -> DbResult<Vec<DecisionRow>> {
    Ok(sqlx::query_as(
        "select tenant_id, request_id, stage_index, approver_id, decision, justification, decided_at
         from stage_decisions where tenant_id = $1 and request_id = any($2) order by decided_at, approver_id",
    )
    .bind(tenant)
    .bind(requests)
    .fetch_all(conn)
    .await?)
}

/// A stage joined with one of its decisions (none when it has none yet).
#[derive(FromRow)]
struct StageDecision {
    #[sqlx(flatten)]
    stage: StageRow,
    d_approver_id: Option<UserId>,
    d_decision: Option<Decision>,
    d_justification: Option<String>,
    d_decided_at: Option<DateTime<Utc>>,
}

/// `stages_of` and `decisions_of` in one statement.
pub async fn stages_and_decisions(
    conn: &mut Conn,
    tenant: TenantId,
    requests: &[RequestId],
) -> DbResult<(Vec<StageRow>, Vec<DecisionRow>)> {
    let rows: Vec<StageDecision> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {stage}, d.approver_id as d_approver_id, d.decision as d_decision,
                d.justification as d_justification, d.decided_at as d_decided_at
         from request_stages s
         left join stage_decisions d on d.tenant_id = s.tenant_id and d.request_id = s.request_id
                                     and d.stage_index = s.stage_index
         where s.tenant_id = $1 and s.request_id = any($2)
         order by s.request_id, s.stage_index, d.decided_at, d.approver_id",
        stage = super::qualified(STAGE_COLUMNS, "s")
    )))
    .bind(tenant)
    .bind(requests)
    .fetch_all(conn)
    .await?;
    let mut stages: Vec<StageRow> = Vec::new();
    let mut decisions = Vec::new();
    for row in rows {
        if let (Some(approver_id), Some(decision), Some(decided_at)) =
            (row.d_approver_id, row.d_decision, row.d_decided_at)
        {
            decisions.push(DecisionRow {
                tenant_id: row.stage.tenant_id,
                request_id: row.stage.request_id,
                stage_index: row.stage.stage_index,
                approver_id,
                decision,
                justification: row.d_justification,
                decided_at,
            });
        }
        let seen = stages.last().is_some_and(|s| {
            s.request_id == row.stage.request_id && s.stage_index == row.stage.stage_index
        });
        if !seen {
            stages.push(row.stage);
        }
    }
    Ok((stages, decisions))
}

/// (request, stage) pairs for an approver: pending ones they have not decided, or
/// ones they decided; newest request first.
pub async fn approvals_of(
    conn: &mut Conn,
    tenant: TenantId,
    approver: UserId,
    decided: bool,
    page: PageRequest,
) -> DbResult<Page<(RequestId, i32)>> {
    let rows: Vec<(RequestId, i32)> = if decided {
        sqlx::query_as(
            "select request_id, stage_index from stage_decisions
             where tenant_id = $1 and approver_id = $2 and request_id < $3
             order by request_id desc, stage_index desc limit $4",
        )
        .bind(tenant)
        .bind(approver)
        .bind(page.before_bound())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?
    } else {
        sqlx::query_as(
            "select s.request_id, s.stage_index from request_stages s
             where s.tenant_id = $1 and s.state = 'pending' and s.approver_ids @> array[$2::uuid] and s.request_id < $3
               and not exists (select 1 from stage_decisions d where d.tenant_id = s.tenant_id and d.request_id = s.request_id
                                and d.stage_index = s.stage_index and d.approver_id = $2)
             order by s.request_id desc limit $4",
        )
        .bind(tenant)
        .bind(approver)
        .bind(page.before_bound())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?
    };
    Ok(Page::from_rows(rows, page, |(r, _)| r.0))
}

/// Whether the user is or was an approver of any stage of the request.
pub async fn is_approver(
    conn: &mut Conn,
    tenant: TenantId,
    request: RequestId,
    user: UserId,
) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from request_stages where tenant_id = $1 and request_id = $2 and approver_ids @> array[$3::uuid])",
    )
    .bind(tenant)
    .bind(request)
    .bind(user)
    .fetch_one(conn)
    .await?)
}

/// Pending stages where `user` is an approver (deactivation re-checks them).
pub async fn pending_stages_with_approver(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
) -> DbResult<Vec<StageRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {STAGE_COLUMNS} from request_stages where tenant_id = $1 and state = 'pending' and approver_ids @> array[$2::uuid]"
    )))
    .bind(tenant)
    .bind(user)
    .fetch_all(conn)
    .await?)
}

/// What a stage job looks for.
#[derive(Clone, Copy, Debug)]
pub enum StageDue {
    /// Pending past its due time.
    Timeout,
    /// Pending past its escalation time, not escalated yet.
    Escalation,
    /// Pending past half its time, not reminded yet.
    Reminder,
}

/// Pending stages due for `what`, claimed (with their requests) for this transaction.
pub async fn claim_due_stages(
    conn: &mut Conn,
    what: StageDue,
    now: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<StageRow>> {
    let condition = match what {
        StageDue::Timeout => "s.due_at <= $1",
        StageDue::Escalation => "s.escalate_at <= $1 and s.escalated_at is null and s.due_at > $1",
        StageDue::Reminder => {
            "s.opened_at + (s.due_at - s.opened_at) / 2 <= $1 and s.reminded_at is null and s.due_at > $1"
        }
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select s.tenant_id, s.request_id, s.stage_index, s.state, s.decision_rule, s.approver_ids, s.alternate_ids, s.require_justification,
                s.opened_at, s.due_at, s.escalate_at, s.escalated_at, s.completed_at
         from request_stages s
         join assignment_requests r on r.tenant_id = s.tenant_id and r.id = s.request_id
         where s.state = 'pending' and r.state = 'pendingApproval' and {condition}
         order by s.due_at limit $2
         for update of s, r skip locked"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn mark_reminded(conn: &mut Conn, s: &StageRow, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query("update request_stages set reminded_at = $4 where tenant_id = $1 and request_id = $2 and stage_index = $3")
        .bind(s.tenant_id)
        .bind(s.request_id)
        .bind(s.stage_index)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts many requests in one statement (batch jobs).
pub async fn insert_many(conn: &mut Conn, rows: &[RequestRow]) -> DbResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id, target_user_id,
             assignment_id, justification, answers, schedule_start, schedule_end, created_at, updated_at, completed_at)
         select t, i, ty, st, p, po, rq, tu, a, j, '[]', null, null, c, c, c
         from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::uuid[], $8::uuid[], $9::uuid[],
                     $10::text[], $11::timestamptz[]) as x(t, i, ty, st, p, po, rq, tu, a, j, c)",
    )
    .bind(rows.iter().map(|r| r.tenant_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.request_type).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.state).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.package_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.policy_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.requestor_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.target_user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.assignment_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.justification.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// What eligibility for an add request depends on, read in one statement: the user's
/// groups (any source), an active assignment or open add request of the package, and
/// the first access that separation of duties forbids next to it (in either direction).
#[derive(Clone, Debug, FromRow)]
pub struct AddFacts {
    pub group_ids: Vec<Uuid>,
    pub has_active: bool,
    pub has_open: bool,
    pub incompatible_package: Option<String>,
    pub incompatible_group: Option<String>,
}

/// The select-list of `AddFacts` for user `$3` and package `$2` of tenant `$1`.
fn add_facts_columns() -> String {
    format!(
        "array(select distinct m.group_id from group_memberships m where m.tenant_id = $1 and m.user_id = $3) as group_ids,
           exists (select 1 from assignments a where a.tenant_id = $1 and a.package_id = $2 and a.target_user_id = $3
                   and a.state in {active}) as has_active,
           exists (select 1 from assignment_requests r where r.tenant_id = $1 and r.package_id = $2 and r.target_user_id = $3
                   and r.state in ('submitted', 'pendingApproval', 'waitingForCallback', 'scheduled')
                   and r.request_type in ('userAdd', 'adminAdd', 'systemAdd')) as has_open,
           (select p.display_name from assignments a join access_packages p on p.tenant_id = a.tenant_id and p.id = a.package_id
            where a.tenant_id = $1 and a.target_user_id = $3 and a.state in {active}
              and a.package_id in (select other_package_id from incompatible_packages ip where ip.tenant_id = $1 and ip.package_id = $2
                                   union select ip.package_id from incompatible_packages ip where ip.tenant_id = $1 and ip.other_package_id = $2)
            order by p.display_name limit 1) as incompatible_package,
           (select g.display_name from incompatible_groups ig
              join groups g on g.tenant_id = ig.tenant_id and g.id = ig.group_id
            where ig.tenant_id = $1 and ig.package_id = $2
              and exists (select 1 from group_memberships m where m.tenant_id = $1 and m.group_id = ig.group_id and m.user_id = $3)
            order by g.display_name limit 1) as incompatible_group",
        active = crate::db::assignments::ACTIVE
    )
}

/// The target user, locked, with the facts of adding `package` to them.
#[derive(Clone, Debug, FromRow)]
pub struct LockedTarget {
    #[sqlx(flatten)]
    pub user: User,
    #[sqlx(flatten)]
    pub facts: AddFacts,
}

/// Everything adding `package` to a user rests on, read in one statement: the package
/// (share-locked, as `packages::get_to_request`), its catalog's switches, its policies
/// and resource roles, and the user, locked, with their `AddFacts`.
#[derive(Clone, Debug, FromRow)]
pub struct ToAdd {
    #[sqlx(flatten)]
    pub target: LockedTarget,
    pub package: sqlx::types::Json<crate::db::packages::AccessPackage>,
    pub catalog_enabled: bool,
    pub catalog_externally_visible: bool,
    pub policies: sqlx::types::Json<Vec<crate::db::packages::Policy>>,
    /// The package's resource roles with their resources, by role id.
    pub targets: sqlx::types::Json<Vec<PackageTarget>>,
}

/// One resource role of a package, with its resource.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct PackageTarget {
    pub role: crate::db::catalogs::ResourceRole,
    pub resource: crate::db::catalogs::Resource,
}

/// [`ToAdd`], or `None` when the package or the user does not exist.
pub async fn lock_to_add(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    user: UserId,
) -> DbResult<Option<ToAdd>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {user_columns}, {facts},
                to_jsonb(p) as package, c.enabled as catalog_enabled,
                c.externally_visible as catalog_externally_visible,
                coalesce((select jsonb_agg(to_jsonb(po) order by po.id) from policies po
                          where po.tenant_id = $1 and po.package_id = $2), '[]'::jsonb) as policies,
                coalesce((select jsonb_agg(jsonb_build_object('role', to_jsonb(rr), 'resource', to_jsonb(r)) order by rr.id)
                          from access_package_roles pr
                          join resource_roles rr on rr.tenant_id = pr.tenant_id and rr.id = pr.resource_role_id
                          join resources r on r.tenant_id = rr.tenant_id and r.id = rr.resource_id
                          where pr.tenant_id = $1 and pr.package_id = $2), '[]'::jsonb) as targets
         from users u
         join access_packages p on p.tenant_id = u.tenant_id and p.id = $2
         join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
         where u.tenant_id = $1 and u.id = $3
         for update of u for share of p",
        user_columns = super::qualified(crate::db::users::COLUMNS, "u"),
        facts = add_facts_columns()
    )))
    .bind(tenant)
    .bind(package)
    .bind(user)
    .fetch_optional(conn)
    .await?)
}
