//! Who sees which reviews and items, and another tenant's answering 404.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use super::{assign, instance, item_of, items, org, review};
use crate::fixtures::{group_package, open_policy};
use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn reviews_are_listed_for_those_who_may_see_them() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(
        &app,
        &o.t,
        "Pkg",
        open_policy(json!({"review": review(json!({}))})),
    )
    .await;
    assign(&app, &o.adele.1, pkg.package).await;
    let (status, body) = app
        .post(
            &o.t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "catalogReader", "principal": {"type": "user", "id": o.nestor.0}, "catalogId": pkg.catalog}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let listed = async |token: &str, query: &str| {
        let (status, list) = app
            .get(token, &format!("/api/v1/accessReviews{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| uuid_of(&i["id"]))
            .collect::<Vec<_>>()
    };
    let id = uuid_of(&r["id"]);

    assert_eq!(listed(&o.t.admin, "").await, vec![id]);
    assert_eq!(listed(&o.megan.1, "").await, vec![id], "a reviewer");
    assert_eq!(listed(&o.megan.1, "?mine=true").await, vec![id]);
    assert_eq!(listed(&o.nestor.1, "").await, vec![id], "a catalog reader");
    assert!(listed(&o.nestor.1, "?mine=true").await.is_empty());
    assert!(listed(&o.pradeep.1, "").await.is_empty(), "nobody else");
    assert!(listed(&o.adele.1, "").await.is_empty(), "not the holder");
    assert_eq!(listed(&o.t.admin, "?state=inProgress").await, vec![id]);
    assert!(listed(&o.t.admin, "?state=applied").await.is_empty());
    assert_eq!(
        listed(&o.t.admin, &format!("?accessPackageId={}", pkg.package)).await,
        vec![id]
    );
    let (status, _) = app
        .get(&o.megan.1, &format!("/api/v1/accessReviews/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .get(&o.pradeep.1, &format!("/api/v1/accessReviews/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, nestor_items) = items(&app, &o.nestor.1, &r, "").await;
    assert_eq!(nestor_items.len(), 1, "catalog readers read every item");

    for query in ["?state=done", "?limit=0", "?cursor=nope", "?mine=perhaps"] {
        let (status, p) = app
            .get(&o.t.admin, &format!("/api/v1/accessReviews{query}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {p}");
    }
    let (status, _) = app
        .get(&o.t.admin, "/api/v1/accessReviews/not-a-uuid")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, api) = app.get(&o.t.admin, "/api/v1/openapi.json").await;
    assert!(api["paths"]["/api/v1/accessReviews/{id}/items/{itemId}/decision"]["post"].is_object());
}

#[tokio::test]
async fn another_tenants_reviews_and_items_answer_404() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(
        &app,
        &o.t,
        "Pkg",
        open_policy(json!({"review": review(json!({"autoApply": false}))})),
    )
    .await;
    assign(&app, &o.adele.1, pkg.package).await;
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let item = item_of(&app, &o.t, &r, o.adele.0).await;
    let other = app.tenant("fabrikam").await;
    let id = r["id"].as_str().unwrap();
    let item_id = item["id"].as_str().unwrap();

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/accessReviews/{id}"), None),
        (
            Method::GET,
            format!("/api/v1/accessReviews/{id}/items"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/accessReviews/{id}/items/{item_id}/decision"),
            Some(json!({"decision": "deny"})),
        ),
        (
            Method::POST,
            format!("/api/v1/accessReviews/{id}/stop"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/accessReviews/{id}/apply"),
            Some(json!({})),
        ),
    ] {
        let (status, p) = app.call(method.clone(), &other.admin, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {p}");
        assert_eq!(p["status"], 404, "problem+json: {p}");
    }
    let (_, list) = app.get(&other.admin, "/api/v1/accessReviews").await;
    assert_eq!(list["items"], json!([]));
    // An item id of another instance is unknown in this one.
    let (status, _) = app
        .post(
            &o.megan.1,
            &format!(
                "/api/v1/accessReviews/{id}/items/{}/decision",
                Uuid::now_v7()
            ),
            json!({"decision": "deny"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        item_of(&app, &o.t, &r, o.adele.0).await["decision"],
        "notReviewed"
    );
}
