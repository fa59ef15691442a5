//! Reviewers and their work: who reviews, recommendations from the last sign-in,
//! decisions until the end, and the reminder.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    act, assign, assignment, at, decide, emailed, eventually, ids, in_state, instance, item_of,
    items, org, review, rfc, set_last_sign_in, settle, sorted,
};
use crate::fixtures::{self, group_package, open_policy};
use crate::helpers::{TestApp, start_time, uuid_of};

#[tokio::test]
async fn reviewers_are_resolved_self_manager_group_fallback_and_then_tenant_admins() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let group = fixtures::group(&app, &o.t, "Reviewers").await;
    for member in [o.megan.0, o.adele.0] {
        let (status, body) = app
            .post(
                &o.t.admin,
                &format!("/api/v1/groups/{group}/members"),
                json!({"userId": member}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let cases = [
        ("Self", json!({"reviewers": [{"type": "self"}]})),
        (
            "Manager",
            json!({"reviewers": [{"type": "manager"}], "fallbackReviewers": [{"type": "user", "id": o.nestor.0}]}),
        ),
        (
            "Group",
            json!({"reviewers": [{"type": "group", "id": group}]}),
        ),
        ("Admins", json!({"reviewers": [{"type": "manager"}]})),
    ];
    let mut pkgs = Vec::new();
    for (name, reviewers) in cases {
        let pkg = group_package(
            &app,
            &o.t,
            name,
            open_policy(json!({"review": review(reviewers)})),
        )
        .await;
        assign(&app, &o.adele.1, pkg.package).await;
        assign(&app, &o.alex.1, pkg.package).await;
        pkgs.push(pkg);
    }

    app.clock.advance(Duration::hours(1));
    let mut reviews = Vec::new();
    for pkg in &pkgs {
        reviews.push(instance(&app, &o.t, pkg.policy, 0).await);
    }

    let reviewers =
        async |r: &Value, who: Uuid| ids(&item_of(&app, &o.t, r, who).await["reviewerIds"]);
    // self: each reviews their own access.
    assert_eq!(reviewers(&reviews[0], o.adele.0).await, vec![o.adele.0]);
    assert_eq!(reviewers(&reviews[0], o.alex.0).await, vec![o.alex.0]);
    // manager, else the fallback reviewers.
    assert_eq!(reviewers(&reviews[1], o.adele.0).await, vec![o.megan.0]);
    assert_eq!(reviewers(&reviews[1], o.alex.0).await, vec![o.nestor.0]);
    // group: its members, never the target user.
    assert_eq!(reviewers(&reviews[2], o.adele.0).await, vec![o.megan.0]);
    assert_eq!(
        reviewers(&reviews[2], o.alex.0).await,
        sorted(vec![o.megan.0, o.adele.0])
    );
    // nobody and no fallback: the tenant admins.
    assert_eq!(reviewers(&reviews[3], o.adele.0).await, vec![o.megan.0]);
    assert_eq!(reviewers(&reviews[3], o.alex.0).await, vec![o.t.admin_id]);

    // Each reviewer is told once per instance, however many items they review.
    assert_eq!(
        emailed(&app, "reviewStarted", &reviews[2]).await,
        sorted(vec![o.megan.0, o.adele.0])
    );
    assert_eq!(
        emailed(&app, "reviewStarted", &reviews[0]).await,
        sorted(vec![o.adele.0, o.alex.0])
    );
    let item = item_of(&app, &o.t, &reviews[2], o.alex.0).await;
    let actions = app.audit_actions(uuid_of(&item["id"])).await;
    assert_eq!(actions, vec!["accessReviewItem.created"]);
}

#[tokio::test]
async fn recommendations_follow_the_last_sign_in() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let settings = review(json!({"reviewers": [{"type": "user", "id": o.megan.0}]}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    for who in [&o.adele, &o.alex, &o.nestor] {
        assign(&app, &who.1, pkg.package).await;
    }
    let start = start_time() + Duration::hours(1);
    set_last_sign_in(&app, o.adele.0, Some(start - Duration::days(5))).await;
    set_last_sign_in(&app, o.alex.0, Some(start - Duration::days(40))).await;
    set_last_sign_in(&app, o.nestor.0, None).await;

    app.clock.set(start);
    let r = instance(&app, &o.t, pkg.policy, 0).await;

    assert_eq!(
        item_of(&app, &o.t, &r, o.adele.0).await["recommendation"],
        "approve"
    );
    assert_eq!(
        item_of(&app, &o.t, &r, o.alex.0).await["recommendation"],
        "deny"
    );
    assert_eq!(
        item_of(&app, &o.t, &r, o.nestor.0).await["recommendation"],
        Value::Null
    );
}

#[tokio::test]
async fn reviewers_decide_their_own_items_until_the_end_and_the_last_decision_counts() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let settings = review(json!({
        "fallbackReviewers": [{"type": "user", "id": o.nestor.0}],
        "requireJustification": true, "autoApply": false
    }));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    let adele_access = assign(&app, &o.adele.1, pkg.package).await;
    assign(&app, &o.alex.1, pkg.package).await;
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let adele_item = item_of(&app, &o.t, &r, o.adele.0).await;
    let alex_item = item_of(&app, &o.t, &r, o.alex.0).await;

    // Only the item's reviewers decide it.
    let (status, p) = decide(&app, &o.megan.1, &r, &alex_item, "approve", Some("ok")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    let (status, p) = decide(&app, &o.t.admin, &r, &adele_item, "approve", Some("ok")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an admin is not a reviewer here: {p}"
    );
    let (status, p) = decide(&app, &o.pradeep.1, &r, &adele_item, "approve", Some("ok")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an outsider does not see it: {p}"
    );
    // Justification required; only approve or deny.
    let (status, p) = decide(&app, &o.megan.1, &r, &adele_item, "approve", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p["errors"]["justification"].is_string(), "{p}");
    let (status, p) = decide(&app, &o.megan.1, &r, &adele_item, "notReviewed", Some("x")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (status, p) = app
        .post(
            &o.megan.1,
            &format!(
                "/api/v1/accessReviews/{}/items/{}/decision",
                r["id"].as_str().unwrap(),
                adele_item["id"].as_str().unwrap()
            ),
            json!({"justification": "no decision"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");

    // A later decision replaces the earlier one.
    let (status, first) = decide(
        &app,
        &o.megan.1,
        &r,
        &adele_item,
        "approve",
        Some("still needed"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["decision"], "approve");
    app.clock.advance(Duration::days(2));
    let (status, last) = decide(
        &app,
        &o.megan.1,
        &r,
        &adele_item,
        "deny",
        Some("left the project"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{last}");
    assert_eq!(last["decision"], "deny");
    assert_eq!(last["justification"], "left the project");
    assert_eq!(last["decidedBy"], o.megan.0.to_string());
    assert_eq!(last["decidedAt"], json!(rfc(app.now())));
    let (status, nestor) =
        decide(&app, &o.nestor.1, &r, &alex_item, "approve", Some("needed")).await;
    assert_eq!(status, StatusCode::OK, "{nestor}");

    // Reviewers see only their items; admins see all, or theirs with mine=true.
    let (status, mine) = items(&app, &o.megan.1, &r, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], adele_item["id"]);
    assert_eq!(items(&app, &o.t.admin, &r, "").await.1.len(), 2);
    assert_eq!(items(&app, &o.t.admin, &r, "?mine=true").await.1.len(), 0);
    assert_eq!(
        items(&app, &o.pradeep.1, &r, "").await.0,
        StatusCode::NOT_FOUND
    );
    let actions = app.audit_actions(uuid_of(&adele_item["id"])).await;
    assert_eq!(
        actions,
        vec![
            "accessReviewItem.created",
            "accessReviewItem.decided",
            "accessReviewItem.decided"
        ]
    );

    // After the end nothing is accepted; the last decision before it counts.
    app.clock.set(at(r["endDateTime"].as_str().unwrap()));
    let (status, p) = decide(
        &app,
        &o.megan.1,
        &r,
        &adele_item,
        "approve",
        Some("changed my mind"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    let completed = in_state(&app, &o.t, &r, "completed").await;
    assert_eq!(completed["autoApply"], false);
    let (status, p) = decide(&app, &o.megan.1, &r, &adele_item, "approve", Some("again")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(item_of(&app, &o.t, &r, o.adele.0).await["decision"], "deny");
    let (status, applied) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(
        assignment(&app, &o.t, adele_access).await["removalReason"],
        "review"
    );
}

#[tokio::test]
async fn reviewers_with_undecided_items_are_reminded_once_before_the_end() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    // 4 days: 75 % is day 3, one day before the end is day 3 too.
    let settings = review(json!({"durationDays": 4,
        "fallbackReviewers": [{"type": "user", "id": o.nestor.0}]}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    assign(&app, &o.adele.1, pkg.package).await;
    assign(&app, &o.alex.1, pkg.package).await;
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    assert_eq!(
        r["remindDateTime"],
        json!(rfc(start_time() + Duration::hours(1) + Duration::days(3)))
    );
    let adele_item = item_of(&app, &o.t, &r, o.adele.0).await;
    let (status, _) = decide(&app, &o.megan.1, &r, &adele_item, "approve", None).await;
    assert_eq!(status, StatusCode::OK);

    app.clock.advance(Duration::days(3) - Duration::minutes(1));
    settle(&app).await;
    assert!(
        emailed(&app, "reviewReminder", &r).await.is_empty(),
        "not yet"
    );

    app.clock.advance(Duration::minutes(2));
    let reminded = eventually(&app, "the reminder", async || {
        let to = emailed(&app, "reviewReminder", &r).await;
        (!to.is_empty()).then_some(to)
    })
    .await;
    assert_eq!(
        reminded,
        vec![o.nestor.0],
        "only who still has undecided items"
    );

    app.clock.advance(Duration::hours(12));
    settle(&app).await;
    assert_eq!(
        emailed(&app, "reviewReminder", &r).await,
        vec![o.nestor.0],
        "once"
    );
    let (_, got) = app
        .get(
            &o.t.admin,
            &format!("/api/v1/accessReviews/{}", r["id"].as_str().unwrap()),
        )
        .await;
    assert!(got["remindedDateTime"].is_string(), "{got}");
}
