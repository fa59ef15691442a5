//! `POST /api/v1/assignments/bulkRemove` and `/bulkExtend`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{counts, users};
use crate::fixtures::{group_package, open_policy};
use crate::helpers::{TestApp, TestTenant, start_time};

/// Assigns `package` to each of `names` and returns the assignment ids.
async fn assigned(app: &TestApp, t: &TestTenant, package: Uuid, names: &[&str]) -> Vec<Value> {
    users(app, t, names).await;
    let emails: Vec<String> = names
        .iter()
        .map(|n| format!("{n}@{}.test", t.slug))
        .collect();
    let (status, v) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{package}/assignments/bulk"),
            json!({"emails": emails}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["assignmentId"].clone())
        .collect()
}

#[tokio::test]
async fn bulk_removal_removes_every_selected_assignment() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let ids = assigned(&app, &t, gp.package, &["ada", "bob", "cy"]).await;

    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignments/bulkRemove",
            json!({"ids": &ids[..2]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["done"], 2, "{v}");
    assert_eq!(v["rows"][0]["email"], "ada@contoso.test");
    for (i, id) in ids.iter().enumerate() {
        let (_, a) = app
            .get(
                &t.admin,
                &format!("/api/v1/assignments/{}", id.as_str().expect("id")),
            )
            .await;
        let expected = if i < 2 { "removed" } else { "delivered" };
        assert_eq!(a["state"], expected, "{a}");
    }
    let removed: Uuid = ids[0].as_str().expect("id").parse().expect("uuid");
    assert!(
        app.audit_actions(removed)
            .await
            .contains(&"assignment.ended".to_string())
    );
}

#[tokio::test]
async fn bulk_removal_with_another_tenants_or_an_ended_assignment_does_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let other = app.tenant("fabrikam").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let theirs = group_package(&app, &other, "Theirs", open_policy(json!({}))).await;
    let ids = assigned(&app, &t, gp.package, &["ada", "bob"]).await;
    let their_ids = assigned(&app, &other, theirs.package, &["zed"]).await;
    let (status, _) = app
        .post(
            &t.admin,
            "/api/v1/assignments/bulkRemove",
            json!({"ids": [ids[1]]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = (counts(&app, &t).await, counts(&app, &other).await);

    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignments/bulkRemove",
            json!({"ids": [ids[0], their_ids[0], ids[1], ids[0]]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let errors = &v["errors"];
    assert!(errors.get("rows[0].id").is_none(), "{v}");
    assert!(
        errors["rows[1].id"]
            .as_str()
            .unwrap_or_default()
            .contains("no assignment"),
        "{v}"
    );
    assert!(
        errors["rows[2].id"]
            .as_str()
            .unwrap_or_default()
            .contains("removed"),
        "{v}"
    );
    assert!(
        errors["rows[3].id"]
            .as_str()
            .unwrap_or_default()
            .contains("earlier row"),
        "{v}"
    );
    assert_eq!((counts(&app, &t).await, counts(&app, &other).await), before);
    let (_, a) = app
        .get(
            &other.admin,
            &format!("/api/v1/assignments/{}", their_ids[0].as_str().expect("id")),
        )
        .await;
    assert_eq!(
        a["state"], "delivered",
        "the other tenant's assignment is untouched"
    );
}

#[tokio::test]
async fn a_member_may_not_remove_or_extend_in_bulk() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let ids = assigned(&app, &t, gp.package, &["ada"]).await;
    let (_, member) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (status, v) = app
        .post(
            &member,
            "/api/v1/assignments/bulkRemove",
            json!({"ids": ids}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = app
        .post(
            &member,
            "/api/v1/assignments/bulkExtend",
            json!({"ids": ids, "endDateTime": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignments/bulkRemove",
            json!({"ids": []}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"]["ids"].is_string(), "{v}");
}

#[tokio::test]
async fn bulk_extension_keeps_within_each_policys_caps() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let monthly = group_package(
        &app,
        &t,
        "Monthly",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 30}, "extension": {"allowed": true, "requireApproval": false}})),
    )
    .await;
    let fixed = group_package(
        &app,
        &t,
        "Fixed",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 30}, "extension": {"allowed": false, "requireApproval": false}})),
    )
    .await;
    let ids = assigned(&app, &t, monthly.package, &["ada", "bob"]).await;
    let users_of_fixed = ["cy"];
    let fixed_ids = assigned(&app, &t, fixed.package, &users_of_fixed).await;
    app.clock.advance(chrono::Duration::days(20));
    // Access ends at start + 30 days; one extension reaches start + 60 days at most.
    let within = start_time() + chrono::Duration::days(50);
    let beyond = start_time() + chrono::Duration::days(61);
    let before = counts(&app, &t).await;

    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignments/bulkExtend",
            json!({"ids": [ids[0], ids[1], fixed_ids[0]], "endDateTime": beyond}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["errors"]["rows[0].end"]
            .as_str()
            .unwrap_or_default()
            .contains("at the latest"),
        "{v}"
    );
    assert!(
        v["errors"]["rows[2].id"]
            .as_str()
            .unwrap_or_default()
            .contains("does not allow extending"),
        "{v}"
    );
    assert_eq!(counts(&app, &t).await, before, "nothing was extended");

    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignments/bulkExtend",
            json!({"ids": ids, "endDateTime": within}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    for id in &ids {
        let (_, a) = app
            .get(
                &t.admin,
                &format!("/api/v1/assignments/{}", id.as_str().expect("id")),
            )
            .await;
        let end = chrono::DateTime::parse_from_rfc3339(a["endDateTime"].as_str().expect("end"))
            .expect("time");
        assert_eq!(end, within, "{a}");
    }
}
