//! Access packages themselves: defaults, input checks with a message per field, PATCH of
//! roles and incompatibilities, listing by visibility, and the OpenAPI description.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{catalog, error_fields, names, package, roles_in, with};
use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn a_new_access_package_is_answered_with_its_defaults_and_audited() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;

    let created = package(
        &app,
        &t,
        json!({"catalogId": general, "displayName": "Windows 11 Testing", "resourceRoleIds": []}),
    )
    .await;

    assert_eq!(created["catalogId"], json!(general));
    assert_eq!(created["displayName"], "Windows 11 Testing");
    assert_eq!(created["description"], "");
    assert_eq!(created["hidden"], false);
    assert_eq!(created["resourceRoleIds"], json!([]));
    assert_eq!(created["incompatiblePackageIds"], json!([]));
    assert_eq!(created["incompatibleGroupIds"], json!([]));
    assert!(created["createdAt"].is_string() && created["updatedAt"].is_string());
    let id = uuid_of(&created["id"]);
    let (status, fetched) = app
        .get(&t.admin, &format!("/api/v1/accessPackages/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    assert_eq!(app.audit_actions(id).await, vec!["accessPackage.created"]);
}

#[tokio::test]
async fn access_package_input_is_checked_with_a_message_for_each_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let other = catalog(&app, &t, json!({"displayName": "Other"})).await;
    let foreign_role = roles_in(&app, &t, other, &["Reader"]).await[0];
    let unknown = uuid::Uuid::now_v7();
    let base = json!({"catalogId": general, "displayName": "P"});

    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["catalogId", "displayName"]),
        (
            json!({"catalogId": unknown, "displayName": "P"}),
            vec!["catalogId"],
        ),
        (
            with(base.clone(), json!({"displayName": " "})),
            vec!["displayName"],
        ),
        (
            with(
                base.clone(),
                json!({"resourceRoleIds": [foreign_role, unknown]}),
            ),
            vec!["resourceRoleIds[0]", "resourceRoleIds[1]"],
        ),
        (
            with(base.clone(), json!({"resourceRoleIds": "all"})),
            vec!["resourceRoleIds"],
        ),
        (
            with(base.clone(), json!({"incompatiblePackageIds": [unknown]})),
            vec!["incompatiblePackageIds[0]"],
        ),
        (
            with(base.clone(), json!({"incompatibleGroupIds": [unknown]})),
            vec!["incompatibleGroupIds[0]"],
        ),
        (with(base.clone(), json!({"hidden": "yes"})), vec!["hidden"]),
    ];
    for (body, fields) in cases {
        let (status, problem) = app
            .post(&t.admin, "/api/v1/accessPackages", body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        assert_eq!(error_fields(&problem), fields, "{body} → {problem}");
    }
    let (_, list) = app.get(&t.admin, "/api/v1/accessPackages").await;
    assert_eq!(list["items"], json!([]), "nothing was created");

    let created = package(&app, &t, base).await;
    let id = uuid_of(&created["id"]);
    let path = format!("/api/v1/accessPackages/{id}");
    let (status, problem) = app
        .patch(&t.admin, &path, json!({"incompatiblePackageIds": [id]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["incompatiblePackageIds[0]"]);
    let (status, problem) = app
        .patch(&t.admin, &path, json!({"catalogId": other}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["catalogId"]);
    let (status, same) = app.patch(&t.admin, &path, created.clone()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "its own representation is a valid PATCH: {same}"
    );
    assert_eq!(same["displayName"], created["displayName"]);
}

#[tokio::test]
async fn patch_replaces_resource_roles_and_incompatibilities_as_a_whole() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let roles = roles_in(&app, &t, general, &["Reader", "Writer"]).await;
    let (_, g) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Auditors"}),
        )
        .await;
    let g = uuid_of(&g["id"]);
    let other = uuid_of(
        &package(
            &app,
            &t,
            json!({"catalogId": general, "displayName": "Other"}),
        )
        .await["id"],
    );
    let created = package(
        &app,
        &t,
        json!({"catalogId": general, "displayName": "Payroll", "resourceRoleIds": [roles[0], roles[0]],
               "incompatiblePackageIds": [other], "incompatibleGroupIds": [g]}),
    )
    .await;
    assert_eq!(
        created["resourceRoleIds"],
        json!([roles[0]]),
        "duplicates collapse"
    );
    let id = uuid_of(&created["id"]);
    let path = format!("/api/v1/accessPackages/{id}");

    let (status, patched) = app
        .patch(
            &t.admin,
            &path,
            json!({"resourceRoleIds": [roles[1]], "incompatibleGroupIds": [], "hidden": true}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["resourceRoleIds"], json!([roles[1]]));
    assert_eq!(patched["incompatibleGroupIds"], json!([]));
    assert_eq!(
        patched["incompatiblePackageIds"],
        json!([other]),
        "an absent list stays"
    );
    assert_eq!(patched["hidden"], true);
    assert_eq!(patched["displayName"], "Payroll");
    let (_, fetched) = app.get(&t.admin, &path).await;
    assert_eq!(fetched, patched);
    assert_eq!(
        app.audit_actions(id).await,
        vec!["accessPackage.created", "accessPackage.updated"]
    );
    let details: Value = sqlx::query_scalar(
        "select details from audit_events where target_id = $1 and action = 'accessPackage.updated'",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .expect("audit details");
    assert_eq!(details["before"]["resourceRoleIds"], json!([roles[0]]));
    assert_eq!(details["after"]["resourceRoleIds"], json!([roles[1]]));
}

#[tokio::test]
async fn packages_are_listed_by_visibility_and_hidden_ones_are_readable_by_id() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let disabled = catalog(
        &app,
        &t,
        json!({"displayName": "Disabled", "enabled": false}),
    )
    .await;
    let external = catalog(
        &app,
        &t,
        json!({"displayName": "Partners", "externallyVisible": true}),
    )
    .await;
    let visible = package(
        &app,
        &t,
        json!({"catalogId": general, "displayName": "Visible", "description": "laptops"}),
    )
    .await;
    let hidden = package(
        &app,
        &t,
        json!({"catalogId": general, "displayName": "Hidden", "hidden": true}),
    )
    .await;
    let off = package(
        &app,
        &t,
        json!({"catalogId": disabled, "displayName": "Off"}),
    )
    .await;
    package(
        &app,
        &t,
        json!({"catalogId": external, "displayName": "Shared"}),
    )
    .await;
    let (_, member) = app.user(&t, "max@acme.test", json!({})).await;
    let (_, guest) = app
        .user(&t, "gus@partner.test", json!({"kind": "guest"}))
        .await;
    let (_, reader) = app
        .user_with_role(&t, "rita@acme.test", "catalogReader", Some(disabled))
        .await;

    let (_, all) = app.get(&t.admin, "/api/v1/accessPackages").await;
    assert_eq!(names(&all), vec!["Hidden", "Off", "Shared", "Visible"]);
    let (status, seen) = app.get(&member, "/api/v1/accessPackages").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&seen), vec!["Shared", "Visible"]);
    let (_, seen) = app.get(&guest, "/api/v1/accessPackages").await;
    assert_eq!(names(&seen), vec!["Shared"]);
    let (_, seen) = app.get(&reader, "/api/v1/accessPackages").await;
    assert_eq!(names(&seen), vec!["Off", "Shared", "Visible"]);
    let (_, found) = app
        .get(&member, "/api/v1/accessPackages?search=LAPTOP")
        .await;
    assert_eq!(names(&found), vec!["Visible"]);
    let (_, found) = app
        .get(
            &t.admin,
            &format!("/api/v1/accessPackages?catalogId={general}"),
        )
        .await;
    assert_eq!(names(&found), vec!["Hidden", "Visible"]);
    let (status, problem) = app
        .get(&t.admin, "/api/v1/accessPackages?catalogId=nope")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    let app = &app;
    let get = |token: &str, p: &Value| {
        let path = format!("/api/v1/accessPackages/{}", uuid_of(&p["id"]));
        let token = token.to_string();
        async move { app.get(&token, &path).await.0 }
    };
    assert_eq!(
        get(&member, &hidden).await,
        StatusCode::OK,
        "hidden but requestable by link"
    );
    assert_eq!(
        get(&member, &off).await,
        StatusCode::NOT_FOUND,
        "its catalog is disabled"
    );
    assert_eq!(
        get(&reader, &off).await,
        StatusCode::OK,
        "readers of the catalog see it"
    );
    assert_eq!(
        get(&guest, &visible).await,
        StatusCode::NOT_FOUND,
        "not externally visible"
    );
}

