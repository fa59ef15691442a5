//! What the reports read: every assignment matching a filter, read through a cursor a
//! chunk at a time (so a report of a million rows holds one chunk in memory), and
//! everything one person can access with where it comes from.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Conn, DbResult};
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::ids::{AssignmentId, CatalogId, PackageId, RequestId, TenantId, UserId};
use crate::domain::request::RequestType;

/// Which assignments a report holds; `catalogs` limits it to the catalogs the caller
/// manages (`None`: every catalog).
#[derive(Clone, Debug, Default)]
pub struct AssignmentFilter {
    pub catalog: Option<CatalogId>,
    pub package: Option<PackageId>,
    pub user: Option<UserId>,
    pub state: Option<AssignmentState>,
    pub ending_before: Option<DateTime<Utc>>,
    pub catalogs: Option<Vec<CatalogId>>,
}

/// One assignment with the names and the request that explain it.
#[derive(Clone, Debug, FromRow)]
pub struct AssignmentRow {
    pub id: AssignmentId,
    pub catalog: String,
    pub package: String,
    pub user_email: String,
    pub user_name: String,
    pub state: AssignmentState,
    pub start_at: DateTime<Utc>,
    pub end_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub request_id: RequestId,
    pub request_type: Option<RequestType>,
    pub requested_by: Option<String>,
    pub approved_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub removal_reason: Option<RemovalReason>,
    pub ended_at: Option<DateTime<Utc>>,
}

const CURSOR: &str = "portico_report";

/// The assignment columns and the names, approvers and request that explain each.
const ASSIGNMENT_SELECT: &str = "
    select a.id, c.display_name as catalog, p.display_name as package,
           u.email as user_email, u.display_name as user_name, a.state, a.start_at, a.end_at,
           a.created_at, a.request_id, r.request_type, ru.email as requested_by,
           (select string_agg(du.email, '; ' order by d.decided_at)
            from stage_decisions d
            join users du on du.tenant_id = d.tenant_id and du.id = d.approver_id
            where d.tenant_id = a.tenant_id and d.request_id = a.request_id
              and d.decision = 'approve') as approved_by,
           (select max(d.decided_at) from stage_decisions d
            where d.tenant_id = a.tenant_id and d.request_id = a.request_id) as decided_at,
           a.removal_reason, a.ended_at
    from assignments a
    join access_packages p on p.tenant_id = a.tenant_id and p.id = a.package_id
    join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
    join users u on u.tenant_id = a.tenant_id and u.id = a.target_user_id
    left join assignment_requests r on r.tenant_id = a.tenant_id and r.id = a.request_id
    left join users ru on ru.tenant_id = r.tenant_id and ru.id = r.requestor_id";

/// Opens the cursor of the assignments matching `filter`, in id order (creation
/// order); read it with [`next_assignments`] in the same transaction.
pub async fn open_assignments(
    conn: &mut Conn,
    tenant: TenantId,
    f: &AssignmentFilter,
) -> DbResult<()> {
    let catalogs: Option<Vec<uuid::Uuid>> =
        f.catalogs.as_ref().map(|c| c.iter().map(|c| c.0).collect());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "declare {CURSOR} no scroll cursor for {ASSIGNMENT_SELECT}
         where a.tenant_id = $1
           and ($2::uuid is null or p.catalog_id = $2)
           and ($3::uuid is null or a.package_id = $3)
           and ($4::uuid is null or a.target_user_id = $4)
           and ($5::text is null or a.state = $5)
           and ($6::timestamptz is null or a.end_at < $6)
           and ($7::uuid[] is null or p.catalog_id = any($7))
         order by a.tenant_id, a.id"
    )))
    .bind(tenant)
    .bind(f.catalog)
    .bind(f.package)
    .bind(f.user)
    .bind(f.state.map(AssignmentState::as_str))
    .bind(f.ending_before)
    .bind(catalogs)
    .execute(conn)
    .await?;
    Ok(())
}

/// The next `n` rows of the cursor [`open_assignments`] opened (empty at its end).
pub async fn next_assignments(conn: &mut Conn, n: u32) -> DbResult<Vec<AssignmentRow>> {
    Ok(
        sqlx::query_as(sqlx::AssertSqlSafe(format!("fetch {n} from {CURSOR}")))
            .fetch_all(conn)
            .await?,
    )
}

/// One thing a person can access, and why.
#[derive(Clone, Debug, FromRow)]
pub struct AccessRow {
    /// `assignment`, `groupMembership` or `role`.
    pub kind: String,
    /// The package, group or role (with its catalog).
    pub name: String,
    /// Where it comes from: the request, `direct`, `directory`, the assignment's
    /// package, or the group the role is held through.
    pub via: String,
    pub state: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub request_id: Option<RequestId>,
    pub requested_by: Option<String>,
    pub approved_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// Everything `user` can access now: assignments not ended, group memberships with
/// each source, and roles held directly or through a group.
pub async fn person_access(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
) -> DbResult<Vec<AccessRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with held as ({ASSIGNMENT_SELECT}
             where a.tenant_id = $1 and a.target_user_id = $2
               and a.state not in ('expired', 'removed'))
         select 'assignment' as kind, catalog || ' / ' || package as name,
                coalesce(request_type, 'request') || ' ' || request_id::text as via,
                state, start_at as since, end_at as until, request_id, requested_by,
                approved_by, decided_at, 0 as ord
         from held
         union all
         select 'groupMembership', g.display_name,
                case when m.assignment_id is not null
                     then 'assignment ' || m.assignment_id::text || coalesce(' (' || p.display_name || ')', '')
                     when m.from_directory then 'directory'
                     else 'direct' end,
                null, m.created_at, a.end_at, a.request_id, null, null, null, 1
         from group_memberships m
         join groups g on g.tenant_id = m.tenant_id and g.id = m.group_id
         left join assignments a on a.tenant_id = m.tenant_id and a.id = m.assignment_id
         left join access_packages p on p.tenant_id = a.tenant_id and p.id = a.package_id
         where m.tenant_id = $1 and m.user_id = $2
         union all
         select 'role', ra.role || coalesce(' / ' || c.display_name, ''),
                case when ra.group_id is null then 'direct' else 'group ' || g.display_name end,
                null, ra.created_at, null, null, null, null, null, 2
         from role_assignments ra
         left join catalogs c on c.tenant_id = ra.tenant_id and c.id = ra.catalog_id
         left join groups g on g.tenant_id = ra.tenant_id and g.id = ra.group_id
         where ra.tenant_id = $1
           and (ra.user_id = $2 or ra.group_id in (
                select group_id from group_memberships where tenant_id = $1 and user_id = $2))
         order by ord, name, since"
    )))
    .bind(tenant)
    .bind(user)
    .fetch_all(conn)
    .await?)
}
