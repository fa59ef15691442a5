//! Reviews of hundreds of assignments, written a batch at a time: every item starts with
//! the reviewers and recommendation the rules give it, applying removes exactly the
//! denied assignments with their whole history, and an application cut short is
//! finished.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Org, emailed, in_state, instance, org, review, settle};
use crate::fixtures::{GroupPackage, group_package, open_policy};
use crate::helpers::{TestApp, start_time};

/// `n` users written in one statement. User `i` is managed by the head of its block of
/// ten, user `i - i % 10` (heads have no manager); the heads of blocks `b % 3 == 2` are
/// inactive. Last sign-in before `at`: 40 days for `i % 3 == 0`, 2 days for `i % 3 == 1`,
/// never for the rest.
async fn crowd(app: &TestApp, o: &Org, n: usize, at: DateTime<Utc>) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "insert into users (tenant_id, id, email, display_name, department, job_title, manager_id, kind, active,
             created_at, updated_at, last_sign_in_at)
         select $1, x.id, 'crowd' || x.i || '@contoso.test', 'Crowd ' || x.i, '', '', null, 'member',
                not (x.i % 10 = 0 and (x.i / 10) % 3 = 2), $3, $3,
                case x.i % 3 when 0 then $3 - interval '40 days' when 1 then $3 - interval '2 days' end
         from (select id, i - 1 as i from unnest($2::uuid[]) with ordinality as u(id, i)) as x",
    )
    .bind(o.t.id)
    .bind(&ids)
    .bind(at)
    .execute(&app.pool)
    .await
    .expect("users");
    sqlx::query(
        "update users u set manager_id = ($2::uuid[])[x.i - x.i % 10 + 1]
         from (select id, i - 1 as i from unnest($2::uuid[]) with ordinality as u(id, i)) as x
         where u.tenant_id = $1 and u.id = x.id and x.i % 10 <> 0",
    )
    .bind(o.t.id)
    .bind(&ids)
    .execute(&app.pool)
    .await
    .expect("managers");
    ids
}

fn active(i: usize) -> bool {
    !(i.is_multiple_of(10) && (i / 10) % 3 == 2)
}

/// What the recommendation of crowd user `i` is.
fn recommended(i: usize) -> Option<&'static str> {
    match i % 3 {
        0 => Some("deny"),
        1 => Some("approve"),
        _ => None,
    }
}

/// Gives each of `users` an active assignment of the package (with its request, group
/// membership and grant), as delivered access would leave it; the assignment ids.
async fn hold(app: &TestApp, o: &Org, pkg: &GroupPackage, users: &[Uuid]) -> Vec<Uuid> {
    let ids: Vec<Uuid> = users.iter().map(|_| Uuid::now_v7()).collect();
    let requests: Vec<Uuid> = users.iter().map(|_| Uuid::now_v7()).collect();
    let statements = [
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id,
             target_user_id, assignment_id, answers, schedule_start, created_at, updated_at, completed_at)
         select $1, r, 'adminAdd', 'delivered', $2, $3, null, u, a, '[]', $7, $7, $7, $7
         from unnest($4::uuid[], $5::uuid[], $6::uuid[]) as x(u, a, r)",
        "insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at,
             request_id, created_at, updated_at)
         select $1, a, $2, $3, u, 'delivered', $7, null, r, $7, $7
         from unnest($4::uuid[], $5::uuid[], $6::uuid[]) as x(u, a, r)",
        "insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, updated_at)
         select $1, a, $8, 'delivered', $7 from unnest($4::uuid[], $5::uuid[], $6::uuid[]) as x(u, a, r)",
        "insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at)
         select $1, $9, u, a, $7 from unnest($4::uuid[], $5::uuid[], $6::uuid[]) as x(u, a, r)",
    ];
    // A request and its assignment point at each other: their keys are checked at commit.
    let mut tx = app.pool.begin().await.expect("begin");
    for sql in statements {
        sqlx::query(sql)
            .bind(o.t.id)
            .bind(pkg.package)
            .bind(pkg.policy)
            .bind(users)
            .bind(&ids)
            .bind(&requests)
            .bind(app.now())
            .bind(pkg.member_role)
            .bind(pkg.group)
            .execute(&mut *tx)
            .await
            .expect(sql);
    }
    tx.commit().await.expect("commit");
    ids
}

