//! Catalogs and their resources: defaults, validation with field paths, who may do
//! what, write-only connector secrets, private webhook targets, and tenant isolation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, uuid_of};

async fn catalog(app: &TestApp, t: &TestTenant, name: &str) -> uuid::Uuid {
    let (status, body) = app
        .post(&t.admin, "/api/v1/catalogs", json!({"displayName": name}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    uuid_of(&body["id"])
}

async fn group(app: &TestApp, t: &TestTenant, name: &str) -> uuid::Uuid {
    let (status, body) = app
        .post(&t.admin, "/api/v1/groups", json!({"displayName": name}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    uuid_of(&body["id"])
}

/// Adds an application resource and returns its representation.
async fn app_resource(app: &TestApp, t: &TestTenant, catalog: uuid::Uuid, roles: &[&str]) -> Value {
    let (status, body) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Payroll", "roles": roles}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_new_catalog_is_answered_with_its_defaults_and_audited() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, created) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "  Marketing  "}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["displayName"], "Marketing");
    assert_eq!(created["description"], "");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["externallyVisible"], false);
    assert!(created["createdAt"].is_string() && created["updatedAt"].is_string());
    let id = uuid_of(&created["id"]);
    let (status, fetched) = app.get(&t.admin, &format!("/api/v1/catalogs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    assert_eq!(app.audit_actions(id).await, vec!["catalog.created"]);
}

#[tokio::test]
async fn a_catalog_needs_a_name_that_no_other_catalog_has_in_any_case() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, problem) = app.post(&t.admin, "/api/v1/catalogs", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["displayName"]);

    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "gENERAL"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(error_fields(&problem), vec!["displayName"]);

    let other = catalog(&app, &t, "Sales").await;
    let (status, problem) = app
        .patch(
            &t.admin,
            &format!("/api/v1/catalogs/{other}"),
            json!({"displayName": "General"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["errors"]["displayName"]
            .as_str()
            .is_some_and(|m| m.contains("already exists"))
    );

    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "X", "enabled": "yes"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["enabled"]);
}

#[tokio::test]
async fn patch_changes_the_fields_it_names_and_keeps_the_others() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let id = catalog(&app, &t, "Research").await;

    let (status, patched) = app
        .patch(
            &t.admin,
            &format!("/api/v1/catalogs/{id}"),
            json!({"description": "Lab access", "enabled": false, "externallyVisible": true}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["displayName"], "Research");
    assert_eq!(patched["description"], "Lab access");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["externallyVisible"], true);
    let (_, patched) = app
        .patch(
            &t.admin,
            &format!("/api/v1/catalogs/{id}"),
            json!({"description": null}),
        )
        .await;
    assert_eq!(patched["description"], "");
    assert_eq!(patched["enabled"], false);
    assert_eq!(
        app.audit_actions(id).await,
        vec!["catalog.created", "catalog.updated", "catalog.updated"]
    );
}

#[tokio::test]
async fn a_catalog_with_access_packages_cannot_be_deleted_and_an_empty_one_goes_with_its_resources()
{
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let id = catalog(&app, &t, "Temporary").await;
    let resource = app_resource(&app, &t, id, &["Reader"]).await;
    let (_, package) = app
        .post(
            &t.admin,
            "/api/v1/accessPackages",
            json!({"catalogId": id, "displayName": "Readers", "resourceRoleIds": []}),
        )
        .await;
    let package = uuid_of(&package["id"]);

    let (status, problem) = app
        .delete(&t.admin, &format!("/api/v1/catalogs/{id}"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("access package"))
    );

    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/accessPackages/{package}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/catalogs/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, _) = app.get(&t.admin, &format!("/api/v1/catalogs/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let left: i64 = sqlx::query_scalar("select count(*) from resources where id = $1")
        .bind(uuid_of(&resource["id"]))
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
    assert_eq!(
        app.audit_actions(id).await.last().map(String::as_str),
        Some("catalog.deleted")
    );
}

#[tokio::test]
async fn admins_list_every_catalog_role_holders_theirs_and_everyone_else_none() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let a = catalog(&app, &t, "Alpha").await;
    catalog(&app, &t, "Beta").await;
    let (_, reader) = app
        .user_with_role(&t, "rita@acme.test", "catalogReader", Some(a))
        .await;
    let (_, member) = app.user(&t, "max@acme.test", json!({})).await;

    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|c| c["displayName"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (status, all) = app.get(&t.admin, "/api/v1/catalogs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&all), vec!["Beta", "Alpha", "General"]);
    let (status, mine) = app.get(&reader, "/api/v1/catalogs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&mine), vec!["Alpha"]);
    let (status, none) = app.get(&member, "/api/v1/catalogs").await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert_eq!(none, json!({"items": [], "nextCursor": null}));
    let (status, _) = app.get(&member, &format!("/api/v1/catalogs/{a}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_catalog_creator_becomes_owner_of_each_catalog_they_create() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (creator_id, creator) = app
        .user_with_role(&t, "cleo@acme.test", "catalogCreator", None)
        .await;
    let general = app.general_catalog(&t).await;

    let (status, created) = app
        .post(
            &creator,
            "/api/v1/catalogs",
            json!({"displayName": "Cleo's"}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = uuid_of(&created["id"]);
    let (_, roles) = app.get(&t.admin, "/api/v1/roleAssignments").await;
    let owner = roles["items"]
        .as_array()
        .and_then(|items| {
            items.iter().find(|r| {
                r["role"] == "catalogOwner"
                    && r["catalogId"] == json!(id)
                    && r["principal"]["id"] == json!(creator_id)
            })
        })
        .cloned()
        .unwrap_or(Value::Null);
    assert!(owner.is_object(), "no owner role in {roles}");
    assert_eq!(
        app.audit_actions(uuid_of(&owner["id"])).await,
        vec!["roleAssignment.created"]
    );
    let (status, _) = app
        .patch(
            &creator,
            &format!("/api/v1/catalogs/{id}"),
            json!({"description": "mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .patch(
            &creator,
            &format!("/api/v1/catalogs/{general}"),
            json!({"description": "not mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, listed) = app.get(&creator, "/api/v1/catalogs").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_group_resource_takes_the_groups_name_and_the_roles_member_and_owner() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let g = group(&app, &t, "Testers").await;

    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{general}/resources"),
            json!({"kind": "group", "groupId": g}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{resource}");
    assert_eq!(resource["kind"], "group");
    assert_eq!(resource["displayName"], "Testers");
    assert_eq!(resource["description"], "");
    assert_eq!(resource["groupId"], json!(g));
    assert_eq!(resource["catalogId"], json!(general));
    assert_eq!(resource["connector"], Value::Null);
    let role_names: Vec<&str> = resource["roles"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["displayName"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(role_names, vec!["Member", "Owner"]);
    assert!(resource["roles"][0]["id"].is_string());
    assert!(resource["createdAt"].is_string());

    let (status, list) = app
        .get(&t.admin, &format!("/api/v1/catalogs/{general}/resources"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([resource]));
    assert_eq!(
        app.audit_actions(uuid_of(&resource["id"])).await,
        vec!["resource.added"]
    );
}

#[tokio::test]
async fn the_same_group_twice_in_one_catalog_is_a_conflict() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let other = catalog(&app, &t, "Other").await;
    let g = group(&app, &t, "Testers").await;
    let path = format!("/api/v1/catalogs/{general}/resources");
    let (status, _) = app
        .post(&t.admin, &path, json!({"kind": "group", "groupId": g}))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, problem) = app
        .post(&t.admin, &path, json!({"kind": "group", "groupId": g}))
        .await;

    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already"))
    );
    let (status, _) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{other}/resources"),
            json!({"kind": "group", "groupId": g}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another catalog may hold the same group"
    );
}

#[tokio::test]
async fn resource_input_is_checked_with_a_message_for_each_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let g = group(&app, &t, "Testers").await;
    let fifty_one: Vec<String> = (0..51).map(|i| format!("Role {i}")).collect();
    let hook = |extra: Value| {
        let mut c = json!({"type": "webhook", "url": "https://hooks.example.com/portico", "secret": "0123456789abcdef"});
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if v.is_null() {
                    c.remove(k);
                } else {
                    c.insert(k.clone(), v.clone());
                }
            }
        }
        json!({"kind": "application", "displayName": "App", "roles": ["Reader"], "connector": c})
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["kind"]),
        (json!({"kind": "printer"}), vec!["kind"]),
        (json!({"kind": "group"}), vec!["groupId"]),
        (
            json!({"kind": "group", "groupId": uuid::Uuid::now_v7()}),
            vec!["groupId"],
        ),
        (
            json!({"kind": "group", "groupId": "not-a-uuid"}),
            vec!["groupId"],
        ),
        (
            json!({"kind": "group", "groupId": g, "connector": {"type": "webhook", "url": "https://x.example", "secret": "0123456789abcdef"}}),
            vec!["connector"],
        ),
        (
            json!({"kind": "group", "groupId": g, "roles": ["Reader"]}),
            vec!["roles"],
        ),
        (json!({"kind": "application"}), vec!["displayName", "roles"]),
        (
            json!({"kind": "site", "displayName": " ", "roles": []}),
            vec!["displayName", "roles"],
        ),
        (
            json!({"kind": "custom", "displayName": "App", "roles": fifty_one}),
            vec!["roles"],
        ),
        (
            json!({"kind": "application", "displayName": "App", "roles": ["Reader", "READER"]}),
            vec!["roles[1]"],
        ),
        (
            json!({"kind": "application", "displayName": "App", "roles": ["Reader", ""]}),
            vec!["roles[1]"],
        ),
        (
            json!({"kind": "application", "displayName": "App", "roles": ["Reader"], "groupId": g}),
            vec!["groupId"],
        ),
        (
            hook(json!({"url": "ftp://hooks.example.com/x"})),
            vec!["connector.url"],
        ),
        (hook(json!({"url": "not a url"})), vec!["connector.url"]),
        (hook(json!({"url": "https://"})), vec!["connector.url"]),
        (hook(json!({"url": null})), vec!["connector.url"]),
        (
            hook(json!({"secret": "too-short"})),
            vec!["connector.secret"],
        ),
        (hook(json!({"secret": null})), vec!["connector.secret"]),
        (hook(json!({"type": "smtp"})), vec!["connector.type"]),
    ];
    let path = format!("/api/v1/catalogs/{general}/resources");
    for (body, fields) in cases {
        let (status, problem) = app.post(&t.admin, &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        assert_eq!(error_fields(&problem), fields, "{body} → {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (_, list) = app.get(&t.admin, &path).await;
    assert_eq!(list["items"], json!([]), "nothing was created");

    let (status, resource) = app.post(&t.admin, &path, hook(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    assert_eq!(resource["groupId"], Value::Null);
}

#[tokio::test]
async fn a_connector_secret_is_never_answered_nor_audited() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let secret = "very-secret-signing-key-4711";

    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{general}/resources"),
            json!({"kind": "application", "displayName": "Payroll", "description": "HR system",
                   "roles": ["Reader", "Approver"],
                   "connector": {"type": "webhook", "url": "http://127.0.0.1:9/hooks", "secret": secret}}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{resource}");
    assert_eq!(
        resource["connector"],
        json!({"type": "webhook", "url": "http://127.0.0.1:9/hooks", "secretSet": true})
    );
    assert_eq!(resource["description"], "HR system");
    assert_eq!(resource["roles"].as_array().map(Vec::len), Some(2));
    let id = uuid_of(&resource["id"]);
    let (_, list) = app
        .get(&t.admin, &format!("/api/v1/catalogs/{general}/resources"))
        .await;
    let (_, audit) = app.get(&t.admin, "/api/v1/auditEvents").await;
    let (status, _) = app
        .delete(
            &t.admin,
            &format!("/api/v1/catalogs/{general}/resources/{id}"),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let rows: Vec<Value> = sqlx::query_scalar("select details from audit_events")
        .fetch_all(&app.pool)
        .await
        .expect("audit rows");
    for text in [
        resource.to_string(),
        list.to_string(),
        audit.to_string(),
        json!(rows).to_string(),
    ] {
        assert!(!text.contains(secret), "the secret leaked: {text}");
        assert!(
            !text.contains("\"secret\""),
            "a secret field appears: {text}"
        );
    }
    assert_eq!(
        app.audit_actions(id).await,
        vec!["resource.added", "resource.removed"]
    );
}

#[tokio::test]
async fn private_webhook_targets_are_refused_unless_the_operator_allows_them() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_WEBHOOK_ALLOW_PRIVATE", "false")]).await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let path = format!("/api/v1/catalogs/{general}/resources");
    let body = |url: &str| {
        json!({"kind": "application", "displayName": "App", "roles": ["User"],
               "connector": {"type": "webhook", "url": url, "secret": "0123456789abcdef"}})
    };

    for url in [
        "http://localhost:8080/hook",
        "http://LOCALHOST./hook",
        "http://127.0.0.1/hook",
        "http://10.0.0.5/hook",
        "http://172.20.1.1/hook",
        "https://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
    ] {
        let (status, problem) = app.post(&t.admin, &path, body(url)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {problem}");
        assert_eq!(error_fields(&problem), vec!["connector.url"], "{url}");
        assert!(
            problem["errors"]["connector.url"]
                .as_str()
                .is_some_and(|m| m.contains("PORTICO_WEBHOOK_ALLOW_PRIVATE")),
            "{problem}"
        );
    }
    let (status, resource) = app
        .post(&t.admin, &path, body("https://93.184.216.34/hook"))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a public address is fine: {resource}"
    );

    let allowing = TestApp::spawn().await;
    let t = allowing.tenant("acme").await;
    let general = allowing.general_catalog(&t).await;
    let (status, resource) = allowing
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{general}/resources"),
            body("http://127.0.0.1:9/hook"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "allowed by the operator: {resource}"
    );
}

#[tokio::test]
async fn a_resource_used_by_an_access_package_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let resource = app_resource(&app, &t, general, &["Reader"]).await;
    let role = resource["roles"][0]["id"].clone();
    let resource_id = uuid_of(&resource["id"]);
    let (status, package) = app
        .post(
            &t.admin,
            "/api/v1/accessPackages",
            json!({"catalogId": general, "displayName": "Payroll readers", "resourceRoleIds": [role]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{package}");
    let path = format!("/api/v1/catalogs/{general}/resources/{resource_id}");

    let (status, problem) = app.delete(&t.admin, &path).await;

    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("package"))
    );
    let (status, _) = app
        .patch(
            &t.admin,
            &format!("/api/v1/accessPackages/{}", uuid_of(&package["id"])),
            json!({"resourceRoleIds": []}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.delete(&t.admin, &path).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete(&t.admin, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_tenants_catalogs_and_resources_answer_404_everywhere() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let b_catalog = catalog(&app, &b, "Beta stuff").await;
    let b_resource = uuid_of(&app_resource(&app, &b, b_catalog, &["Reader"]).await["id"]);
    let a_catalog = app.general_catalog(&a).await;
    let resource_body = json!({"kind": "application", "displayName": "X", "roles": ["R"]});

    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/catalogs/{b_catalog}"), None),
        (
            Method::PATCH,
            format!("/api/v1/catalogs/{b_catalog}"),
            Some(json!({"description": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/catalogs/{b_catalog}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/catalogs/{b_catalog}/resources"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/catalogs/{b_catalog}/resources"),
            Some(resource_body),
        ),
        (
            Method::DELETE,
            format!("/api/v1/catalogs/{b_catalog}/resources/{b_resource}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/catalogs/{a_catalog}/resources/{b_resource}"),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let (status, problem) = app.call(method.clone(), &a.admin, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
    }

    let (_, list) = app.get(&a.admin, "/api/v1/catalogs").await;
    assert!(!list.to_string().contains(&b_catalog.to_string()), "{list}");
    let (status, resources) = app
        .get(&b.admin, &format!("/api/v1/catalogs/{b_catalog}/resources"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        resources["items"].as_array().map(Vec::len),
        Some(1),
        "beta's resource is intact"
    );
    let (_, beta) = app
        .get(&b.admin, &format!("/api/v1/catalogs/{b_catalog}"))
        .await;
    assert_eq!(beta["description"], "");
}
