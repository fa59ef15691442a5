//! An access review at scale, run by the server's scheduler as in production: a package
//! made for it whose policy holds N active assignments (one group role each) and a
//! review (reviewers: the manager; no fallback, so the block managers fall to the
//! tenant admins; `ifNoResponse: recommendation`, applied automatically).
//!
//! `review start`: the review's start date is two seconds ahead; time from then until
//! the instance is in progress with all N items (reviewers and recommendations
//! resolved). `review apply`: a quarter of the items are denied by their reviewer (set
//! in SQL, as many reviewers deciding would leave them), the end is moved two seconds
//! ahead; time from then until the instance is `applied`. Every denied item (and every
//! unanswered one recommended for denial: the user last signed in 60 days ago) must
//! then have its assignment removed (reason `review`) and its group membership gone.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use sqlx::{Connection, PgPool};
use uuid::Uuid;

use super::drain_emails;
use crate::report::Row;
use crate::seed::Data;

/// Users `i % 4`: 0 last signed in 60 days ago (deny recommended), 1 yesterday
/// (approve recommended), 2 and 3 never (no recommendation). Items of users with
/// `i % 4 == 2` are denied by their reviewer; the rest stay unanswered.
pub(super) async fn run(
    pool: &PgPool,
    data: &Data,
    assignments: i64,
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let t = data.tenant;
    let n = assignments.min(i64::try_from(data.user_ids.len())?);
    let mut conn = pool.acquire().await?;
    sqlx::query("set synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    let catalog: Uuid = sqlx::query_scalar(
        "select id from catalogs where tenant_id = $1 order by created_at limit 1",
    )
    .bind(t)
    .fetch_one(&mut *conn)
    .await?;
    let (package, policy, group, resource, role) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    // Far enough ahead that the scheduler leaves it alone until the start is set.
    let start = chrono::Utc::now() + chrono::Duration::days(300);
    let settings = json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "never"},
        "review": {"startDate": start, "recurrence": "annual", "durationDays": 14,
                   "reviewers": [{"type": "manager"}], "fallbackReviewers": [],
                   "ifNoResponse": "recommendation", "autoApply": true, "requireJustification": false}});
    let statements: [(&str, &str); 6] = [
        (
            "group",
            "insert into groups (tenant_id, id, display_name, description, created_at, updated_at)
             values ($1, $4, 'Reviewed group', '', now(), now())",
        ),
        (
            "resource",
            "insert into resources (tenant_id, id, catalog_id, kind, group_id, display_name, description,
                 added_by_tenant_admin, created_at, updated_at)
             values ($1, $5, $7, 'group', $4, 'Reviewed group', '', true, now(), now())",
        ),
        (
            "role",
            "insert into resource_roles (tenant_id, id, resource_id, display_name, group_relation, created_at)
             values ($1, $6, $5, 'Member', 'member', now())",
        ),
        (
            "package",
            "insert into access_packages (tenant_id, id, catalog_id, display_name, description, hidden, created_at, updated_at)
             values ($1, $2, $7, 'Reviewed access', 'The package of the review scenario.', false, now(), now())",
        ),
        (
            "package role",
            "insert into access_package_roles (tenant_id, package_id, resource_role_id, created_at)
             values ($1, $2, $6, now())",
        ),
        (
            "policy",
            "insert into policies (tenant_id, id, package_id, display_name, settings, created_at, updated_at)
             values ($1, $3, $2, 'Reviewed', $8, now(), now())",
        ),
    ];
    for (what, sql) in statements {
        sqlx::query(sql)
            .bind(t)
            .bind(package)
            .bind(policy)
            .bind(group)
            .bind(resource)
            .bind(role)
            .bind(catalog)
            .bind(&settings)
            .execute(&mut *conn)
            .await
            .context(what)?;
    }
    // N assignments of the first N users, each with its request, grant and membership.
    sqlx::query(
        "create temp table review_bench as
         select u.i, u.id as user_id, gen_random_uuid() as id, gen_random_uuid() as request_id
         from unnest($1::uuid[]) with ordinality as u(id, i) where u.i <= $2",
    )
    .bind(&data.user_ids)
    .bind(n)
    .execute(&mut *conn)
    .await?;
    let seed = [
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id,
             target_user_id, assignment_id, answers, schedule_start, created_at, updated_at, completed_at)
         select $1, request_id, 'adminAdd', 'delivered', $2, $3, null, user_id, id, '[]', now(), now(), now(), now()
         from review_bench",
        "insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at,
             request_id, created_at, updated_at)
         select $1, id, $2, $3, user_id, 'delivered', now(), null, request_id, now(), now() from review_bench",
        "insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, updated_at)
         select $1, id, $5, 'delivered', now() from review_bench",
        "insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at)
         select $1, $4, user_id, id, now() from review_bench",
        "update users set last_sign_in_at = case (b.i - 1) % 4 when 0 then now() - interval '60 days'
                                                  when 1 then now() - interval '1 day' end
         from review_bench b where users.tenant_id = $1 and users.id = b.user_id",
    ];
    // A request and its assignment point at each other: their keys are checked at commit.
    let mut tx = conn.begin().await?;
    for sql in seed {
        sqlx::query(sql)
            .bind(t)
            .bind(package)
            .bind(policy)
            .bind(group)
            .bind(role)
            .execute(&mut *tx)
            .await
            .with_context(|| sql.chars().take(60).collect::<String>())?;
    }
    tx.commit().await?;
    sqlx::query("analyze").execute(&mut *conn).await?;
    drain_emails(pool, Duration::from_secs(600)).await?;

    // Start: the scheduler starts the instance once its start date has come.
    let starts_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    sqlx::query(
        "update policies set settings = jsonb_set(settings, '{review,startDate}', to_jsonb($3::timestamptz))
         where tenant_id = $1 and id = $2",
    )
    .bind(t)
    .bind(policy)
    .bind(starts_at)
    .execute(&mut *conn)
    .await?;
    tokio::time::sleep(
        (starts_at - chrono::Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
    .await;
    let t0 = Instant::now();
    let review: Uuid = loop {
        let found: Option<(Uuid, i64)> = sqlx::query_as(
            "select r.id, (select count(*) from access_review_items i where i.tenant_id = r.tenant_id and i.review_id = r.id)
             from access_reviews r where r.tenant_id = $1 and r.policy_id = $2",
        )
        .bind(t)
        .bind(policy)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((id, items)) = found {
            if items != n {
                bail!("the review started with {items} items, not {n}");
            }
            break id;
        }
        if t0.elapsed() > Duration::from_secs(900) {
            bail!("the review did not start within 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = t0.elapsed();
    let (no_reviewer, no_recommendation): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where cardinality(reviewer_ids) = 0), count(*) filter (where recommendation is null)
         from access_review_items where tenant_id = $1 and review_id = $2",
    )
    .bind(t)
    .bind(review)
    .fetch_one(&mut *conn)
    .await?;
    if no_reviewer > 0 || no_recommendation != n - (n + 3) / 4 - (n + 2) / 4 {
        bail!(
            "{no_reviewer} items without reviewers, {no_recommendation} without a recommendation"
        );
    }
    println!("review start ({n} items): {:.2} s", took.as_secs_f64());
    report.push(Row::whole(
        format!("review start ({n} items)"),
        n as f64,
        took,
    ));

    // Decisions: the items of users i % 4 == 2 are denied by their (first) reviewer
    // (with statistics that know the items are there).
    sqlx::query("analyze access_review_items")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "update access_review_items i set decision = 'deny', decided_by = i.reviewer_ids[1], decided_at = now(),
             justification = 'No longer needed'
         from review_bench b
         where i.tenant_id = $1 and i.review_id = $2 and i.target_user_id = b.user_id and (b.i - 1) % 4 = 2",
    )
    .bind(t)
    .bind(review)
    .execute(&mut *conn)
    .await?;
    // Apply: the end comes two seconds from now; the scheduler closes and applies (once
    // the reviewers' emails of the start are sent).
    drain_emails(pool, Duration::from_secs(600)).await?;
    let ends_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    sqlx::query(
        "update access_reviews set end_at = $3, remind_at = $3 where tenant_id = $1 and id = $2",
    )
    .bind(t)
    .bind(review)
    .bind(ends_at)
    .execute(&mut *conn)
    .await?;
    tokio::time::sleep((ends_at - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    let t0 = Instant::now();
    loop {
        let state: String =
            sqlx::query_scalar("select state from access_reviews where tenant_id = $1 and id = $2")
                .bind(t)
                .bind(review)
                .fetch_one(&mut *conn)
                .await?;
        if state == "applied" {
            break;
        }
        if t0.elapsed() > Duration::from_secs(900) {
            bail!("the review was not applied within 15 minutes (state {state})");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    let expected = (n + 3) / 4 + (n + 1) / 4;
    let (removed, members, other): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from assignments where tenant_id = $1 and policy_id = $2 and state = 'removed'
                   and removal_reason = 'review'),
                (select count(*) from group_memberships where tenant_id = $1 and group_id = $3),
                (select count(*) from review_bench b join assignments a on a.tenant_id = $1 and a.id = b.id
                   where ((b.i - 1) % 4 in (0, 2)) <> (a.state = 'removed'))",
    )
    .bind(t)
    .bind(policy)
    .bind(group)
    .fetch_one(&mut *conn)
    .await?;
    if removed != expected || members != n - expected || other != 0 {
        bail!(
            "applying removed {removed} assignments (expected {expected}), left {members} memberships, {other} wrong"
        );
    }
    println!("review apply ({n} items): {:.2} s", took.as_secs_f64());
    report.push(Row::whole(
        format!("review apply ({n} items)"),
        n as f64,
        took,
    ));
    sqlx::query("drop table review_bench")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
