//! The writes of a delivery in one statement each: a new assignment with its request,
//! group memberships and ownerships and grants (`insert_delivered`), or the roles
//! delivered to an existing assignment (`write_grants`). The statements are chains of
//! data-modifying CTEs; the keys between their rows are checked when the statement
//! (or, for the deferred ones, the transaction) ends, so the order of the parts does
//! not matter.

use super::assignments::{AssignmentRow, GrantRow};
use super::requests::RequestRow;
use super::{Conn, DbResult};
use crate::domain::ids::GroupId;

/// The rows delivering roles to one assignment writes.
#[derive(Clone, Debug, Default)]
pub struct GrantRows {
    /// Groups the user joins as a member, with the assignment as the source.
    pub members: Vec<GroupId>,
    /// Groups the user joins as an owner.
    pub owners: Vec<GroupId>,
    /// One grant per role, inserted or replacing the role's earlier grant.
    pub grants: Vec<GrantRow>,
}

/// The CTEs writing `GrantRows` for assignment `$2` of user `$3` in tenant `$1` at `$4`,
/// with the members, owners and grant columns as parameters from `$first` on.
fn grant_ctes(first: usize) -> String {
    let p = |i: usize| format!("${}", first + i);
    format!(
        "members as (
             insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at)
             select $1, g, $3, $2, $4 from unnest({m}::uuid[]) as g
             on conflict do nothing),
         owners as (
             insert into group_owners (tenant_id, group_id, user_id, assignment_id, created_at)
             select $1, g, $3, $2, $4 from unnest({o}::uuid[]) as g
             on conflict do nothing),
         grants as (
             insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, error, updated_at)
             select $1, $2, r, s, e, $4 from unnest({r}::uuid[], {s}::text[], {e}::text[]) as x(r, s, e)
             on conflict (tenant_id, assignment_id, resource_role_id)
             do update set state = excluded.state, error = excluded.error, updated_at = excluded.updated_at)",
        m = p(0),
        o = p(1),
        r = p(2),
        s = p(3),
        e = p(4),
    )
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_grants<'q>(q: Query<'q>, rows: &GrantRows) -> Query<'q> {
    q.bind(rows.members.clone())
        .bind(rows.owners.clone())
        .bind(
            rows.grants
                .iter()
                .map(|g| g.resource_role_id)
                .collect::<Vec<_>>(),
        )
        .bind(rows.grants.iter().map(|g| g.state).collect::<Vec<_>>())
        .bind(
            rows.grants
                .iter()
                .map(|g| g.error.clone())
                .collect::<Vec<_>>(),
        )
}

/// Writes the roles delivered to an existing assignment.
pub async fn write_grants(conn: &mut Conn, a: &AssignmentRow, rows: &GrantRows) -> DbResult<()> {
    let now = rows.grants.first().map_or(a.updated_at, |g| g.updated_at);
    let q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "with {} select 1",
        grant_ctes(5)
    )))
    .bind(a.tenant_id)
    .bind(a.id)
    .bind(a.target_user_id)
    .bind(now);
    bind_grants(q, rows).execute(conn).await?;
    Ok(())
}

/// Writes a delivered request (inserted, or its earlier row brought to this state), its
/// new assignment and the assignment's roles, in one statement.
pub async fn insert_delivered(
    conn: &mut Conn,
    r: &RequestRow,
    a: &AssignmentRow,
    rows: &GrantRows,
) -> DbResult<()> {
    let q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "with request as (
             insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id,
                 target_user_id, assignment_id, justification, answers, schedule_start, schedule_end, created_at,
                 updated_at, completed_at, end_follows_start)
             values ($1, $10, $11, $12, $13, $14, $15, $3, $2, $16, $17, $18, $19, $20, $21, $22, $23)
             on conflict (tenant_id, id) do update set state = excluded.state, assignment_id = excluded.assignment_id,
                 schedule_start = excluded.schedule_start, schedule_end = excluded.schedule_end,
                 end_follows_start = excluded.end_follows_start,
                 updated_at = excluded.updated_at, completed_at = excluded.completed_at),
         assignment as (
             insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at,
                 request_id, removal_reason, created_at, updated_at, ended_at)
             values ($1, $2, $24, $25, $3, $26, $27, $28, $10, $29, $30, $31, $32)),
         {}
         select 1",
        grant_ctes(5)
    )))
    .bind(a.tenant_id)
    .bind(a.id)
    .bind(a.target_user_id)
    .bind(a.created_at);
    bind_grants(q, rows)
        .bind(r.id)
        .bind(r.request_type)
        .bind(r.state)
        .bind(r.package_id)
        .bind(r.policy_id)
        .bind(r.requestor_id)
        .bind(&r.justification)
        .bind(&r.answers)
        .bind(r.schedule_start)
        .bind(r.schedule_end)
        .bind(r.created_at)
        .bind(r.updated_at)
        .bind(r.completed_at)
        .bind(r.end_follows_start)
        .bind(a.package_id)
        .bind(a.policy_id)
        .bind(a.state)
        .bind(a.start_at)
        .bind(a.end_at)
        .bind(a.removal_reason)
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(a.ended_at)
        .execute(conn)
        .await?;
    Ok(())
}
