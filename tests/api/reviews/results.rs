//! Applying the results: automatically, by an admin once the review has ended, and after
//! an early stop.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use super::{
    act, assign, assignment, decide, in_state, instance, item_of, org, review, rfc,
    set_last_sign_in, settle,
};
use crate::fixtures::{group_package, open_policy, sources};
use crate::helpers::{TestApp, start_time, uuid_of};

#[tokio::test]
async fn auto_apply_removes_denied_access_and_unanswered_items_follow_if_no_response() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let start = start_time() + Duration::hours(1);
    let mut cases = Vec::new();
    for rule in ["keep", "remove", "recommendation"] {
        let settings = review(json!({"ifNoResponse": rule,
            "reviewers": [{"type": "user", "id": o.megan.0}]}));
        let pkg = group_package(&app, &o.t, rule, open_policy(json!({"review": settings}))).await;
        let adele = assign(&app, &o.adele.1, pkg.package).await;
        let alex = assign(&app, &o.alex.1, pkg.package).await;
        let nestor = assign(&app, &o.nestor.1, pkg.package).await;
        cases.push((rule, pkg, adele, alex, nestor));
    }
    set_last_sign_in(&app, o.adele.0, Some(start - Duration::days(1))).await;
    set_last_sign_in(&app, o.alex.0, Some(start - Duration::days(40))).await;

    app.clock.set(start);
    let mut reviews = Vec::new();
    for (_, pkg, ..) in &cases {
        let r = instance(&app, &o.t, pkg.policy, 0).await;
        let item = item_of(&app, &o.t, &r, o.adele.0).await;
        let (status, d) = decide(&app, &o.megan.1, &r, &item, "deny", None).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        reviews.push(r);
    }
    app.clock.set(start + Duration::days(14));
    for r in &reviews {
        in_state(&app, &o.t, r, "applied").await;
    }

    // (rule, Adele denied, Alex unanswered with a deny recommendation, Nestor unanswered
    // without a recommendation) → expected removals.
    let expected = [
        ("keep", [true, false, false]),
        ("remove", [true, true, true]),
        ("recommendation", [true, true, false]),
    ];
    for ((rule, pkg, adele, alex, nestor), (_, removed)) in cases.iter().zip(expected) {
        for ((who, id), gone) in [
            (o.adele.0, *adele),
            (o.alex.0, *alex),
            (o.nestor.0, *nestor),
        ]
        .into_iter()
        .zip(removed)
        {
            let a = assignment(&app, &o.t, id).await;
            let membership = sources(&app, pkg.group, who).await;
            if gone {
                assert_eq!(a["state"], "removed", "{rule}: {a}");
                assert_eq!(a["removalReason"], "review", "{rule}: {a}");
                assert!(
                    membership.is_empty(),
                    "{rule}: the group membership is gone"
                );
            } else {
                assert_eq!(a["state"], "delivered", "{rule}: {a}");
                assert_eq!(membership, vec![id.to_string()], "{rule}");
            }
        }
    }
    let r = &reviews[0];
    assert_eq!(
        item_of(&app, &o.t, r, o.adele.0).await["appliedResult"],
        "removed"
    );
    assert_eq!(
        item_of(&app, &o.t, r, o.alex.0).await["appliedResult"],
        "kept"
    );
    // The removal is a systemRemove request, like every end of an assignment.
    let (_, reqs) = app
        .get(
            &o.t.admin,
            &format!(
                "/api/v1/assignmentRequests?targetUserId={}&accessPackageId={}",
                o.adele.0, cases[0].1.package
            ),
        )
        .await;
    assert!(
        reqs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["requestType"] == "systemRemove"),
        "{reqs}"
    );
}

#[tokio::test]
async fn without_auto_apply_an_admin_applies_the_results_once_the_review_has_ended() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let settings = review(json!({"autoApply": false}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    let adele = assign(&app, &o.adele.1, pkg.package).await;
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let item = item_of(&app, &o.t, &r, o.adele.0).await;
    decide(&app, &o.megan.1, &r, &item, "deny", None).await;

    let (status, p) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::CONFLICT, "still in progress: {p}");
    app.clock.advance(Duration::days(14));
    in_state(&app, &o.t, &r, "completed").await;
    settle(&app).await;
    assert_eq!(
        assignment(&app, &o.t, adele).await["state"],
        "delivered",
        "not applied by itself"
    );

    let (status, p) = act(&app, &o.megan.1, &r, "apply").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reviewers do not apply: {p}");
    let (status, p) = act(&app, &o.pradeep.1, &r, "apply").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    let (status, applied) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["state"], "applied");
    assert_eq!(applied["appliedDateTime"], json!(rfc(app.now())));
    let a = assignment(&app, &o.t, adele).await;
    assert_eq!(
        (a["state"].as_str(), a["removalReason"].as_str()),
        (Some("removed"), Some("review"))
    );
    assert!(sources(&app, pkg.group, o.adele.0).await.is_empty());
    let (status, p) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::CONFLICT, "already applied: {p}");
    let actions = app.audit_actions(uuid_of(&r["id"])).await;
    assert_eq!(
        actions,
        vec![
            "accessReview.started",
            "accessReview.completed",
            "accessReview.applied"
        ]
    );
}

