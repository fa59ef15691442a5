//! Delegated administration: who may grant which role, where, and what the grantee then
//! holds (directly or through a group).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, uuid_of};

async fn general_catalog(app: &TestApp, t: &TestTenant) -> uuid::Uuid {
    sqlx::query_scalar("select id from catalogs where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("the General catalog")
}

async fn roles_of(app: &TestApp, token: &str) -> Value {
    let (status, me) = app.get(token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["roles"].clone()
}

fn grant(role: &str, principal_type: &str, id: uuid::Uuid) -> Value {
    json!({"role": role, "principal": {"type": principal_type, "id": id}})
}

#[tokio::test]
async fn a_tenant_admin_grants_catalog_creator_to_a_user_who_then_holds_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    assert_eq!(roles_of(&app, &ada_token).await, json!([]));

    let (status, assignment) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            grant("catalogCreator", "user", ada),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{assignment}");
    assert_eq!(assignment["role"], "catalogCreator");
    assert_eq!(assignment["principal"], json!({"type": "user", "id": ada}));
    assert_eq!(assignment["catalogId"], Value::Null);
    assert!(assignment["id"].is_string());
    assert_eq!(
        roles_of(&app, &ada_token).await,
        json!([{"role": "catalogCreator", "catalogId": null}])
    );
    let (_, list) = app.get(&t.admin, "/api/v1/roleAssignments").await;
    let listed = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|a| a["id"] == assignment["id"]);
    assert!(listed, "{list}");
}

#[tokio::test]
async fn a_role_granted_to_a_group_is_held_by_its_members() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let (_, bob_token) = app.user(&t, "bob@acme.test", json!({})).await;
    let (_, group) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Creators"}),
        )
        .await;
    let group = uuid_of(&group["id"]);
    app.post(
        &t.admin,
        &format!("/api/v1/groups/{group}/members"),
        json!({"userId": ada}),
    )
    .await;

    let (status, assignment) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            grant("catalogCreator", "group", group),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{assignment}");
    assert_eq!(
        assignment["principal"],
        json!({"type": "group", "id": group})
    );
    assert_eq!(
        roles_of(&app, &ada_token).await,
        json!([{"role": "catalogCreator", "catalogId": null}])
    );
    assert_eq!(
        roles_of(&app, &bob_token).await,
        json!([]),
        "non-members get nothing"
    );

    // Leaving the group ends the role.
    app.delete(&t.admin, &format!("/api/v1/groups/{group}/members/{ada}"))
        .await;
    assert_eq!(roles_of(&app, &ada_token).await, json!([]));
}

#[tokio::test]
async fn a_catalog_scoped_role_without_a_catalog_is_422_on_catalog_id() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;

    for role in [
        "catalogOwner",
        "catalogReader",
        "packageManager",
        "assignmentManager",
    ] {
        let (status, problem) = app
            .post(
                &t.admin,
                "/api/v1/roleAssignments",
                grant(role, "user", ada),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{role}: {problem}"
        );
        assert!(
            problem["errors"]["catalogId"].is_string(),
            "{role}: {problem}"
        );
    }
}

#[tokio::test]
async fn a_tenant_wide_role_with_a_catalog_is_422_on_catalog_id() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    let general = general_catalog(&app, &t).await;

    for role in ["tenantAdmin", "catalogCreator"] {
        let mut body = grant(role, "user", ada);
        body["catalogId"] = json!(general);
        let (status, problem) = app.post(&t.admin, "/api/v1/roleAssignments", body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{role}: {problem}"
        );
        assert!(
            problem["errors"]["catalogId"].is_string(),
            "{role}: {problem}"
        );
    }
}

#[tokio::test]
async fn an_unknown_role_is_422_naming_role() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            grant("superUser", "user", ada),
        )
        .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["role"].is_string(), "{problem}");
}

#[tokio::test]
async fn a_member_without_roles_cannot_grant_roles() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;

    for role in ["tenantAdmin", "catalogCreator"] {
        let (status, problem) = app
            .post(
                &ada_token,
                "/api/v1/roleAssignments",
                grant(role, "user", ada),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {problem}");
    }
    assert_eq!(roles_of(&app, &ada_token).await, json!([]));
}

