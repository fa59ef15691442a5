//! What the reports read: the rows of a report, read through a cursor a chunk at a time
//! (so a report of a million rows holds one chunk in memory) with every cell as text in
//! the report's own spelling (times in RFC 3339 UTC), and everything one person can
//! access with where it comes from.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use super::audit::AuditFilter;
use super::{Conn, DbResult};
use crate::domain::assignment::AssignmentState;
use crate::domain::ids::{CatalogId, PackageId, RequestId, TenantId, UserId};

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

/// A report the cursor reads: each with its filter.
#[derive(Clone, Debug)]
pub enum Source {
    /// Every assignment matching the filter, with who asked and who approved.
    Assignments(AssignmentFilter),
    /// People who hold two things a package says are incompatible, now.
    Conflicts { catalogs: Option<Vec<CatalogId>> },
    /// Every decision of every access review (of one package, or all).
    Reviews {
        package: Option<PackageId>,
        catalogs: Option<Vec<CatalogId>>,
    },
    /// The tenant's audit log matching the filter, oldest first, with the names of
    /// actors and targets.
    Audit(AuditFilter),
}

/// One row of a report, each cell as text (`None`: empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextRow(pub Vec<Option<String>>);

impl FromRow<'_, PgRow> for TextRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        (0..row.len())
            .map(|i| row.try_get::<Option<String>, _>(i))
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

const CURSOR: &str = "portico_report";

/// A time column as RFC 3339 UTC text.
fn ts(column: &str) -> String {
    format!("to_char({column} at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
}

/// The columns of the assignments report (in its order) over `assignments a`.
fn assignment_select() -> String {
    format!(
        "select a.id::text, c.display_name, p.display_name, u.email, u.display_name, a.state,
                {start}, {end}, {created}, a.request_id::text, r.request_type, ru.email,
                (select string_agg(du.email, '; ' order by d.decided_at)
                 from stage_decisions d
                 join users du on du.tenant_id = d.tenant_id and du.id = d.approver_id
                 where d.tenant_id = a.tenant_id and d.request_id = a.request_id
                   and d.decision = 'approve'),
                (select {decided} from stage_decisions d
                 where d.tenant_id = a.tenant_id and d.request_id = a.request_id),
                a.removal_reason, {ended}
         from assignments a
         join access_packages p on p.tenant_id = a.tenant_id and p.id = a.package_id
         join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
         join users u on u.tenant_id = a.tenant_id and u.id = a.target_user_id
         left join assignment_requests r on r.tenant_id = a.tenant_id and r.id = a.request_id
         left join users ru on ru.tenant_id = r.tenant_id and ru.id = r.requestor_id",
        start = ts("a.start_at"),
        end = ts("a.end_at"),
        created = ts("a.created_at"),
        decided = ts("max(d.decided_at)"),
        ended = ts("a.ended_at"),
    )
}

fn ids(catalogs: &Option<Vec<CatalogId>>) -> Option<Vec<uuid::Uuid>> {
    catalogs.as_ref().map(|c| c.iter().map(|c| c.0).collect())
}

/// Opens the cursor of `source` in `tenant`; read it with [`next_rows`] in the same
/// transaction. Rows come in a stable order (ids, which are time ordered).
pub async fn open(conn: &mut Conn, tenant: TenantId, source: &Source) -> DbResult<()> {
    match source {
        Source::Assignments(f) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "declare {CURSOR} no scroll cursor for {}
                 where a.tenant_id = $1
                   and ($2::uuid is null or p.catalog_id = $2)
                   and ($3::uuid is null or a.package_id = $3)
                   and ($4::uuid is null or a.target_user_id = $4)
                   and ($5::text is null or a.state = $5)
                   and ($6::timestamptz is null or a.end_at < $6)
                   and ($7::uuid[] is null or p.catalog_id = any($7))
                 order by a.tenant_id, a.id",
                assignment_select()
            )))
            .bind(tenant)
            .bind(f.catalog)
            .bind(f.package)
            .bind(f.user)
            .bind(f.state.map(AssignmentState::as_str))
            .bind(f.ending_before)
            .bind(ids(&f.catalogs))
            .execute(conn)
            .await?;
        }
        Source::Conflicts { catalogs } => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "declare {CURSOR} no scroll cursor for
                 with active as (
                     select a.* from assignments a
                     where a.tenant_id = $1
                       and a.state in ('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed'))
                 select u.email, u.display_name, c.display_name, p.display_name,
                        'accessPackage', op.display_name, a.id::text, {since}, o.id::text
                 from active a
                 join incompatible_packages ip on ip.tenant_id = a.tenant_id and ip.package_id = a.package_id
                 join active o on o.target_user_id = a.target_user_id and o.package_id = ip.other_package_id
                 join access_packages p on p.tenant_id = a.tenant_id and p.id = a.package_id
                 join access_packages op on op.tenant_id = o.tenant_id and op.id = o.package_id
                 join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
                 join users u on u.tenant_id = a.tenant_id and u.id = a.target_user_id
                 where ($2::uuid[] is null or p.catalog_id = any($2))
                 union all
                 select u.email, u.display_name, c.display_name, p.display_name,
                        'group', g.display_name, a.id::text, {since}, null
                 from active a
                 join incompatible_groups ig on ig.tenant_id = a.tenant_id and ig.package_id = a.package_id
                 join groups g on g.tenant_id = ig.tenant_id and g.id = ig.group_id
                 join access_packages p on p.tenant_id = a.tenant_id and p.id = a.package_id
                 join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
                 join users u on u.tenant_id = a.tenant_id and u.id = a.target_user_id
                 where ($2::uuid[] is null or p.catalog_id = any($2))
                   and exists (select 1 from group_memberships m
                               where m.tenant_id = a.tenant_id and m.group_id = ig.group_id
                                 and m.user_id = a.target_user_id)
                 order by 1, 4, 6",
                since = ts("a.start_at"),
            )))
            .bind(tenant)
            .bind(ids(catalogs))
            .execute(conn)
            .await?;
        }
        Source::Reviews { package, catalogs } => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "declare {CURSOR} no scroll cursor for
                 select rv.id::text, c.display_name, p.display_name, {start}, {end}, rv.state,
                        u.email, u.display_name,
                        (select string_agg(ru.email, '; ' order by ru.email) from users ru
                         where ru.tenant_id = i.tenant_id and ru.id = any(i.reviewer_ids)),
                        i.recommendation, i.decision, i.justification, du.email, {decided},
                        i.applied_result, i.assignment_id::text
                 from access_reviews rv
                 join access_review_items i on i.tenant_id = rv.tenant_id and i.review_id = rv.id
                 join access_packages p on p.tenant_id = rv.tenant_id and p.id = rv.package_id
                 join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
                 join users u on u.tenant_id = i.tenant_id and u.id = i.target_user_id
                 left join users du on du.tenant_id = i.tenant_id and du.id = i.decided_by
                 where rv.tenant_id = $1
                   and ($2::uuid is null or rv.package_id = $2)
                   and ($3::uuid[] is null or p.catalog_id = any($3))
                 order by rv.start_at, rv.id, i.id",
                start = ts("rv.start_at"),
                end = ts("rv.end_at"),
                decided = ts("i.decided_at"),
            )))
            .bind(tenant)
            .bind(package)
            .bind(ids(catalogs))
            .execute(conn)
            .await?;
        }
        Source::Audit(filter) => {
            let mut q = sqlx::QueryBuilder::new(format!(
                "declare {CURSOR} no scroll cursor for
                 select e.id::text, {at}, e.actor_type,
                        coalesce(e.actor_name, audit_person_name(e.tenant_id, e.actor_id)),
                        e.actor_id::text, e.actor_token_id::text, e.action, e.target_type,
                        e.target_id::text,
                        coalesce(e.target_name, audit_target_name(e.tenant_id, e.target_type, e.target_id)),
                        e.details::text, e.correlation_id::text
                 from audit_events e where e.tenant_id = ",
                at = ts("e.at"),
            ));
            q.push_bind(tenant);
            filter.push_conditions(&mut q);
            q.push(" order by e.id");
            q.build().execute(conn).await?;
        }
    }
    Ok(())
}