/// Every item of an instance: target → (reviewers, recommendation).
async fn started_items(app: &TestApp, r: &Value) -> BTreeMap<Uuid, (Vec<Uuid>, Option<String>)> {
    let rows: Vec<(Uuid, Vec<Uuid>, Option<String>)> = sqlx::query_as(
        "select target_user_id, reviewer_ids, recommendation from access_review_items where review_id = $1",
    )
    .bind(review_id(r))
    .fetch_all(&app.pool)
    .await
    .expect("items");
    rows.into_iter().map(|(t, rv, rc)| (t, (rv, rc))).collect()
}

fn review_id(r: &Value) -> Uuid {
    r["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("review id")
}

async fn count(app: &TestApp, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect(sql)
}

#[tokio::test]
async fn a_review_of_hundreds_of_assignments_starts_with_each_items_reviewers_and_recommendation() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let start = start_time() + Duration::hours(1);
    let people = crowd(&app, &o, 330, start).await;
    // The fallback group: Nestor, and an inactive head who must never review.
    let fallback_group = crate::fixtures::group(&app, &o.t, "Fallback").await;
    for member in [o.nestor.0, people[20]] {
        sqlx::query(
            "insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at)
             values ($1, $2, $3, null, $4)",
        )
        .bind(o.t.id)
        .bind(fallback_group)
        .bind(member)
        .bind(app.now())
        .execute(&app.pool)
        .await
        .expect("member");
    }
    let by_managers = group_package(
        &app,
        &o.t,
        "Managed",
        open_policy(
            json!({"review": review(json!({"reviewers": [{"type": "manager"}],
            "fallbackReviewers": [{"type": "group", "id": fallback_group}]}))}),
        ),
    )
    .await;
    let by_themselves = group_package(
        &app,
        &o.t,
        "Own",
        open_policy(
            json!({"review": review(json!({"reviewers": [{"type": "self"},
            {"type": "user", "id": o.megan.0}]}))}),
        ),
    )
    .await;
    let held: Vec<usize> = (0..people.len()).filter(|i| active(*i)).collect();
    let mut managed: Vec<Uuid> = held.iter().map(|i| people[*i]).collect();
    managed.push(o.nestor.0);
    hold(&app, &o, &by_managers, &managed).await;
    let mut own: Vec<Uuid> = held.iter().take(60).map(|i| people[*i]).collect();
    own.push(o.megan.0);
    hold(&app, &o, &by_themselves, &own).await;

    app.clock.set(start);
    let r = instance(&app, &o.t, by_managers.policy, 0).await;
    let items = started_items(&app, &r).await;
    assert_eq!(items.len(), managed.len());
    let mut reviewers_of_all = BTreeSet::new();
    for i in &held {
        let (reviewers, recommendation) = &items[&people[*i]];
        let block_head_active = active(i - i % 10);
        let expected = if i % 10 != 0 && block_head_active {
            vec![people[i - i % 10]]
        } else {
            vec![o.nestor.0]
        };
        assert_eq!(reviewers, &expected, "user {i}");
        assert_eq!(recommendation.as_deref(), recommended(*i), "user {i}");
        reviewers_of_all.extend(expected);
    }
    // Nestor's own item: the fallback group has nobody else active, so the tenant admins.
    assert_eq!(items[&o.nestor.0], (vec![o.t.admin_id], None));
    reviewers_of_all.insert(o.t.admin_id);
    assert_eq!(
        emailed(&app, "reviewStarted", &r).await,
        reviewers_of_all.into_iter().collect::<Vec<_>>(),
        "each reviewer is emailed once"
    );
    let audited = count(
        &app,
        "select count(*) from audit_events where action = 'accessReviewItem.created'
           and details ->> 'accessReviewId' = $1::text",
        review_id(&r),
    )
    .await;
    assert_eq!(audited, i64::try_from(managed.len()).expect("count"));

    let r = instance(&app, &o.t, by_themselves.policy, 0).await;
    let items = started_items(&app, &r).await;
    assert_eq!(items.len(), own.len());
    for who in &own[..own.len() - 1] {
        assert_eq!(items[who].0, vec![*who, o.megan.0]);
    }
    assert_eq!(items[&o.megan.0].0, vec![o.megan.0], "nobody twice");
}

