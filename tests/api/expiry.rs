//! Expiry in batches: one statement ends a batch (claim, memberships, grants, history,
//! audit events, emails), batch after batch until nothing is due; each batch is all or
//! nothing.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{GroupPackage, group_package, open_policy, sources};
use crate::helpers::{TestApp, TestTenant};
use crate::lifecycle::emails;

/// A server whose scheduler runs only when the test ticks it.
async fn app_without_scheduler() -> TestApp {
    TestApp::spawn_with_settings(&[("PORTICO_SCHEDULER_ENABLED", "false")]).await
}

/// `n` people, each assigned `pkg` by the admin; returns (user, assignment) pairs.
async fn assign(
    app: &TestApp,
    t: &TestTenant,
    pkg: &GroupPackage,
    n: usize,
    prefix: &str,
) -> Vec<(Uuid, Uuid)> {
    let mut out = Vec::new();
    for i in 0..n {
        let (user, _) = app
            .user(t, &format!("{prefix}{i}@contoso.test"), json!({}))
            .await;
        let (status, req) = app
            .post(
                &t.admin,
                "/api/v1/assignmentRequests",
                json!({"requestType": "adminAdd", "accessPackageId": pkg.package, "targetUserId": user}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{req}");
        let assignment =
            Uuid::parse_str(req["assignmentId"].as_str().expect("assignment")).expect("uuid");
        out.push((user, assignment));
    }
    out
}

async fn count(app: &TestApp, sql: &'static str, ids: &[Uuid]) -> i64 {
    sqlx::query_scalar(sql)
        .bind(ids)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn batches_smaller_than_the_due_work_expire_exactly_the_due_ones_each_with_its_history() {
    let app = app_without_scheduler().await;
    let t = app.tenant("contoso").await;
    let short = group_package(
        &app,
        &t,
        "Short",
        open_policy(json!({"expiration": {"type": "afterHours", "hours": 1}})),
    )
    .await;
    let long = group_package(
        &app,
        &t,
        "Long",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 10}})),
    )
    .await;
    let due = assign(&app, &t, &short, 7, "due").await;
    let kept = assign(&app, &t, &long, 2, "kept").await;
    // One holder is also a direct member of the group: that membership stays.
    let (direct_user, direct_assignment) = due[0];
    let (status, _) = app
        .post(
            &t.admin,
            &format!("/api/v1/groups/{}/members", short.group),
            json!({"userId": direct_user}),
        )
        .await;
    assert!(status.is_success(), "{status}");
    let due_ids: Vec<Uuid> = due.iter().map(|(_, a)| *a).collect();
    let kept_ids: Vec<Uuid> = kept.iter().map(|(_, a)| *a).collect();

    app.clock.advance(Duration::hours(1) + Duration::minutes(1));
    let now = app.state.now();
    let mut batches = Vec::new();
    loop {
        let n = portico::services::lifecycle::expire_due_limit(&app.pool, now, 3)
            .await
            .expect("expire");
        batches.push(n);
        if n == 0 {
            break;
        }
    }
    assert_eq!(
        batches,
        [3, 3, 1, 0],
        "batches of at most 3 until none is due"
    );

    assert_eq!(
        count(&app, "select count(*) from assignments where id = any($1) and state = 'expired' and ended_at is not null", &due_ids).await,
        7
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from assignments where id = any($1) and state = 'delivered'",
            &kept_ids
        )
        .await,
        2,
        "what is not due stays"
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from group_memberships where assignment_id = any($1)",
            &due_ids
        )
        .await,
        0,
        "memberships the assignments delivered are gone"
    );
    assert_eq!(
        sources(&app, short.group, direct_user).await,
        ["direct"],
        "a direct membership is never taken away by an assignment's end"
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from group_memberships where assignment_id = any($1)",
            &kept_ids
        )
        .await,
        2
    );
    assert_eq!(
        count(&app, "select count(*) from assignment_grants where assignment_id = any($1) and state = 'revoked'", &due_ids).await,
        7
    );
    assert_eq!(
        count(&app, "select count(*) from assignment_grants where assignment_id = any($1) and state = 'delivered'", &kept_ids).await,
        2
    );
    // One delivered systemRemove request each, with its two audit events, named as the
    // log names them, and ids in the order they were written.
    let rows: Vec<(Uuid, Uuid, String, Uuid, Uuid)> = sqlx::query_as(
        "select a.id, r.id, r.state, c.id, e.id
         from assignments a
         join assignment_requests r on r.tenant_id = a.tenant_id and r.assignment_id = a.id and r.request_type = 'systemRemove'
         join audit_events c on c.tenant_id = a.tenant_id and c.target_id = r.id and c.action = 'assignmentRequest.created'
              and c.actor_type = 'system' and c.details = jsonb_build_object('requestType', 'systemRemove', 'assignmentId', a.id, 'state', 'delivered')
              and c.target_name = audit_target_name(c.tenant_id, c.target_type, c.target_id)
         join audit_events e on e.tenant_id = a.tenant_id and e.target_id = a.id and e.action = 'assignment.ended'
              and e.details = jsonb_build_object('state', 'expired', 'removalReason', null, 'requestId', r.id)
              and e.target_name = audit_target_name(e.tenant_id, e.target_type, e.target_id)
         where a.id = any($1)",
    )
    .bind(&due_ids)
    .fetch_all(&app.pool)
    .await
    .expect("history");
    assert_eq!(
        rows.len(),
        7,
        "one request and two events per assignment: {rows:?}"
    );
    for (_, request, state, created, ended) in &rows {
        assert_eq!(state, "delivered");
        assert_eq!(request.get_version_num(), 7);
        assert_eq!(created.get_version_num(), 7);
        assert!(created < ended, "the request's event comes first");
    }
    assert_eq!(
        count(&app, "select count(*) from assignment_requests where assignment_id = any($1) and request_type = 'systemRemove'", &kept_ids).await,
        0
    );
    let (_, history) = app
        .get(
            &t.admin,
            &format!("/api/v1/assignmentRequests?targetUserId={direct_user}"),
        )
        .await;
    assert!(
        history["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|r| r["requestType"] == "systemRemove"
                && r["assignmentId"] == json!(direct_assignment)),
        "the API shows the end in the history: {history}"
    );

    // One email each, sent.
    for (user, _) in &due {
        assert_eq!(emails(&app, *user, "accessEnded").await.len(), 1);
    }
    portico::scheduler::tick_delivery(&app.state).await;
    let sent = app.mailer.sent();
    for i in 0..7 {
        let to = format!("due{i}@contoso.test");
        assert_eq!(
            sent.iter()
                .filter(|m| m.to == to && m.subject == "Your access to Short has ended")
                .count(),
            1,
            "one access-ended email to {to}"
        );
    }
}