/// The next `n` rows of the cursor [`open`] opened (empty at its end).
pub async fn next_rows(conn: &mut Conn, n: u32) -> DbResult<Vec<TextRow>> {
    Ok(
        // Not a prepared statement kept on the connection: its columns would be those
        // of the first report fetched on it, and the next report, of other columns,
        // would be read through them (cut short, or refused as of the wrong type).
        sqlx::query_as(sqlx::AssertSqlSafe(format!("fetch {n} from {CURSOR}")))
            .persistent(false)
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
    Ok(sqlx::query_as(
        "select 'assignment' as kind, c.display_name || ' / ' || p.display_name as name,
                coalesce(r.request_type, 'request') || ' ' || a.request_id::text as via,
                a.state, a.start_at as since, a.end_at as until, a.request_id,
                ru.email as requested_by,
                (select string_agg(du.email, '; ' order by d.decided_at)
                 from stage_decisions d
                 join users du on du.tenant_id = d.tenant_id and du.id = d.approver_id
                 where d.tenant_id = a.tenant_id and d.request_id = a.request_id
                   and d.decision = 'approve') as approved_by,
                (select max(d.decided_at) from stage_decisions d
                 where d.tenant_id = a.tenant_id and d.request_id = a.request_id) as decided_at,
                0 as ord
         from assignments a
         join access_packages p on p.tenant_id = a.tenant_id and p.id = a.package_id
         join catalogs c on c.tenant_id = p.tenant_id and c.id = p.catalog_id
         left join assignment_requests r on r.tenant_id = a.tenant_id and r.id = a.request_id
         left join users ru on ru.tenant_id = r.tenant_id and ru.id = r.requestor_id
         where a.tenant_id = $1 and a.target_user_id = $2
           and a.state not in ('expired', 'removed')
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
         order by ord, name, since",
    )
    .bind(tenant)
    .bind(user)
    .fetch_all(conn)
    .await?)
}
