//! The set-based writes of an instance's life: its items written a batch per statement
//! when it starts, its results applied a batch per transaction (the items not applied
//! yet, their assignments locked and ended together), and the audit events of a batch
//! of items with their targets named for the whole batch at once.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::super::assignments::AssignmentRow;
use super::super::audit::AuditEvent;
use super::super::{Conn, DbResult};
use super::{COLUMNS, ITEM_COLUMNS, ItemRow, ReviewRow};
use crate::domain::ids::{
    AccessReviewId, AssignmentId, PackageId, PolicyId, ReviewItemId, TenantId, UserId,
};
use crate::domain::review::AppliedResult;

/// What resolving the reviewers and the recommendation of one item needs: an active
/// assignment of the policy with its holder's activity, last sign-in and manager.
#[derive(Clone, Debug, FromRow)]
pub struct ItemFacts {
    pub assignment_id: AssignmentId,
    pub target_user_id: UserId,
    pub target_active: bool,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub manager_id: Option<UserId>,
    pub manager_active: bool,
}

/// The active assignments of a policy, oldest first, with the facts about their holders
/// that a starting instance needs (one statement, whatever their number).
pub async fn item_facts_of_policy(
    conn: &mut Conn,
    tenant: TenantId,
    policy: PolicyId,
) -> DbResult<Vec<ItemFacts>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select a.id as assignment_id, a.target_user_id, u.active as target_active, u.last_sign_in_at,
                u.manager_id, coalesce(m.active, false) as manager_active
         from assignments a
         join users u on u.tenant_id = a.tenant_id and u.id = a.target_user_id
         left join users m on m.tenant_id = u.tenant_id and m.id = u.manager_id
         where a.tenant_id = $1 and a.policy_id = $2 and a.state in {} order by a.id",
        super::super::assignments::ACTIVE
    )))
    .bind(tenant)
    .bind(policy)
    .fetch_all(conn)
    .await?)
}

/// Inserts new items in one statement (their reviewer lists travel as array literals,
/// since a list of lists of different lengths cannot be one array).
pub async fn insert_items(conn: &mut Conn, items: &[ItemRow]) -> DbResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let reviewers: Vec<String> = items
        .iter()
        .map(|i| {
            let ids: Vec<String> = i.reviewer_ids.iter().map(Uuid::to_string).collect();
            format!("{{{}}}", ids.join(","))
        })
        .collect();
    sqlx::query(
        "insert into access_review_items (tenant_id, id, review_id, assignment_id, target_user_id, reviewer_ids, recommendation,
             decision, justification, decided_by, decided_at, applied_result)
         select t, i, r, a, u, rv::uuid[], rc, d, null, null, null, null
         from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[])
              as x(t, i, r, a, u, rv, rc, d)",
    )
    .bind(items.iter().map(|i| i.tenant_id).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.id).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.review_id).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.assignment_id).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.target_user_id).collect::<Vec<_>>())
    .bind(&reviewers)
    .bind(items.iter().map(|i| i.recommendation).collect::<Vec<_>>())
    .bind(items.iter().map(|i| i.decision).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

const ASSIGNMENT_COLUMNS: &str =
    "tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at, request_id,
    removal_reason, created_at, updated_at, ended_at";

/// The next `limit` items of an instance whose result is not applied yet, oldest first,
/// locked (applying the results a batch at a time).
pub async fn lock_unapplied_items(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
    limit: i64,
) -> DbResult<Vec<ItemRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ITEM_COLUMNS} from access_review_items
         where tenant_id = $1 and review_id = $2 and applied_result is null order by id limit $3 for update"
    )))
    .bind(tenant)
    .bind(review)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The assignments of a batch of items, locked in key order.
pub async fn lock_assignments(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[AssignmentId],
) -> DbResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ASSIGNMENT_COLUMNS} from assignments where tenant_id = $1 and id = any($2) order by id for update"
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Ends the given active assignments with reason `review`, in one statement; the rows
/// as they are now.
pub async fn remove_assignments(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[AssignmentId],
    now: DateTime<Utc>,
) -> DbResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update assignments set state = 'removed', removal_reason = 'review', ended_at = $3, updated_at = $3
         where tenant_id = $1 and id = any($2) and state in {}
         returning {ASSIGNMENT_COLUMNS}",
        super::super::assignments::ACTIVE
    )))
    .bind(tenant)
    .bind(ids)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// Writes the applied result of each of a batch of items, in one statement.