#[tokio::test]
async fn a_batch_that_fails_part_way_leaves_nothing_half_done() {
    let app = app_without_scheduler().await;
    let t = app.tenant("contoso").await;
    let pkg = group_package(
        &app,
        &t,
        "Short",
        open_policy(json!({"expiration": {"type": "afterHours", "hours": 1}})),
    )
    .await;
    let due = assign(&app, &t, &pkg, 3, "due").await;
    let ids: Vec<Uuid> = due.iter().map(|(_, a)| *a).collect();
    // The last write of the batch (its emails) fails.
    sqlx::raw_sql(
        "create function refuse_email() returns trigger language plpgsql as $$
         begin raise exception 'mail queue refused'; end $$;
         create trigger refuse_email before insert on outbox for each row
             when (new.kind = 'email') execute function refuse_email();",
    )
    .execute(&app.pool)
    .await
    .expect("trigger");
    let events_before = count(&app, "select count(*) from audit_events where target_id = any($1) or (details ->> 'assignmentId')::uuid = any($1)", &ids).await;

    app.clock.advance(Duration::hours(2));
    let now = app.state.now();
    let failed = portico::services::lifecycle::expire_due(&app.pool, now).await;
    assert!(failed.is_err(), "the batch fails");

    assert_eq!(
        count(
            &app,
            "select count(*) from assignments where id = any($1) and state = 'delivered'",
            &ids
        )
        .await,
        3,
        "no assignment ended"
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from group_memberships where assignment_id = any($1)",
            &ids
        )
        .await,
        3,
        "no membership removed"
    );
    assert_eq!(
        count(&app, "select count(*) from assignment_grants where assignment_id = any($1) and state = 'delivered'", &ids).await,
        3
    );
    assert_eq!(
        count(&app, "select count(*) from assignment_requests where assignment_id = any($1) and request_type = 'systemRemove'", &ids).await,
        0,
        "no history written"
    );
    assert_eq!(
        count(&app, "select count(*) from audit_events where target_id = any($1) or (details ->> 'assignmentId')::uuid = any($1)", &ids).await,
        events_before
    );

    sqlx::raw_sql("drop trigger refuse_email on outbox")
        .execute(&app.pool)
        .await
        .expect("drop trigger");
    assert_eq!(
        portico::services::lifecycle::expire_due(&app.pool, now)
            .await
            .expect("expire"),
        3,
        "the next run does the whole batch"
    );
    assert_eq!(
        count(
            &app,
            "select count(*) from group_memberships where assignment_id = any($1)",
            &ids
        )
        .await,
        0
    );
    for (user, _) in &due {
        assert_eq!(emails(&app, *user, "accessEnded").await.len(), 1);
    }
}