#[tokio::test]
async fn an_assignment_manager_stops_a_review_early_and_auto_apply_applies_it() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(
        &app,
        &o.t,
        "Pkg",
        open_policy(json!({"review": review(json!({}))})),
    )
    .await;
    let adele = assign(&app, &o.adele.1, pkg.package).await;
    let (status, body) = app
        .post(
            &o.t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "assignmentManager", "principal": {"type": "user", "id": o.nestor.0}, "catalogId": pkg.catalog}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &o.t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "catalogReader", "principal": {"type": "user", "id": o.pradeep.0}, "catalogId": pkg.catalog}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let item = item_of(&app, &o.t, &r, o.adele.0).await;
    decide(&app, &o.megan.1, &r, &item, "deny", None).await;

    let (status, p) = act(&app, &o.megan.1, &r, "stop").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a reviewer cannot stop it: {p}"
    );
    let (status, p) = act(&app, &o.pradeep.1, &r, "stop").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a catalog reader cannot stop it: {p}"
    );
    app.clock.advance(Duration::days(2));
    let (status, stopped) = act(&app, &o.nestor.1, &r, "stop").await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["state"], "applied");
    assert_eq!(stopped["stoppedEarly"], true);
    assert_eq!(stopped["completedDateTime"], json!(rfc(app.now())));
    assert_eq!(
        stopped["endDateTime"], r["endDateTime"],
        "the schedule is kept on record"
    );
    assert_eq!(
        assignment(&app, &o.t, adele).await["removalReason"],
        "review"
    );

    let (status, p) = decide(&app, &o.megan.1, &r, &item, "approve", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    let (status, p) = act(&app, &o.t.admin, &r, "stop").await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    let (status, p) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
}

#[tokio::test]
async fn the_review_history_report_lists_each_item_with_its_decision_and_who_made_it() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let start = start_time() + Duration::hours(1);
    let settings = review(json!({"reviewers": [{"type": "user", "id": o.megan.0}]}));
    let pkg = group_package(
        &app,
        &o.t,
        "Reviewed",
        open_policy(json!({"review": settings})),
    )
    .await;
    assign(&app, &o.adele.1, pkg.package).await;
    assign(&app, &o.alex.1, pkg.package).await;
    app.clock.set(start);
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let item = item_of(&app, &o.t, &r, o.adele.0).await;
    let (status, d) = decide(&app, &o.megan.1, &r, &item, "deny", Some("Left the team")).await;
    assert_eq!(status, StatusCode::OK, "{d}");

    let path = format!(
        "/api/v1/reports/accessReviews?accessPackageId={}",
        pkg.package
    );
    let (status, v) = app.get(&o.t.admin, &path).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{v}");
    let adele = items
        .iter()
        .find(|i| i["userEmail"] == "adele@contoso.test")
        .expect("adele's item");
    assert_eq!(adele["accessReviewId"], r["id"]);
    assert_eq!(adele["accessPackage"], "Reviewed");
    assert_eq!(adele["reviewers"], "megan@contoso.test");
    assert_eq!(adele["decision"], "deny");
    assert_eq!(adele["justification"], "Left the team");
    assert_eq!(adele["decidedBy"], "megan@contoso.test");
    assert!(adele["decidedAt"].is_string(), "{adele}");
    let alex = items
        .iter()
        .find(|i| i["userEmail"] == "alex@contoso.test")
        .expect("alex's item");
    assert_eq!(alex["decision"], "notReviewed", "{alex}");
    assert!(alex["decidedBy"].is_null(), "{alex}");

    // The reviewer alone holds no role that reports: refused.
    let (status, v) = app.get(&o.megan.1, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = app
        .get(
            &o.t.admin,
            &format!(
                "/api/v1/reports/accessReviews?accessPackageId={}",
                uuid::Uuid::new_v4()
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}
