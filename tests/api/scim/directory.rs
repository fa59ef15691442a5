//! What the directory drives in Portico: deactivation ends access, its memberships are
//! a source of their own, the manager feeds manager approvals, and the attributes it
//! pushes are its own.

use reqwest::StatusCode;
use serde_json::json;

use super::{ENTERPRISE, GROUP, scim};
use crate::fixtures::{group_package, open_policy, request, sources};
use crate::helpers::TestApp;

#[tokio::test]
async fn active_false_ends_the_persons_access_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let id = s.user("ada@acme.test", json!({})).await;
    let token = app.token("acme", "ada@acme.test").await;
    let p = group_package(&app, &t, "Wiki", open_policy(json!({}))).await;
    let (status, req) = request(&app, &token, p.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    let uid = uuid::Uuid::parse_str(&id).expect("uuid");
    assert_eq!(sources(&app, p.group, uid).await.len(), 1, "delivered");

    let (status, _) = s
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        sources(&app, p.group, uid).await.is_empty(),
        "the assignment's membership is gone"
    );
    let state: String = sqlx::query_scalar(
        "select state from assignments where tenant_id = $1 and target_user_id = $2",
    )
    .bind(t.id)
    .bind(uid)
    .fetch_one(&app.pool)
    .await
    .expect("assignment");
    assert_eq!(state, "removed");
    let (status, _) = app.get(&token, "/api/v1/me").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "their API tokens are revoked"
    );
}

#[tokio::test]
async fn directory_and_portico_memberships_never_remove_each_other() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let id = s.user("ada@acme.test", json!({})).await;
    let other = s.user("bob@acme.test", json!({})).await;
    let (status, g) = app
        .post(&t.admin, "/api/v1/groups", json!({"displayName": "Ops"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let g = g["id"].as_str().expect("id").to_string();
    let (status, _) = app
        .post(
            &t.admin,
            &format!("/api/v1/groups/{g}/members"),
            json!({"userId": id}),
        )
        .await;
    assert!(status.is_success());
    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (gid, uid) = (
        uuid::Uuid::parse_str(&g).expect("g"),
        uuid::Uuid::parse_str(&id).expect("u"),
    );
    assert_eq!(
        sources(&app, gid, uid).await.len(),
        2,
        "direct and directory rows"
    );

    // A SCIM PUT of the members replaces only the directory's.
    let (status, _) = s
        .put(
            &format!("/Groups/{g}"),
            json!({"schemas": [GROUP], "displayName": "Ops", "members": [{"value": other}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sources(&app, gid, uid).await, vec!["direct".to_string()]);
    let (_, members) = app
        .get(&t.admin, &format!("/api/v1/groups/{g}/members"))
        .await;
    assert_eq!(members["items"].as_array().map(Vec::len), Some(2));

    // Portico's removal leaves the directory's membership alone, and says so.
    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/groups/{g}/members/{other}"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(s.members(&g).await, vec![other.clone()]);
    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/groups/{g}/members/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(sources(&app, gid, uid).await.is_empty());
}

#[tokio::test]
async fn the_directorys_manager_decides_manager_approvals() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let boss = s.user("boss@acme.test", json!({})).await;
    s.user(
        "ada@acme.test",
        json!({ENTERPRISE: {"manager": {"value": boss}}}),
    )
    .await;
    let token = app.token("acme", "ada@acme.test").await;
    let p = group_package(
        &app,
        &t,
        "Finance",
        open_policy(json!({"approval": {"stages": [{"approvers": [{"type": "manager"}], "decision": "anyOne", "timeoutDays": 7}]}})),
    )
    .await;
    let (status, req) = request(
        &app,
        &token,
        p.package,
        json!({"justification": "month end"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["stages"][0]["approverIds"], json!([boss]));
    let (status, bad) = s
        .post("/Users", json!({"userName": "eve@acme.test", ENTERPRISE: {"manager": {"value": uuid::Uuid::now_v7().to_string()}}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["scimType"], "invalidValue");
}

#[tokio::test]
async fn portico_refuses_to_change_what_the_directory_owns_but_may_deactivate() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let id = s.user("ada@acme.test", json!({"title": "Engineer"})).await;
    let (status, problem) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{id}"),
            json!({"jobTitle": "CEO"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem.to_string().contains("identity provider"),
        "{problem}"
    );
    let (status, _) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{id}"),
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(portico["jobTitle"], "Engineer");
    assert_eq!(portico["active"], false);
}

#[tokio::test]
async fn the_admin_page_shows_directory_owned_fields_read_only_and_a_forged_save_is_refused() {
    let app = TestApp::spawn().await;
    let (t, b) = crate::helpers::portal::admin_of(&app, "acme").await;
    let s = scim(&app, &t).await;
    let id = s.user("ada@acme.test", json!({"title": "Engineer"})).await;
    let page = b.get(&format!("/admin/users/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("managed by your identity provider"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Engineer"));
    assert!(!page.body.contains("name=\"jobTitle\""), "no field to edit");
    assert!(
        page.body.contains("Deactivate"),
        "deactivation stays Portico's"
    );
    let forged = b
        .post(
            &format!("/admin/users/{id}"),
            &[("email", "ada@acme.test"), ("displayName", "Someone else")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::CONFLICT, "{}", forged.body);
    assert!(forged.body.contains("identity provider"));
    // A user Portico created keeps its form.
    let (uid, _) = app.user(&t, "bob@acme.test", json!({})).await;
    let page = b.get(&format!("/admin/users/{uid}")).await;
    assert!(page.body.contains("name=\"jobTitle\""));
}