pub async fn set_applied_results(
    conn: &mut Conn,
    tenant: TenantId,
    results: &[(ReviewItemId, AppliedResult)],
) -> DbResult<()> {
    sqlx::query(
        "update access_review_items i set applied_result = x.r
         from unnest($2::uuid[], $3::text[]) as x(id, r)
         where i.tenant_id = $1 and i.id = x.id",
    )
    .bind(tenant)
    .bind(results.iter().map(|(i, _)| *i).collect::<Vec<_>>())
    .bind(results.iter().map(|(_, r)| *r).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// How many items of an instance were kept, removed and found already ended.
pub async fn applied_counts(
    conn: &mut Conn,
    tenant: TenantId,
    review: AccessReviewId,
) -> DbResult<(i64, i64, i64)> {
    Ok(sqlx::query_as(
        "select count(*) filter (where applied_result = 'kept'), count(*) filter (where applied_result = 'removed'),
                count(*) filter (where applied_result = 'alreadyEnded')
         from access_review_items where tenant_id = $1 and review_id = $2",
    )
    .bind(tenant)
    .bind(review)
    .fetch_one(conn)
    .await?)
}

/// Ids of completed instances that apply automatically but are not applied yet (their
/// application was cut short, e.g. by a crash).
pub async fn due_to_finish_applying(
    conn: &mut Conn,
    limit: i64,
) -> DbResult<Vec<(TenantId, AccessReviewId)>> {
    Ok(sqlx::query_as(
        "select tenant_id, id from access_reviews where state = 'completed' and auto_apply
         order by completed_at limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Locks a completed instance to apply a batch of its results; `None` when it is not
/// completed (any more), or, with `skip_locked`, when another process holds it.
pub async fn lock_completed(
    conn: &mut Conn,
    tenant: TenantId,
    id: AccessReviewId,
    skip_locked: bool,
) -> DbResult<Option<ReviewRow>> {
    let wait = if skip_locked { "skip locked" } else { "" };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from access_reviews where tenant_id = $1 and id = $2 and state = 'completed'
         for update {wait}"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Writes audit events about the items of one instance in one statement. Each target
/// (an item, its assignment or its removal request) is named as the log names it,
/// "<package> for <holder>", computed here for the whole batch rather than looked up
/// event by event; `subjects` holds each event's holder.
pub async fn insert_item_events(
    conn: &mut Conn,
    package: PackageId,
    events: &[AuditEvent],
    subjects: &[UserId],
) -> DbResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&AuditEvent) -> Option<Uuid>| events.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "insert into audit_events (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id,
             details, correlation_id, actor_name, target_name)
         select v.tenant_id, v.id, v.at, v.actor_type, v.actor_id, v.actor_token_id, v.action, v.target_type, v.target_id,
                v.details, v.correlation_id, audit_person_name(v.tenant_id, v.actor_id),
                p.display_name || ' for ' || audit_person_name(v.tenant_id, v.subject)
         from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                     $9::uuid[], $10::jsonb[], $11::uuid[], $12::uuid[])
              as v (tenant_id, id, at, actor_type, actor_id, actor_token_id, action, target_type, target_id, details,
                    correlation_id, subject)
         left join access_packages p on p.tenant_id = v.tenant_id and p.id = $13",
    )
    .bind(events.iter().map(|e| e.tenant_id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.at).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.actor_type).collect::<Vec<_>>())
    .bind(col(|e| e.actor_id))
    .bind(col(|e| e.actor_token_id))
    .bind(events.iter().map(|e| e.action).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.target_type).collect::<Vec<_>>())
    .bind(col(|e| e.target_id))
    .bind(events.iter().map(|e| e.details.clone()).collect::<Vec<_>>())
    .bind(col(|e| e.correlation_id))
    .bind(subjects)
    .bind(package)
    .execute(conn)
    .await?;
    Ok(())
}
