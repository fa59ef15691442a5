//! When review instances start: start dates in the past, windows already over, and two
//! replicas starting and closing each instance once.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::{
    assign, assignment, at, emailed, in_state, instance, items, org, review, reviews_of,
    set_review, settle, sorted,
};
use crate::fixtures::{self, group_package, open_policy};
use crate::helpers::{TestApp, start_time, uuid_of};

#[tokio::test]
async fn a_start_date_in_the_past_starts_the_current_period_at_once_with_its_scheduled_end() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(&app, &o.t, "Windows 11 Testing", open_policy(json!({}))).await;
    let adele = assign(&app, &o.adele.1, pkg.package).await;
    let alex = assign(&app, &o.alex.1, pkg.package).await;
    let nestor = assign(&app, &o.nestor.1, pkg.package).await;
    let (status, removed) = app
        .post(
            &o.nestor.1,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": nestor}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{removed}");

    // Periods: Oct 1–15, Nov 1–15, Dec 1–15, and Jan 1–15 holds the clock (Jan 4).
    set_review(
        &app,
        &o.t,
        pkg.policy,
        review(json!({"startDate": "2026-10-01T00:00:00Z", "reviewers": [{"type": "self"}]})),
    )
    .await;
    let first = instance(&app, &o.t, pkg.policy, 3).await;

    assert_eq!(first["state"], "inProgress");
    assert_eq!(first["startDateTime"], "2027-01-01T00:00:00Z");
    assert_eq!(first["endDateTime"], "2027-01-15T00:00:00Z");
    assert_eq!(first["accessPackageId"], pkg.package.to_string());
    settle(&app).await;
    assert_eq!(
        reviews_of(&app, &o.t, pkg.policy).await.len(),
        1,
        "the periods already over are skipped"
    );
    let (_, all) = items(&app, &o.t.admin, &first, "").await;
    let assignments: Vec<Uuid> = sorted(all.iter().map(|i| uuid_of(&i["assignmentId"])).collect());
    assert_eq!(
        assignments,
        sorted(vec![adele, alex]),
        "one item per active assignment"
    );
    for i in &all {
        assert_eq!(i["decision"], "notReviewed");
        assert_eq!(
            i["reviewerIds"],
            json!([i["targetUserId"]]),
            "self-review: {i}"
        );
    }

    // Its end closes it; with autoApply and ifNoResponse keep, everyone keeps access.
    app.clock.set(at("2027-01-15T00:00:00Z"));
    let closed = in_state(&app, &o.t, &first, "applied").await;
    assert_eq!(closed["completedDateTime"], "2027-01-15T00:00:00Z");
    assert_eq!(closed["stoppedEarly"], false);
    assert_eq!(assignment(&app, &o.t, adele).await["state"], "delivered");

    // Nothing between two windows; the next instance when the next period begins.
    app.clock.set(at("2027-01-31T23:59:59Z"));
    settle(&app).await;
    assert_eq!(reviews_of(&app, &o.t, pkg.policy).await.len(), 1);
    app.clock.set(at("2027-02-01T00:00:00Z"));
    let second = instance(&app, &o.t, pkg.policy, 4).await;
    assert_eq!(second["startDateTime"], "2027-02-01T00:00:00Z");
    assert_eq!(second["endDateTime"], "2027-02-15T00:00:00Z");
    assert_eq!(reviews_of(&app, &o.t, pkg.policy).await.len(), 2);
}

#[tokio::test]
async fn a_review_whose_current_window_is_over_waits_for_the_next_period() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({}))).await;
    assign(&app, &o.adele.1, pkg.package).await;
    // Weekly from Dec 21 10:00, 2 days each: the clock (Jan 4 09:00) sits after the
    // Dec 28–30 window and an hour before the Jan 4 one.
    set_review(
        &app,
        &o.t,
        pkg.policy,
        review(
            json!({"startDate": "2026-12-21T10:00:00Z", "recurrence": "weekly", "durationDays": 2}),
        ),
    )
    .await;
    settle(&app).await;
    assert!(reviews_of(&app, &o.t, pkg.policy).await.is_empty());

    app.clock.set(at("2027-01-04T10:00:00Z"));
    let r = instance(&app, &o.t, pkg.policy, 2).await;
    assert_eq!(r["endDateTime"], "2027-01-06T10:00:00Z");
}

#[tokio::test]
async fn two_replicas_start_and_close_each_instance_once() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let group = fixtures::group(&app, &o.t, "Reviewers").await;
    for member in [o.megan.0, o.nestor.0] {
        app.post(
            &o.t.admin,
            &format!("/api/v1/groups/{group}/members"),
            json!({"userId": member}),
        )
        .await;
    }
    let settings =
        review(json!({"reviewers": [{"type": "group", "id": group}], "ifNoResponse": "remove"}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    for who in [&o.adele, &o.alex, &o.pradeep] {
        assign(&app, &who.1, pkg.package).await;
    }
    let second = TestApp::spawn_on(app.pool.clone(), app.db_options.clone()).await;

    let start = start_time() + Duration::hours(1);
    app.clock.set(start);
    second.clock.set(start);
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            portico::scheduler::reviews::run_once(&app.state, start),
            portico::scheduler::reviews::run_once(&second.state, start)
        );
        a.expect("first replica");
        b.expect("second replica");
    }
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    settle(&app).await;

    assert_eq!(reviews_of(&app, &o.t, pkg.policy).await.len(), 1);
    assert_eq!(items(&app, &o.t.admin, &r, "").await.1.len(), 3);
    assert_eq!(
        emailed(&app, "reviewStarted", &r).await,
        sorted(vec![o.megan.0, o.nestor.0]),
        "each reviewer told once"
    );

    let end = start + Duration::days(14);
    app.clock.set(end);
    second.clock.set(end);
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            portico::scheduler::reviews::run_once(&app.state, end),
            portico::scheduler::reviews::run_once(&second.state, end)
        );
        a.expect("first replica");
        b.expect("second replica");
    }
    in_state(&app, &o.t, &r, "applied").await;
    let actions = app.audit_actions(uuid_of(&r["id"])).await;
    assert_eq!(
        actions,
        vec![
            "accessReview.started",
            "accessReview.completed",
            "accessReview.applied"
        ]
    );
    let removals: i64 = sqlx::query_scalar(
        "select count(*) from assignment_requests where package_id = $1 and request_type = 'systemRemove'",
    )
    .bind(pkg.package)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(removals, 3, "each unanswered item removed exactly once");
}