/// Denies (by its first reviewer) the items of the crowd users `deny` picks and approves
/// those `approve` picks, as the reviewers deciding one by one would leave them.
async fn decide_in_bulk(
    app: &TestApp,
    r: &Value,
    people: &[Uuid],
    pick: impl Fn(usize) -> Option<&'static str>,
) {
    let (who, what): (Vec<Uuid>, Vec<&str>) = people
        .iter()
        .enumerate()
        .filter_map(|(i, u)| pick(i).map(|d| (*u, d)))
        .unzip();
    sqlx::query(
        "update access_review_items i set decision = x.d, decided_by = i.reviewer_ids[1], decided_at = $2
         from unnest($3::uuid[], $4::text[]) as x(u, d)
         where i.review_id = $1 and i.target_user_id = x.u",
    )
    .bind(review_id(r))
    .bind(app.now())
    .bind(&who)
    .bind(&what)
    .execute(&app.pool)
    .await
    .expect("decisions");
}

/// `i % 4`: 1 denied, 2 approved, else unanswered.
fn decision(i: usize) -> Option<&'static str> {
    match i % 4 {
        1 => Some("deny"),
        2 => Some("approve"),
        _ => None,
    }
}

#[tokio::test]
async fn applying_a_review_of_hundreds_removes_exactly_the_denied_assignments_with_their_history() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let start = start_time() + Duration::hours(1);
    let people: Vec<Uuid> = crowd(&app, &o, 400, start).await;
    let people: Vec<Uuid> = (0..people.len())
        .filter(|i| active(*i))
        .map(|i| people[i])
        .collect();
    let pkg = group_package(
        &app,
        &o.t,
        "Reviewed",
        open_policy(json!({"review": review(json!({"ifNoResponse": "recommendation"}))})),
    )
    .await;
    let assignments = hold(&app, &o, &pkg, &people).await;
    app.clock.set(start);
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    // Recommendations were computed from each user's last sign-in; read them back by index.
    let items = started_items(&app, &r).await;
    let rec: Vec<Option<String>> = people.iter().map(|u| items[u].1.clone()).collect();
    let removed_at = |i: usize| match decision(i) {
        Some(d) => d == "deny",
        None => rec[i].as_deref() == Some("deny"),
    };
    decide_in_bulk(&app, &r, &people, decision).await;
    // One assignment ends before the review does.
    let (status, body) = app
        .post(
            &o.t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminRemove", "accessPackageId": pkg.package,
                   "targetUserId": people[1], "assignmentId": assignments[1]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    app.clock.set(start + Duration::days(14));
    in_state(&app, &o.t, &r, "applied").await;

    let mut expected_removed = BTreeSet::new();
    let (mut kept, mut already) = (0, 0);
    for (i, a) in assignments.iter().enumerate() {
        let (state, reason): (String, Option<String>) =
            sqlx::query_as("select state, removal_reason from assignments where id = $1")
                .bind(a)
                .fetch_one(&app.pool)
                .await
                .expect("assignment");
        let members = count(
            &app,
            "select count(*) from group_memberships where assignment_id = $1",
            *a,
        )
        .await;
        let result: Option<String> = sqlx::query_scalar(
            "select applied_result from access_review_items where assignment_id = $1",
        )
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .expect("item");
        if i == 1 {
            assert_eq!(
                (state.as_str(), reason.as_deref()),
                ("removed", Some("admin"))
            );
            assert_eq!(result.as_deref(), Some("alreadyEnded"));
            already += 1;
        } else if removed_at(i) {
            assert_eq!(
                (state.as_str(), reason.as_deref()),
                ("removed", Some("review")),
                "{i}"
            );
            assert_eq!(
                members, 0,
                "{i}: the membership this assignment gave is gone"
            );
            assert_eq!(result.as_deref(), Some("removed"), "{i}");
            expected_removed.insert(*a);
        } else {
            assert_eq!(state, "delivered", "{i}");
            assert_eq!(members, 1, "{i}");
            assert_eq!(result.as_deref(), Some("kept"), "{i}");
            kept += 1;
        }
    }
    assert!(expected_removed.len() > 100, "{}", expected_removed.len());
    assert!(
        (0..people.len()).any(|i| decision(i).is_none() && removed_at(i)),
        "unanswered items recommended for denial are among the removals"
    );

    // The history: one delivered systemRemove request per removal, its audit events, the
    // item's applied event naming it, and an email to the holder.
    let requests: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "select assignment_id, id, state from assignment_requests
         where policy_id = $1 and request_type = 'systemRemove'",
    )
    .bind(pkg.policy)
    .fetch_all(&app.pool)
    .await
    .expect("requests");
    assert_eq!(
        requests.iter().map(|r| r.0).collect::<BTreeSet<_>>(),
        expected_removed
    );
    assert_eq!(requests.len(), expected_removed.len());
    assert!(requests.iter().all(|r| r.2 == "delivered"));
    for (assignment, request, _) in &requests {
        let ended: Vec<Value> = sqlx::query_scalar(
            "select details from audit_events where action = 'assignment.ended' and target_id = $1",
        )
        .bind(assignment)
        .fetch_all(&app.pool)
        .await
        .expect("ended");
        assert_eq!(ended.len(), 1);
        assert_eq!(
            ended[0],
            json!({"state": "removed", "removalReason": "review", "requestId": request})
        );
        assert_eq!(
            app.audit_actions(*request).await,
            vec!["assignmentRequest.created"]
        );
        let applied: Value = sqlx::query_scalar(
            "select details from audit_events where action = 'accessReviewItem.applied'
               and details ->> 'assignmentId' = $1::text",
        )
        .bind(assignment)
        .fetch_one(&app.pool)
        .await
        .expect("applied");
        assert_eq!(applied["result"], "removed");
        assert_eq!(applied["requestId"], json!(request));
    }
    let emails = count(
        &app,
        "select count(*) from outbox where kind = 'email' and payload -> 'notice' ->> 'template' = 'accessEnded'
           and (payload -> 'notice' ->> 'assignmentId')::uuid in
               (select id from assignments where policy_id = $1 and removal_reason = 'review')",
        pkg.policy,
    )
    .await;
    assert_eq!(emails, i64::try_from(expected_removed.len()).expect("n"));
    let summary: Value = sqlx::query_scalar(
        "select details from audit_events where action = 'accessReview.applied' and target_id = $1",
    )
    .bind(review_id(&r))
    .fetch_one(&app.pool)
    .await
    .expect("summary");
    assert_eq!(
        summary,
        json!({"kept": kept, "removed": expected_removed.len(), "alreadyEnded": already,
               "ifNoResponse": "recommendation"})
    );
    let (status, list) = app
        .get(
            &o.t.admin,
            &format!("/api/v1/accessReviews/{}", review_id(&r)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["state"], "applied");
}

