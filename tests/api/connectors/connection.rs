//! "Test connection" through the API and the Delivery page: an LDAP server is bound
//! to, a SCIM target asked for its configuration with the token, a webhook gets a
//! signed ping. A target that fails is a result (`ok: false` and why), never an
//! error; only the catalog's editors may test, and only their own tenant's resources.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::portal::admin_of;
use crate::helpers::scim_target::{ScimTarget, TOKEN};
use crate::helpers::slapd::{ADMIN_DN, ADMIN_PASSWORD, PEOPLE, STAFF, Slapd};
use crate::helpers::{TestApp, TestTenant, uuid_of};
use crate::webhooks::{Receiver, SECRET};

async fn resource_with(app: &TestApp, t: &TestTenant, catalog: Uuid, connector: Value) -> Uuid {
    let (status, created) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Target",
                   "roles": [{"displayName": "Staff", "connectorValue": STAFF}],
                   "connector": connector}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    uuid_of(&created["id"])
}

fn ldap(slapd: &Slapd, password: &str) -> Value {
    json!({"type": "ldap", "url": slapd.url(), "bindDn": ADMIN_DN, "bindPassword": password,
           "baseDn": PEOPLE})
}

async fn test(app: &TestApp, token: &str, catalog: Uuid, resource: Uuid) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/v1/catalogs/{catalog}/resources/{resource}/connector/test"),
        json!({}),
    )
    .await
}

#[tokio::test]
async fn an_ldap_connector_is_tested_by_binding_and_reading_the_base_dn() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let good = resource_with(&app, &t, catalog, ldap(&slapd, ADMIN_PASSWORD)).await;
    let wrong = resource_with(&app, &t, catalog, ldap(&slapd, "not-the-password")).await;

    let (status, ok) = test(&app, &t.admin, catalog, good).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(ok["ok"], true, "{ok}");
    let message = ok["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("as {ADMIN_DN}")), "{message}");
    assert!(message.contains(PEOPLE), "{message}");
    assert!(ok["testedAt"].is_string());

    let (status, refused) = test(&app, &t.admin, catalog, wrong).await;
    assert_eq!(status, StatusCode::OK, "{refused}");
    assert_eq!(refused["ok"], false, "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("refused the bind"), "{message}");
    assert!(message.contains("invalidCredentials"), "{message}");
    assert!(!refused.to_string().contains("not-the-password"));
}

#[tokio::test]
async fn an_ldap_server_that_is_down_is_a_failed_test_not_an_error() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let mut slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let resource = resource_with(&app, &t, catalog, ldap(&slapd, ADMIN_PASSWORD)).await;
    slapd.stop();

    let (status, down) = test(&app, &t.admin, catalog, resource).await;

    assert_eq!(status, StatusCode::OK, "{down}");
    assert_eq!(down["ok"], false);
    let message = down["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot be reached"), "{message}");
}

#[tokio::test]
async fn a_scim_connector_is_tested_with_its_token() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let target = ScimTarget::start(&["App Editors"]).await;
    let catalog = app.general_catalog(&t).await;
    let scim = |token: &str| json!({"type": "scim", "baseUrl": target.base_url, "token": token});
    let good = resource_with(&app, &t, catalog, scim(TOKEN)).await;
    let wrong = resource_with(&app, &t, catalog, scim("a-token-the-target-never-issued")).await;

    let (_, ok) = test(&app, &t.admin, catalog, good).await;
    assert_eq!(ok["ok"], true, "{ok}");
    let (status, refused) = test(&app, &t.admin, catalog, wrong).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(refused["ok"], false, "{refused}");
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(message.contains("refused the token (401"), "{message}");
    assert!(!message.contains("a-token-the-target-never-issued"));
}

#[tokio::test]
async fn a_webhook_connector_is_tested_with_a_signed_ping() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (receiver, url) = Receiver::start(1).await;
    let catalog = app.general_catalog(&t).await;
    let resource = resource_with(
        &app,
        &t,
        catalog,
        json!({"type": "webhook", "url": url, "secret": SECRET}),
    )
    .await;

    // The first answer is a 500: the test says so; the second passes.
    let (status, failed) = test(&app, &t.admin, catalog, resource).await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_eq!(failed["ok"], false, "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .unwrap_or_default()
            .contains("500"),
        "{failed}"
    );
    let (_, ok) = test(&app, &t.admin, catalog, resource).await;
    assert_eq!(ok["ok"], true, "{ok}");

    let calls = receiver.wait_for(2).await;
    let ping: Value = serde_json::from_str(&calls[1].body).expect("json");
    assert_eq!(ping["type"], "ping");
    assert_eq!(ping["resource"]["id"], resource.to_string());
    assert!(calls[1].id.starts_with("msg_test_"), "{:?}", calls[1]);
    assert!(calls[1].signature.starts_with("v1,"), "{:?}", calls[1]);
    // Nothing was queued: a test is not a delivery.
    let (_, outbox) = app.get(&t.admin, "/api/v1/outbox").await;
    assert!(!outbox.to_string().contains("ping"), "{outbox}");
}

#[tokio::test]
async fn a_resource_without_a_connector_has_nothing_to_test() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let catalog = app.general_catalog(&t).await;
    let (_, created) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Recorded", "roles": ["Reader"]}),
        )
        .await;
    let resource = uuid_of(&created["id"]);

    let (status, problem) = test(&app, &t.admin, catalog, resource).await;

    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(created["connectorHealth"], Value::Null);
}

