//! My Access shows what you may request and what you have: the package list honours
//! each policy's requestor scope (members, guests, named people, nobody), a package you
//! hold says "You have this" with Extend and Remove instead of Request, and your access
//! has Active and Expired views, each ended assignment with why it ended.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::{self, group_package, open_policy, request};
use crate::helpers::portal::sign_in;
use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn the_package_list_shows_only_what_you_may_request_and_what_you_hold() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, adele) = app
        .user(&t, "adele@contoso.test", json!({"displayName": "Adele"}))
        .await;
    let (alex, _) = app
        .user(&t, "alex@contoso.test", json!({"displayName": "Alex"}))
        .await;
    app.user(&t, "guest@partner.test", json!({"kind": "guest"}))
        .await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let (status, body) = app
        .patch(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}"),
            json!({"externallyVisible": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let members = group_package(&app, &t, "Members Only", open_policy(json!({}))).await;
    group_package(
        &app,
        &t,
        "Alex Only",
        json!({"requestors": {"scope": "specific", "principals": [{"type": "user", "id": alex}]}}),
    )
    .await;
    group_package(&app, &t, "Closed", json!({"requestors": {"scope": "none"}})).await;
    group_package(
        &app,
        &t,
        "Everyone",
        json!({"requestors": {"scope": "allUsers"}}),
    )
    .await;

    let listed = |body: &str| {
        ["Members Only", "Alex Only", "Closed", "Everyone"]
            .into_iter()
            .filter(|name| body.contains(&format!(">{name}</a>")))
            .collect::<Vec<_>>()
    };
    let adele_b = sign_in(&app, "contoso", "adele@contoso.test").await;
    let page = adele_b.get("/packages").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(listed(&page.body), ["Members Only", "Everyone"]);
    let alex_b = sign_in(&app, "contoso", "alex@contoso.test").await;
    assert_eq!(
        listed(&alex_b.get("/packages").await.body),
        ["Members Only", "Alex Only", "Everyone"]
    );
    let guest_b = sign_in(&app, "contoso", "guest@partner.test").await;
    assert_eq!(listed(&guest_b.get("/packages").await.body), ["Everyone"]);

    // A package Adele holds says so, and offers Extend and Remove instead of Request.
    let (status, req) = request(&app, &adele, members.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    let page = adele_b.get("/packages").await;
    assert!(page.body.contains("You have this"), "{}", page.body);
    assert!(!page.body.contains("aria-label=\"Request Members Only\""));
    let assignment = uuid_of(&req["assignmentId"]);
    assert!(page.body.contains(&format!("/access/{assignment}/remove")));
    assert!(page.body.contains("aria-label=\"Request Everyone\""));
}

#[tokio::test]
async fn my_access_has_active_and_expired_views_with_why_access_ended() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (adele_id, adele) = app
        .user(&t, "adele@contoso.test", json!({"displayName": "Adele"}))
        .await;
    let kept = group_package(&app, &t, "Kept Access", open_policy(json!({}))).await;
    let given_up = group_package(&app, &t, "Given Up", open_policy(json!({}))).await;
    let taken = group_package(&app, &t, "Taken Away", open_policy(json!({}))).await;
    let mut held = Vec::new();
    for pkg in [&kept, &given_up, &taken] {
        let (status, r) = request(&app, &adele, pkg.package, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        held.push(r["assignmentId"].clone());
    }
    let (status, body) = app
        .post(
            &adele,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": held[1]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminRemove", "accessPackageId": taken.package, "targetUserId": adele_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let b = sign_in(&app, "contoso", "adele@contoso.test").await;
    let active = b.get("/access").await;
    assert_eq!(active.status, StatusCode::OK);
    assert!(active.body.contains("Kept Access"));
    assert!(!active.body.contains("Given Up") && !active.body.contains("Taken Away"));
    let expired = b.get("/access?tab=expired").await;
    assert_eq!(expired.status, StatusCode::OK);
    assert!(!expired.body.contains("Kept Access"), "{}", expired.body);
    assert!(expired.body.contains("Given Up") && expired.body.contains("You gave it up."));
    assert!(expired.body.contains("Taken Away") && expired.body.contains("An admin removed it."));
    assert!(expired.body.contains("aria-current=\"page\">Expired"));
}
