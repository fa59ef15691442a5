//! Two tenants on one server: every id of the other tenant answers 404, exactly like an
//! id that does not exist, and lists never show the other tenant's objects.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn another_tenants_ids_answer_404_on_every_directory_endpoint() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let (b_user, _) = app.user(&b, "bob@beta.test", json!({})).await;
    let (_, b_group) = app
        .post(
            &b.admin,
            "/api/v1/groups",
            json!({"displayName": "Beta group"}),
        )
        .await;
    let b_group = uuid_of(&b_group["id"]);
    let (_, b_role) = app
        .post(
            &b.admin,
            "/api/v1/roleAssignments",
            json!({"role": "catalogCreator", "principal": {"type": "user", "id": b_user}}),
        )
        .await;
    let b_role = uuid_of(&b_role["id"]);
    let (a_user, _) = app.user(&a, "ann@alpha.test", json!({})).await;
    let (_, a_group) = app
        .post(
            &a.admin,
            "/api/v1/groups",
            json!({"displayName": "Alpha group"}),
        )
        .await;
    let a_group = uuid_of(&a_group["id"]);

    let calls: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/v1/users/{b_user}"), None),
        (
            Method::PATCH,
            format!("/api/v1/users/{b_user}"),
            Some(json!({"displayName": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/users/{b_user}"), None),
        (Method::GET, format!("/api/v1/groups/{b_group}"), None),
        (
            Method::PATCH,
            format!("/api/v1/groups/{b_group}"),
            Some(json!({"displayName": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/groups/{b_group}"), None),
        (
            Method::GET,
            format!("/api/v1/groups/{b_group}/members"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/groups/{b_group}/members"),
            Some(json!({"userId": a_user})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/groups/{b_group}/members/{b_user}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/roleAssignments/{b_role}"),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let (status, problem) = app.call(method.clone(), &a.admin, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
        assert_eq!(problem["status"], 404);
    }

    // Pointing at another tenant's user from one's own objects is refused too.
    let (status, problem) = app
        .post(
            &a.admin,
            &format!("/api/v1/groups/{a_group}/members"),
            json!({"userId": b_user}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, problem) = app
        .patch(
            &a.admin,
            &format!("/api/v1/users/{a_user}"),
            json!({"managerId": b_user}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["managerId"].is_string(), "{problem}");

    // Nothing of beta changed.
    let (status, user) = app.get(&b.admin, &format!("/api/v1/users/{b_user}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["active"], true);
    assert_eq!(user["displayName"], "bob");
}

#[tokio::test]
async fn lists_show_only_the_callers_tenant() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    app.user(&b, "bob@beta.test", json!({})).await;
    app.post(
        &b.admin,
        "/api/v1/groups",
        json!({"displayName": "Beta group"}),
    )
    .await;

    for path in [
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/roleAssignments",
        "/api/v1/auditEvents",
    ] {
        let (status, list) = app.get(&a.admin, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let text = list.to_string();
        assert!(
            !text.contains("beta"),
            "{path} leaks the other tenant: {text}"
        );
    }
    let (_, users) = app.get(&a.admin, "/api/v1/users?search=bob").await;
    assert_eq!(users["items"], json!([]));
}