#[tokio::test]
async fn only_the_catalogs_editors_may_test_a_connector() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let resource = resource_with(&app, &t, catalog, ldap(&slapd, ADMIN_PASSWORD)).await;
    let (_, member) = app.user(&t, "member@contoso.test", json!({})).await;

    let (status, problem) = test(&app, &member, catalog, resource).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
}

#[tokio::test]
async fn another_tenants_resource_cannot_be_tested() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let other = app.tenant("fabrikam").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let resource = resource_with(&app, &t, catalog, ldap(&slapd, ADMIN_PASSWORD)).await;

    let (status, problem) = test(&app, &other.admin, catalog, resource).await;

    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}

#[tokio::test]
async fn the_delivery_page_tests_the_connection_and_shows_the_result() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let good = resource_with(&app, &t, catalog, ldap(&slapd, ADMIN_PASSWORD)).await;
    let wrong = resource_with(&app, &t, catalog, ldap(&slapd, "not-the-password")).await;
    let page = |r: Uuid| format!("/admin/catalogs/{catalog}/resources/{r}/connector");

    let shown = b.get(&page(good)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("Connector health"), "{}", shown.body);
    assert!(shown.body.contains("never yet"));
    assert!(
        shown
            .body
            .contains(&format!("action=\"/t/acme{}/test\"", page(good)))
    );
    assert!(shown.body.contains("name=\"connector.bindDn\""));
    assert!(!shown.body.contains(ADMIN_PASSWORD));

    let ok = b.post(&format!("{}/test", page(good)), &[]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("Connection works."), "{}", ok.body);
    assert!(ok.body.contains("bound to the LDAP server"));

    let failed = b.post(&format!("{}/test", page(wrong)), &[]).await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.body);
    assert!(
        failed.body.contains("Connection failed."),
        "{}",
        failed.body
    );
    assert!(failed.body.contains("refused the bind"));
    assert!(!failed.body.contains("not-the-password"));
}

#[tokio::test]
async fn the_delivery_pages_test_needs_the_csrf_token() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let (receiver, url) = Receiver::start(0).await;
    let catalog = app.general_catalog(&t).await;
    let resource = resource_with(
        &app,
        &t,
        catalog,
        json!({"type": "webhook", "url": url, "secret": SECRET}),
    )
    .await;

    let refused = b
        .post_raw(
            &format!("/admin/catalogs/{catalog}/resources/{resource}/connector/test"),
            &[],
        )
        .await;

    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(receiver.calls().is_empty(), "no ping without the token");
}

#[tokio::test]
async fn the_admin_form_adds_an_ldap_resource_and_names_bad_fields() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let path = format!("/admin/catalogs/{catalog}/resources");

    let refused = b
        .post(
            &path,
            &[
                ("kind", "application"),
                ("displayName", "Groups"),
                ("roles", "Staff = not a dn"),
                ("connector.type", "ldap"),
                ("connector.ldapUrl", "https://ldap.example.test"),
                ("connector.bindDn", ADMIN_DN),
                ("connector.bindPassword", "typed-secret-value"),
                ("connector.baseDn", PEOPLE),
                ("connector.userFilter", "(mail={email})"),
                ("connector.memberAttribute", "member"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("id=\"f-connector.ldapUrl-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("LDAP server URL: the URL must start with ldap:// or ldaps://")
    );
    assert!(
        refused.body.contains("the role &#39;Staff&#39;")
            || refused.body.contains("the role 'Staff'")
    );
    assert!(!refused.body.contains("typed-secret-value"));

    let added = b
        .post(
            &path,
            &[
                ("kind", "application"),
                ("displayName", "Groups"),
                ("roles", &format!("Staff = {STAFF}")),
                ("connector.type", "ldap"),
                ("connector.ldapUrl", &slapd.url()),
                ("connector.bindDn", ADMIN_DN),
                ("connector.bindPassword", ADMIN_PASSWORD),
                ("connector.baseDn", PEOPLE),
                ("connector.userFilter", "(mail={email})"),
                ("connector.memberAttribute", "uniqueMember"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let (connector,): (Value,) = sqlx::query_as(
        "select connector from resources where tenant_id = $1 and display_name = 'Groups'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("resource");
    assert_eq!(connector["type"], "ldap");
    assert_eq!(connector["memberAttribute"], "uniqueMember");
    assert_eq!(connector["url"], slapd.url());
    let detail = b.get(&format!("/admin/catalogs/{catalog}")).await;
    assert!(
        detail.body.contains(&format!("LDAP: {}", slapd.url())),
        "{}",
        detail.body
    );
}

#[tokio::test]
async fn only_the_catalogs_editors_may_change_a_connector_through_the_api() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let resource = resource_with(&app, &t, catalog, ldap(&slapd, ADMIN_PASSWORD)).await;
    let (_, member) = app.user(&t, "member@contoso.test", json!({})).await;

    let (status, problem) = app
        .put(
            &member,
            &format!("/api/v1/catalogs/{catalog}/resources/{resource}/connector"),
            json!({"connector": null}),
        )
        .await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (_, shown) = app
        .get(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources/{resource}"),
        )
        .await;
    assert_eq!(shown["connector"]["type"], "ldap", "unchanged: {shown}");
}

#[tokio::test]
async fn another_tenants_resource_and_its_health_are_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let other = app.tenant("fabrikam").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let resource = resource_with(&app, &t, catalog, ldap(&slapd, ADMIN_PASSWORD)).await;
    let path = format!("/api/v1/catalogs/{catalog}/resources/{resource}");

    let (status, _) = app.get(&other.admin, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .put(
            &other.admin,
            &format!("{path}/connector"),
            json!({"connector": null}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, shown) = app.get(&t.admin, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["connector"]["type"], "ldap", "{shown}");
}
