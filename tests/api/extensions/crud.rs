//! A catalog's custom extensions through the API: created, read (never with their
//! secret), replaced and deleted by the catalog's editors; every bad field a 422 at
//! its name; policies may call only their catalog's extensions, a waiting one only
//! where a request can be held; an extension in use cannot be deleted (409 naming the
//! policy); readers see them; other tenants do not.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{extension, setup};
use crate::helpers::uuid_of;
use crate::webhooks::SECRET;

fn body(url: &str) -> Value {
    json!({"displayName": "HR check", "url": url, "secret": SECRET,
           "behavior": "waitForCallback", "timeoutMinutes": 30, "onTimeout": "deny"})
}

#[tokio::test]
async fn editors_create_read_replace_and_delete_extensions_without_seeing_the_secret() {
    let (app, t, _, url, catalog) = setup().await;
    let path = format!("/api/v1/catalogs/{catalog}/customExtensions");
    let (status, e) = app.post(&t.admin, &path, body(&url)).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    assert_eq!(e["secretSet"], true);
    assert!(e.get("secret").is_none(), "write-only: {e}");
    assert_eq!(e["behavior"], "waitForCallback");
    assert_eq!(e["timeoutMinutes"], 30);
    assert_eq!(e["catalogId"], catalog.to_string());
    let id = uuid_of(&e["id"]);
    let stored: String = sqlx::query_scalar("select secret from custom_extensions where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("row");
    assert!(!stored.contains("c2VjcmV0"), "sealed at rest");

    let (_, list) = app.get(&t.admin, &path).await;
    assert_eq!(list["items"][0]["id"], e["id"]);
    assert!(list["nextCursor"].is_null());

    let mut changed = body(&url);
    changed["displayName"] = json!("HR check 2");
    changed["secret"] = json!("");
    changed["behavior"] = json!("fireAndForget");
    let (status, put) = app
        .put(&t.admin, &format!("/api/v1/customExtensions/{id}"), changed)
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["displayName"], "HR check 2");
    let kept: String = sqlx::query_scalar("select secret from custom_extensions where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("row");
    assert_eq!(kept, stored, "an empty secret keeps the stored one");
    let (_, got) = app
        .get(&t.admin, &format!("/api/v1/customExtensions/{id}"))
        .await;
    assert_eq!(got["behavior"], "fireAndForget");

    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/customExtensions/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .get(&t.admin, &format!("/api/v1/customExtensions/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let actions = app.audit_actions(id).await;
    assert_eq!(
        actions,
        [
            "customExtension.created",
            "customExtension.updated",
            "customExtension.deleted"
        ]
    );
}

#[tokio::test]
async fn every_bad_field_is_a_422_at_its_name() {
    let (app, t, _, url, catalog) = setup().await;
    let path = format!("/api/v1/catalogs/{catalog}/customExtensions");
    let (status, e) = app.post(&t.admin, &path, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    for field in [
        "displayName",
        "url",
        "secret",
        "behavior",
        "timeoutMinutes",
        "onTimeout",
    ] {
        assert!(e["errors"][field].is_string(), "{field}: {e}");
    }
    for (field, value) in [
        ("url", json!("ftp://example.com/x")),
        ("url", json!("not a url")),
        ("secret", json!("short")),
        ("timeoutMinutes", json!(0)),
        ("timeoutMinutes", json!(1441)),
        ("behavior", json!("sometimes")),
        ("onTimeout", json!("retry")),
    ] {
        let mut b = body(&url);
        b[field] = value.clone();
        let (status, e) = app.post(&t.admin, &path, b).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}: {e}"
        );
        assert!(e["errors"][field].is_string(), "{field}={value}: {e}");
    }
}

#[tokio::test]
async fn a_private_address_is_refused_unless_the_operator_allows_it() {
    let app =
        crate::helpers::TestApp::spawn_with_settings(&[("PORTICO_WEBHOOK_ALLOW_PRIVATE", "false")])
            .await;
    let t = app.tenant("contoso").await;
    let catalog = crate::fixtures::general_catalog(&app, &t).await;
    let (status, e) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/customExtensions"),
            body("http://127.0.0.1:9/hook"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["errors"]["url"]
            .as_str()
            .unwrap_or_default()
            .contains("PORTICO_WEBHOOK_ALLOW_PRIVATE"),
        "{e}"
    );
}

async fn policy_with(
    app: &crate::helpers::TestApp,
    t: &crate::helpers::TestTenant,
    package: uuid::Uuid,
    list: Value,
) -> (StatusCode, Value) {
    app.post(
        &t.admin,
        &format!("/api/v1/accessPackages/{package}/policies"),
        json!({"displayName": "Employees", "requestors": {"scope": "allMembers"}, "customExtensions": list}),
    )
    .await
}

#[tokio::test]
async fn policies_call_only_their_catalogs_extensions_and_wait_only_where_a_request_is_held() {
    let (app, t, _, url, catalog) = setup().await;
    let waits = extension(&app, &t, catalog, &url, "waitForCallback", "deny").await;
    let tells = extension(&app, &t, catalog, &url, "fireAndForget", "deny").await;
    let (status, other) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "Other"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let elsewhere = extension(
        &app,
        &t,
        uuid_of(&other["id"]),
        &url,
        "fireAndForget",
        "deny",
    )
    .await;
    let p = crate::fixtures::group_package(
        &app,
        &t,
        "Laptops",
        crate::fixtures::open_policy(json!({})),
    )
    .await;

    let (status, e) = policy_with(
        &app,
        &t,
        p.package,
        json!([{"stage": "requestCreated", "extensionId": elsewhere}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["errors"]["customExtensions[0].extensionId"].is_string(),
        "{e}"
    );

    let (status, e) = policy_with(
        &app,
        &t,
        p.package,
        json!([{"stage": "assignmentGranted", "extensionId": waits}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["errors"]["customExtensions[0].extensionId"]
            .as_str()
            .unwrap_or_default()
            .contains("no request to hold"),
        "{e}"
    );

    let (status, e) = policy_with(&app, &t, p.package, json!([{"stage": "requestCreated", "extensionId": tells},
                                                               {"stage": "requestCreated", "extensionId": waits}])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["errors"]["customExtensions[1].stage"].is_string(), "{e}");

    let (status, e) = policy_with(
        &app,
        &t,
        p.package,
        json!([{"stage": "sometime", "extensionId": tells}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    let (status, policy) = policy_with(&app, &t, p.package, json!([{"stage": "requestApproved", "extensionId": waits},
                                                                    {"stage": "assignmentRemoved", "extensionId": tells}])).await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    assert_eq!(
        policy["customExtensions"][0]["extensionId"],
        waits.to_string()
    );

    // In use: not deleted, and not made to wait where a request cannot be held.
    let (status, e) = app
        .delete(&t.admin, &format!("/api/v1/customExtensions/{tells}"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    let detail = e["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Employees") && detail.contains("Laptops"),
        "{detail}"
    );
    let mut b = body(&url);
    b["behavior"] = json!("waitForCallback");
    let (status, e) = app
        .put(&t.admin, &format!("/api/v1/customExtensions/{tells}"), b)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["errors"]["behavior"]
            .as_str()
            .unwrap_or_default()
            .contains("Employees"),
        "{e}"
    );
}

#[tokio::test]
async fn readers_see_extensions_but_only_editors_change_them_and_other_tenants_see_nothing() {
    let (app, t, _, url, catalog) = setup().await;
    let id = extension(&app, &t, catalog, &url, "fireAndForget", "continue").await;
    let (_, reader) = app
        .user_with_role(&t, "reader@contoso.test", "catalogReader", Some(catalog))
        .await;
    let path = format!("/api/v1/catalogs/{catalog}/customExtensions");
    let (status, list) = app.get(&reader, &path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (status, _) = app.post(&reader, &path, body(&url)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .put(
            &reader,
            &format!("/api/v1/customExtensions/{id}"),
            body(&url),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .delete(&reader, &format!("/api/v1/customExtensions/{id}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, owner) = app
        .user_with_role(&t, "owner@contoso.test", "catalogOwner", Some(catalog))
        .await;
    let (status, e) = app.post(&owner, &path, body(&url)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "catalog owners add extensions: {e}"
    );
    let (_, member) = app.user(&t, "member@contoso.test", json!({})).await;
    let (status, _) = app
        .get(&member, &format!("/api/v1/customExtensions/{id}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let other = app.tenant("fabrikam").await;
    for (status, _) in [
        app.get(&other.admin, &format!("/api/v1/customExtensions/{id}"))
            .await,
        app.get(&other.admin, &path).await,
        app.delete(&other.admin, &format!("/api/v1/customExtensions/{id}"))
            .await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_openapi_description_names_the_extension_paths() {
    let (app, t, _, _, _) = setup().await;
    let (_, doc) = app.get(&t.admin, "/api/v1/openapi.json").await;
    for path in [
        "/api/v1/catalogs/{id}/customExtensions",
        "/api/v1/customExtensions/{id}",
        "/api/v1/assignmentRequests/{id}/resume",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    let states = doc["components"]["schemas"]["RequestState"].to_string();
    assert!(states.contains("waitingForCallback"), "{states}");
}
