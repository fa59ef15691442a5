//! The directory API: users (create, validate, manage, search, paginate, deactivate) and
//! groups with their owners and members, whose memberships carry their sources.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, uuid_of};

async fn create_user(app: &TestApp, t: &TestTenant, body: Value) -> (StatusCode, Value) {
    app.post(&t.admin, "/api/v1/users", body).await
}

/// Sends `body` as is, with the given content type, and returns status, content type
/// and parsed body.
async fn post_raw(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, String, Value) {
    let res = app
        .request(Method::POST, token, path)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (status, body) = crate::helpers::read(res).await;
    (status, content_type, body)
}

fn ids(list: &Value) -> Vec<uuid::Uuid> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| uuid_of(&i["id"]))
        .collect()
}

// ---------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_user_returns_201_with_the_full_representation_including_nulls() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, user) = create_user(
        &app,
        &t,
        json!({"email": "ada@acme.test", "displayName": "Ada Lovelace"}),
    )
    .await;

    assert_eq!(status, StatusCode::CREATED, "{user}");
    let keys: HashSet<&str> = user
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: HashSet<&str> = [
        "id",
        "email",
        "displayName",
        "department",
        "jobTitle",
        "managerId",
        "kind",
        "active",
        "externalId",
        "lastSignInAt",
        "timeZone",
        "createdAt",
        "updatedAt",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected, "{user}");
    assert_eq!(user["email"], "ada@acme.test");
    assert_eq!(user["displayName"], "Ada Lovelace");
    assert_eq!(user["department"], Value::Null);
    assert_eq!(user["jobTitle"], Value::Null);
    assert_eq!(user["managerId"], Value::Null);
    assert_eq!(user["externalId"], Value::Null);
    assert_eq!(user["lastSignInAt"], Value::Null);
    assert_eq!(user["kind"], "member");
    assert_eq!(user["active"], true);
    assert_eq!(user["createdAt"], "2027-01-04T09:00:00Z");
    assert_eq!(user["updatedAt"], "2027-01-04T09:00:00Z");

    let id = uuid_of(&user["id"]);
    let (status, fetched) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, user);
}

#[tokio::test]
async fn invalid_user_fields_are_422_naming_each_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let cases = [
        (json!({"displayName": "No Email"}), "email"),
        (
            json!({"email": "not-an-email", "displayName": "Bad Email"}),
            "email",
        ),
        (
            json!({"email": "ok@acme.test", "displayName": "   "}),
            "displayName",
        ),
        (
            json!({"email": "ok@acme.test", "displayName": "Kind", "kind": "robot"}),
            "kind",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = create_user(&app, &t, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {problem}"
        );
        assert_eq!(problem["status"], 422);
        assert!(
            problem["errors"][field].is_string(),
            "{body} should name {field}: {problem}"
        );
    }

    let (_, users) = app.get(&t.admin, "/api/v1/users?search=ok@acme").await;
    assert_eq!(
        users["items"],
        json!([]),
        "no user was created by a refused request"
    );
}

#[tokio::test]
async fn malformed_json_and_a_wrong_content_type_are_400_problems() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, content_type, problem) = post_raw(
        &app,
        &t.admin,
        "/api/v1/users",
        "application/json",
        "{\"email\": ",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["status"], 400);

    let body = json!({"email": "ada@acme.test", "displayName": "Ada"}).to_string();
    let (status, content_type, problem) =
        post_raw(&app, &t.admin, "/api/v1/users", "text/plain", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("application/json"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_duplicate_email_differing_only_in_case_is_422_on_email() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (status, _) = create_user(
        &app,
        &t,
        json!({"email": "ada@acme.test", "displayName": "Ada"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, problem) = create_user(
        &app,
        &t,
        json!({"email": "ADA@Acme.Test", "displayName": "Ada again"}),
    )
    .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["email"].is_string(), "{problem}");
}

#[tokio::test]
async fn a_manager_is_set_and_cleared_with_patch() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (boss, _) = app.user(&t, "boss@acme.test", json!({})).await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, user) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{ada}"),
            json!({"managerId": boss}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(uuid_of(&user["managerId"]), boss);

    let (status, user) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{ada}"),
            json!({"jobTitle": "Analyst"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        uuid_of(&user["managerId"]),
        boss,
        "an absent field stays unchanged"
    );
    assert_eq!(user["jobTitle"], "Analyst");

    let (status, user) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{ada}"),
            json!({"managerId": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["managerId"], Value::Null);
    let (_, fetched) = app.get(&t.admin, &format!("/api/v1/users/{ada}")).await;
    assert_eq!(fetched["managerId"], Value::Null);
    assert_eq!(fetched["jobTitle"], "Analyst");
}

#[tokio::test]
async fn a_manager_loop_is_refused_on_manager_id() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (a, _) = app.user(&t, "a@acme.test", json!({})).await;
    let (b, _) = app.user(&t, "b@acme.test", json!({"managerId": a})).await;
    let (c, _) = app.user(&t, "c@acme.test", json!({"managerId": b})).await;

    let (status, problem) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{a}"),
            json!({"managerId": c}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["managerId"].is_string(), "{problem}");

    let (status, problem) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{a}"),
            json!({"managerId": a}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["managerId"].is_string(), "{problem}");

    let (_, user) = app.get(&t.admin, &format!("/api/v1/users/{a}")).await;
    assert_eq!(user["managerId"], Value::Null);
}

#[tokio::test]
async fn users_are_found_by_part_of_their_name_or_email() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (grace, _) = app
        .user(
            &t,
            "grace@acme.test",
            json!({"displayName": "Grace Hopper"}),
        )
        .await;
    let (alan, _) = app
        .user(&t, "alan@acme.test", json!({"displayName": "Alan Turing"}))
        .await;

    let (status, by_name) = app.get(&t.admin, "/api/v1/users?search=hopper").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&by_name), vec![grace]);

    let (_, by_email) = app.get(&t.admin, "/api/v1/users?search=ALAN%40acme").await;
    assert_eq!(ids(&by_email), vec![alan]);

    let (_, none) = app.get(&t.admin, "/api/v1/users?search=zuse").await;
    assert_eq!(none["items"], json!([]));
    assert_eq!(none["nextCursor"], Value::Null);
}