#[tokio::test]
async fn the_openapi_description_covers_catalogs_packages_and_policies() {
    let app = TestApp::spawn().await;

    let (status, api) = app.get("", "/api/v1/openapi.json").await;

    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/catalogs",
        "/api/v1/catalogs/{id}",
        "/api/v1/catalogs/{id}/resources",
        "/api/v1/catalogs/{id}/resources/{resourceId}",
        "/api/v1/accessPackages",
        "/api/v1/accessPackages/{id}",
        "/api/v1/accessPackages/{id}/policies",
        "/api/v1/policies/{id}",
    ] {
        assert!(api["paths"][path].is_object(), "{path} is not described");
    }
    for schema in [
        "Catalog",
        "Resource",
        "ResourceBody",
        "AccessPackage",
        "Policy",
        "PolicyBody",
    ] {
        assert!(
            api["components"]["schemas"][schema].is_object(),
            "schema {schema} is missing"
        );
    }
    // Connectors are answered by type, with their secrets' `…Set` flags only.
    let shown = api["components"]["schemas"]["Connector"]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(shown.len(), 3, "webhook, scim and ldap: {shown:?}");
    for variant in &shown {
        let properties = &variant["properties"];
        assert!(
            properties["secret"].is_null()
                && properties["token"].is_null()
                && properties["bindPassword"].is_null(),
            "{variant}"
        );
    }
    assert!(
        shown
            .iter()
            .any(|v| v["properties"]["bindPasswordSet"].is_object()),
        "{shown:?}"
    );
    for path in [
        "/api/v1/catalogs/{id}/resources/{resourceId}/connector",
        "/api/v1/catalogs/{id}/resources/{resourceId}/connector/test",
    ] {
        assert!(api["paths"][path].is_object(), "{path} is not described");
    }
    assert!(
        shown.iter().any(|v| v["properties"]["url"].is_object()
            && v["properties"]["secretSet"].is_object()),
        "{shown:?}"
    );
}