#[tokio::test]
async fn the_last_tenant_admin_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, list) = app.get(&t.admin, "/api/v1/roleAssignments").await;
    let admin_role = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|a| a["role"] == "tenantAdmin")
        .map(|a| uuid_of(&a["id"]))
        .expect("the first admin's role assignment");

    let (status, problem) = app
        .delete(&t.admin, &format!("/api/v1/roleAssignments/{admin_role}"))
        .await;

    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("last tenant admin"),
        "{problem}"
    );
    assert_eq!(
        roles_of(&app, &t.admin).await,
        json!([{"role": "tenantAdmin", "catalogId": null}])
    );

    // With a second admin, the first one's role can go.
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let (status, _) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            grant("tenantAdmin", "user", ada),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .delete(&ada_token, &format!("/api/v1/roleAssignments/{admin_role}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(roles_of(&app, &t.admin).await, json!([]));
}

#[tokio::test]
async fn a_catalog_owner_grants_roles_of_their_catalog_but_not_tenant_wide_ones() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = general_catalog(&app, &t).await;
    let (owner, owner_token) = app.user(&t, "owner@acme.test", json!({})).await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let mut owner_grant = grant("catalogOwner", "user", owner);
    owner_grant["catalogId"] = json!(general);
    let (status, body) = app
        .post(&t.admin, "/api/v1/roleAssignments", owner_grant)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let mut reader_grant = grant("catalogReader", "user", ada);
    reader_grant["catalogId"] = json!(general);
    let (status, assignment) = app
        .post(&owner_token, "/api/v1/roleAssignments", reader_grant)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{assignment}");
    assert_eq!(uuid_of(&assignment["catalogId"]), general);
    assert_eq!(
        roles_of(&app, &ada_token).await,
        json!([{"role": "catalogReader", "catalogId": general}])
    );

    let (status, problem) = app
        .post(
            &owner_token,
            "/api/v1/roleAssignments",
            grant("tenantAdmin", "user", ada),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");

    // Another catalog is out of the owner's reach.
    let other = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into catalogs (tenant_id, id, display_name, created_at, updated_at) values ($1, $2, 'Other', now(), now())",
    )
    .bind(t.id)
    .bind(other)
    .execute(&app.pool)
    .await
    .expect("insert a second catalog");
    let mut elsewhere = grant("catalogReader", "user", ada);
    elsewhere["catalogId"] = json!(other);
    let (status, problem) = app
        .post(&owner_token, "/api/v1/roleAssignments", elsewhere)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");

    assert_eq!(
        roles_of(&app, &ada_token).await,
        json!([{"role": "catalogReader", "catalogId": general}])
    );
}

#[tokio::test]
async fn granting_the_same_role_twice_is_409() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    let general = general_catalog(&app, &t).await;
    let mut body = grant("packageManager", "user", ada);
    body["catalogId"] = json!(general);
    let (status, _) = app
        .post(&t.admin, "/api/v1/roleAssignments", body.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, problem) = app.post(&t.admin, "/api/v1/roleAssignments", body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{problem}"
    );

    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            grant("catalogCreator", "user", ada),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{problem}");
    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            grant("catalogCreator", "user", ada),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "tenant-wide duplicates too: {problem}"
    );
}

#[tokio::test]
async fn a_member_without_roles_cannot_list_role_assignments() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, problem) = app.get(&ada_token, "/api/v1/roleAssignments").await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["status"], 403);
}

/// Deactivating the last tenant admin would lock the tenant out as surely as removing
/// their role: refused with the same 409, through the API and by themselves; with a
/// second admin it goes through.
#[tokio::test]
async fn the_last_tenant_admin_cannot_be_deactivated() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let path = format!("/api/v1/users/{}", t.admin_id);

    let (status, problem) = app.patch(&t.admin, &path, json!({"active": false})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("last tenant admin"),
        "{problem}"
    );
    let (status, problem) = app.delete(&t.admin, &path).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, me) = app.get(&t.admin, &path).await;
    assert_eq!(status, StatusCode::OK, "the admin still works: {me}");
    assert_eq!(me["active"], true);

    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    let (status, _) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            grant("tenantAdmin", "user", ada),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app.delete(&t.admin, &path).await;
    assert!(status.is_success(), "{status}: {body}");
}

/// Two admins deactivating each other at the same moment must not both succeed: the
/// tenant would be left without an admin. The checks are serialised, so one of them
/// is told the other is now the last tenant admin. (Eight tenants, so the race is run
/// eight times.)
#[tokio::test]
async fn two_admins_deactivating_each_other_at_once_leave_one_admin() {
    let app = TestApp::spawn().await;
    for round in 0..8 {
        let t = app.tenant(&format!("acme{round}")).await;
        let (ada, ada_token) = app
            .user(&t, &format!("ada@acme{round}.test"), json!({}))
            .await;
        let (status, body) = app
            .post(
                &t.admin,
                "/api/v1/roleAssignments",
                grant("tenantAdmin", "user", ada),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let deactivate = |token: String, other: uuid::Uuid| {
            let app = &app;
            async move {
                app.patch(
                    &token,
                    &format!("/api/v1/users/{other}"),
                    json!({"active": false}),
                )
                .await
                .0
            }
        };
        let (a, b) = tokio::join!(
            deactivate(t.admin.clone(), ada),
            deactivate(ada_token.clone(), t.admin_id)
        );
        let statuses = [a, b];
        assert_eq!(
            statuses.iter().filter(|s| s.is_success()).count(),
            1,
            "round {round}: exactly one goes through: {statuses:?}"
        );
        // The other is refused: told the one it deactivates is now the last admin
        // (409), or, when it arrives after the first committed, not signed in any
        // more (401), since it was the one deactivated.
        assert!(
            statuses
                .iter()
                .any(|s| *s == StatusCode::CONFLICT || *s == StatusCode::UNAUTHORIZED),
            "round {round}: {statuses:?}"
        );
    }
}