#[tokio::test]
async fn pages_of_users_follow_next_cursor_newest_first_without_duplicates() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            app.user(&t, &format!("user{i}@acme.test"), json!({}))
                .await
                .0,
        );
    }

    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=2".to_string();
    let mut pages = 0;
    loop {
        let (status, page) = app.get(&t.admin, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let items = ids(&page);
        assert!(items.len() <= 2, "{page}");
        seen.extend(items);
        pages += 1;
        assert!(pages <= 10, "the cursor never ended");
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }

    // Five users and the tenant admin, each exactly once, newest first.
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        6,
        "duplicates: {seen:?}"
    );
    assert_eq!(pages, 3);
    let newest_first: Vec<uuid::Uuid> = created.iter().rev().copied().collect();
    assert_eq!(&seen[..5], &newest_first[..]);
    assert_eq!(seen[5], t.admin_id);
}

#[tokio::test]
async fn out_of_range_limits_and_unknown_cursors_are_422() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    for path in [
        "/api/v1/users?limit=0",
        "/api/v1/users?limit=501",
        "/api/v1/users?limit=lots",
    ] {
        let (status, problem) = app.get(&t.admin, path).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {problem}"
        );
        assert!(problem["errors"]["limit"].is_string(), "{path}: {problem}");
    }
    let (status, _) = app.get(&t.admin, "/api/v1/users?limit=500").await;
    assert_eq!(status, StatusCode::OK);

    let (status, problem) = app.get(&t.admin, "/api/v1/users?cursor=not-a-cursor").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["cursor"].is_string(), "{problem}");
}