#[tokio::test]
async fn an_automatic_application_cut_short_is_finished_by_the_scheduler() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let start = start_time() + Duration::hours(1);
    let people: Vec<Uuid> = crowd(&app, &o, 40, start).await;
    let people: Vec<Uuid> = (0..people.len())
        .filter(|i| active(*i))
        .map(|i| people[i])
        .collect();
    let pkg = group_package(
        &app,
        &o.t,
        "Reviewed",
        open_policy(json!({"review": review(json!({"ifNoResponse": "keep", "autoApply": false}))})),
    )
    .await;
    let assignments = hold(&app, &o, &pkg, &people).await;
    app.clock.set(start);
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    decide_in_bulk(&app, &r, &people, |i| (i % 2 == 0).then_some("deny")).await;
    app.clock.set(start + Duration::days(14));
    in_state(&app, &o.t, &r, "completed").await;
    // As a process that completed an automatic review and applied the results of its
    // first items (all kept) would have left it before stopping.
    sqlx::query("update access_reviews set auto_apply = true where id = $1")
        .bind(review_id(&r))
        .execute(&app.pool)
        .await
        .expect("auto apply");
    sqlx::query(
        "update access_review_items set applied_result = 'kept'
         where review_id = $1 and decision = 'notReviewed' and target_user_id = any($2)",
    )
    .bind(review_id(&r))
    .bind(&people[..10])
    .execute(&app.pool)
    .await
    .expect("first batch");

    in_state(&app, &o.t, &r, "applied").await;
    settle(&app).await;
    for (i, a) in assignments.iter().enumerate() {
        let state: String = sqlx::query_scalar("select state from assignments where id = $1")
            .bind(a)
            .fetch_one(&app.pool)
            .await
            .expect("state");
        assert_eq!(
            state,
            if i % 2 == 0 { "removed" } else { "delivered" },
            "{i}"
        );
    }
    let denied = people.len().div_ceil(2);
    let summary: Value = sqlx::query_scalar(
        "select details from audit_events where action = 'accessReview.applied' and target_id = $1",
    )
    .bind(review_id(&r))
    .fetch_one(&app.pool)
    .await
    .expect("summary");
    assert_eq!(
        summary,
        json!({"kept": people.len() - denied, "removed": denied, "alreadyEnded": 0, "ifNoResponse": "keep"})
    );
    assert_eq!(
        app.audit_actions(review_id(&r)).await,
        vec![
            "accessReview.started",
            "accessReview.completed",
            "accessReview.applied"
        ]
    );
}