#[tokio::test]
async fn a_member_without_roles_may_read_users_but_not_change_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let (bob, _) = app.user(&t, "bob@acme.test", json!({})).await;

    let (status, list) = app.get(&ada_token, "/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ids(&list).contains(&bob));
    let (status, user) = app.get(&ada_token, &format!("/api/v1/users/{bob}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["email"], "bob@acme.test");

    let (status, problem) = app
        .post(
            &ada_token,
            "/api/v1/users",
            json!({"email": "eve@acme.test", "displayName": "Eve"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["status"], 403);
    let (status, _) = app
        .patch(
            &ada_token,
            &format!("/api/v1/users/{bob}"),
            json!({"displayName": "Robert"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .patch(
            &ada_token,
            &format!("/api/v1/users/{ada}"),
            json!({"jobTitle": "CEO"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "members may not edit even themselves"
    );
    let (status, _) = app
        .delete(&ada_token, &format!("/api/v1/users/{bob}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (_, bob_now) = app.get(&t.admin, &format!("/api/v1/users/{bob}")).await;
    assert_eq!(bob_now["displayName"], "bob");
    assert_eq!(bob_now["active"], true);
    let (_, eve) = app.get(&t.admin, "/api/v1/users?search=eve@").await;
    assert_eq!(eve["items"], json!([]));
}

#[tokio::test]
async fn a_guest_cannot_list_the_directory() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (guest, guest_token) = app
        .user(&t, "guest@partner.test", json!({"kind": "guest"}))
        .await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, problem) = app.get(&guest_token, "/api/v1/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, _) = app.get(&guest_token, "/api/v1/users?search=ada").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&guest_token, &format!("/api/v1/users/{ada}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, me) = app
        .get(&guest_token, &format!("/api/v1/users/{guest}"))
        .await;
    assert_eq!(status, StatusCode::OK, "a guest may read themselves");
    assert_eq!(me["kind"], "guest");
}

#[tokio::test]
async fn deleting_a_user_deactivates_them_and_keeps_them_readable() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app
        .user(&t, "ada@acme.test", json!({"department": "Research"}))
        .await;

    let (status, user) = app.delete(&t.admin, &format!("/api/v1/users/{ada}")).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["active"], false);

    let (status, user) = app.get(&t.admin, &format!("/api/v1/users/{ada}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["active"], false);
    assert_eq!(user["email"], "ada@acme.test");
    assert_eq!(user["department"], "Research");
    let (_, list) = app.get(&t.admin, "/api/v1/users?search=ada@").await;
    assert_eq!(
        ids(&list),
        vec![ada],
        "deactivated users stay in the directory"
    );
}

// ---------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------

async fn create_group(app: &TestApp, t: &TestTenant, body: Value) -> uuid::Uuid {
    let (status, group) = app.post(&t.admin, "/api/v1/groups", body).await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    uuid_of(&group["id"])
}

async fn members(app: &TestApp, token: &str, group: uuid::Uuid) -> Value {
    let (status, list) = app
        .get(token, &format!("/api/v1/groups/{group}/members"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"].clone()
}

#[tokio::test]
async fn a_group_is_created_read_patched_and_deleted() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    let (bob, _) = app.user(&t, "bob@acme.test", json!({})).await;

    let (status, group) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Testers", "ownerIds": [ada]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(group["displayName"], "Testers");
    assert_eq!(group["description"], "");
    assert_eq!(group["ownerIds"], json!([ada]));
    assert_eq!(group["createdAt"], "2027-01-04T09:00:00Z");
    let id = uuid_of(&group["id"]);

    let (status, fetched) = app.get(&t.admin, &format!("/api/v1/groups/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, group);

    app.clock.advance(chrono::Duration::minutes(5));
    let (status, patched) = app
        .patch(
            &t.admin,
            &format!("/api/v1/groups/{id}"),
            json!({"description": "Beta testers", "ownerIds": [bob]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["displayName"], "Testers");
    assert_eq!(patched["description"], "Beta testers");
    assert_eq!(
        patched["ownerIds"],
        json!([bob]),
        "ownerIds replaces the direct owners"
    );
    assert_eq!(patched["updatedAt"], "2027-01-04T09:05:00Z");

    let (status, body) = app.delete(&t.admin, &format!("/api/v1/groups/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, problem) = app.get(&t.admin, &format!("/api/v1/groups/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, _) = app.delete(&t.admin, &format!("/api/v1/groups/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_group_with_an_unknown_owner_or_no_name_is_422() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Ghosts", "ownerIds": [uuid::Uuid::now_v7()]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["ownerIds"].is_string(), "{problem}");

    let (status, problem) = app
        .post(&t.admin, "/api/v1/groups", json!({"description": "x"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["displayName"].is_string(), "{problem}");
}

#[tokio::test]
async fn adding_a_member_twice_is_201_then_200_and_never_409() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    let group = create_group(&app, &t, json!({"displayName": "Testers"})).await;
    let path = format!("/api/v1/groups/{group}/members");

    let (status, member) = app.post(&t.admin, &path, json!({"userId": ada})).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    assert_eq!(uuid_of(&member["userId"]), ada);

    let (status, member) = app.post(&t.admin, &path, json!({"userId": ada})).await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(uuid_of(&member["userId"]), ada);

    assert_eq!(
        members(&app, &t.admin, group).await,
        json!([{"userId": ada, "sources": ["direct"]}])
    );
}

#[tokio::test]
async fn removing_a_member_removes_the_direct_source_and_a_second_removal_is_404() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    let group = create_group(&app, &t, json!({"displayName": "Testers"})).await;
    app.post(
        &t.admin,
        &format!("/api/v1/groups/{group}/members"),
        json!({"userId": ada}),
    )
    .await;

    let (status, body) = app
        .delete(&t.admin, &format!("/api/v1/groups/{group}/members/{ada}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(members(&app, &t.admin, group).await, json!([]));

    let (status, problem) = app
        .delete(&t.admin, &format!("/api/v1/groups/{group}/members/{ada}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}

#[tokio::test]
async fn a_group_owner_may_read_its_members_and_another_member_may_not() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (owner, owner_token) = app.user(&t, "owner@acme.test", json!({})).await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let group = create_group(
        &app,
        &t,
        json!({"displayName": "Testers", "ownerIds": [owner]}),
    )
    .await;
    app.post(
        &t.admin,
        &format!("/api/v1/groups/{group}/members"),
        json!({"userId": ada}),
    )
    .await;

    assert_eq!(
        members(&app, &owner_token, group).await,
        json!([{"userId": ada, "sources": ["direct"]}])
    );

    let (status, problem) = app
        .get(&ada_token, &format!("/api/v1/groups/{group}/members"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");

    // Owning a group does not make one a directory admin.
    let (status, _) = app
        .post(
            &owner_token,
            &format!("/api/v1/groups/{group}/members"),
            json!({"userId": owner}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
