//! The LDAP connector through the whole product, against a real OpenLDAP server
//! (`helpers::slapd`): a request delivered puts the person in the role's LDAP group
//! and removing it takes them out; a person already in the group is delivered; a
//! person the directory does not have fails with an error the assignment shows (API
//! and admin page); a server that is down is retried until it is back. Settings are
//! checked at their field paths, the bind password is write-only, and every role's
//! connector value must be a group DN.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{error_fields, grant_state, package_of, wait_for};
use crate::fixtures::request;
use crate::helpers::slapd::{ADA, ADMIN_DN, ADMIN_PASSWORD, GRACE, PEOPLE, SOLO, STAFF, Slapd};
use crate::helpers::{TestApp, TestTenant, uuid_of};

fn connector(slapd: &Slapd) -> Value {
    json!({"type": "ldap", "url": slapd.url(), "bindDn": ADMIN_DN,
           "bindPassword": ADMIN_PASSWORD, "baseDn": PEOPLE,
           "userFilter": "(mail={email})", "memberAttribute": "member"})
}

/// An application resource delivered by LDAP, its one role "Staff" meaning the staff
/// group; returns the resource and the role.
async fn ldap_resource(
    app: &TestApp,
    t: &TestTenant,
    catalog: Uuid,
    slapd: &Slapd,
) -> (Uuid, Uuid) {
    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Directory groups",
                   "roles": [{"displayName": "Staff", "connectorValue": STAFF}],
                   "connector": connector(slapd)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    (
        uuid_of(&resource["id"]),
        uuid_of(&resource["roles"][0]["id"]),
    )
}

fn id_of(v: &Value, field: &str) -> String {
    v[field].as_str().expect("an id").to_string()
}

#[tokio::test]
async fn a_delivered_request_puts_the_person_in_the_ldap_group_and_removing_it_takes_them_out() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "ada@example.test", json!({})).await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let (resource, role) = ldap_resource(&app, &t, catalog, &slapd).await;
    let package = package_of(&app, &t, catalog, "Staff", role).await;

    let (status, r) = request(&app, &token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let a = id_of(&r, "assignmentId");
    let delivered = wait_for(&app, &token, &a, |a| a["state"] == "delivered").await;
    assert_eq!(grant_state(&delivered), "delivered");
    assert_eq!(slapd.values(STAFF, "member").await, vec![ADA, GRACE]);

    let (status, removal) = app
        .post(
            &token,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": a}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{removal}");
    wait_for(&app, &token, &a, |a| grant_state(a) == "revoked").await;
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);

    // Both calls were outbox rows of kind ldap, done; the health says so.
    let (_, outbox) = app.get(&t.admin, "/api/v1/outbox?kind=ldap").await;
    let items = outbox["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{outbox}");
    assert!(items.iter().all(|i| i["state"] == "done"), "{outbox}");
    let (status, shown) = app
        .get(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources/{resource}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let health = &shown["connectorHealth"];
    assert!(health["lastSuccessAt"].is_string(), "{shown}");
    assert_eq!(health["queued"], 0, "{shown}");
    assert_eq!(health["failed"], 0, "{shown}");
    assert_eq!(health["lastError"], Value::Null, "{shown}");
}

#[tokio::test]
async fn a_person_already_in_the_group_is_delivered_without_a_change() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "grace@example.test", json!({})).await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let (_, role) = ldap_resource(&app, &t, catalog, &slapd).await;
    let package = package_of(&app, &t, catalog, "Staff", role).await;

    let (_, r) = request(&app, &token, package, json!({})).await;
    let a = id_of(&r, "assignmentId");
    let delivered = wait_for(&app, &token, &a, |a| a["state"] == "delivered").await;

    assert_eq!(delivered["grants"][0]["error"], Value::Null, "{delivered}");
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);
}

#[tokio::test]
async fn a_person_the_directory_does_not_have_fails_with_an_error_the_assignment_shows() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "nobody@example.test", json!({})).await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let (resource, role) = ldap_resource(&app, &t, catalog, &slapd).await;
    let package = package_of(&app, &t, catalog, "Staff", role).await;

    let (_, r) = request(&app, &token, package, json!({})).await;
    let a = id_of(&r, "assignmentId");
    let waiting = wait_for(&app, &token, &a, |a| a["grants"][0]["error"].is_string()).await;
    let expected = format!("no LDAP entry matches (mail=nobody@example.test) under {PEOPLE}");
    assert_eq!(
        waiting["grants"][0]["error"],
        expected.as_str(),
        "{waiting}"
    );
    app.clock.advance(chrono::Duration::hours(25));
    let failed = wait_for(&app, &token, &a, |a| a["state"] == "deliveryFailed").await;
    assert_eq!(failed["grants"][0]["error"], expected.as_str(), "{failed}");
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);

    // The admin pages show it: the package's assignments and the resource's health.
    let admin = crate::helpers::portal::sign_in(&app, "contoso", &t.admin_email).await;
    let page = admin
        .get(&format!("/admin/packages/{package}/assignments"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("no LDAP entry matches (mail=nobody@example.test)"),
        "{}",
        page.body
    );
    let delivery = admin
        .get(&format!(
            "/admin/catalogs/{catalog}/resources/{resource}/connector"
        ))
        .await;
    assert_eq!(delivery.status, StatusCode::OK);
    assert!(
        delivery.body.contains("Connector health"),
        "{}",
        delivery.body
    );
    assert!(
        delivery.body.contains("1 call failed for good"),
        "{}",
        delivery.body
    );
    assert!(delivery.body.contains("no LDAP entry matches"));
    assert!(
        delivery
            .body
            .contains("/admin/outbox?state=failed&amp;kind=ldap")
            || delivery
                .body
                .contains("/admin/outbox?state=failed&#38;kind=ldap"),
        "{}",
        delivery.body
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_retried_and_delivered_once_it_is_back() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "ada@example.test", json!({})).await;
    let mut slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let (resource, role) = ldap_resource(&app, &t, catalog, &slapd).await;
    let package = package_of(&app, &t, catalog, "Staff", role).await;
    slapd.stop();

    let (_, r) = request(&app, &token, package, json!({})).await;
    let a = id_of(&r, "assignmentId");
    let waiting = wait_for(&app, &token, &a, |a| a["grants"][0]["error"].is_string()).await;
    assert_eq!(waiting["state"], "delivering", "{waiting}");
    let error = waiting["grants"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("cannot be reached"), "{error}");
    let (_, shown) = app
        .get(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources/{resource}"),
        )
        .await;
    let health = &shown["connectorHealth"];
    assert_eq!(health["queued"], 1, "{shown}");
    assert!(health["lastError"]["at"].is_string(), "{shown}");
    assert_eq!(health["lastError"]["message"], error, "{shown}");
    assert_eq!(health["lastSuccessAt"], Value::Null, "{shown}");

    slapd.restart().await;
    app.clock.advance(chrono::Duration::seconds(11));
    let delivered = wait_for(&app, &token, &a, |a| a["state"] == "delivered").await;
    assert_eq!(delivered["grants"][0]["error"], Value::Null);
    assert_eq!(slapd.values(STAFF, "member").await, vec![ADA, GRACE]);
}

#[tokio::test]
async fn ldap_settings_are_checked_at_their_fields_and_the_bind_password_is_write_only() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let path = format!("/api/v1/catalogs/{catalog}/resources");

    let (status, problem) = app
        .post(
            &t.admin,
            &path,
            json!({"kind": "application", "displayName": "Groups", "roles": [{"displayName": "Staff", "connectorValue": STAFF}],
                   "connector": {"type": "ldap", "url": "https://ldap.example.test", "bindDn": "admin",
                                 "baseDn": PEOPLE, "userFilter": "(mail=fixed)", "memberAttribute": "members"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(
        error_fields(&problem),
        vec![
            "connector.bindDn",
            "connector.bindPassword",
            "connector.memberAttribute",
            "connector.url",
            "connector.userFilter"
        ],
        "{problem}"
    );

    // A role whose value is not a group DN is named.
    let (status, problem) = app
        .post(
            &t.admin,
            &path,
            json!({"kind": "application", "displayName": "Groups",
                   "roles": [{"displayName": "Staff", "connectorValue": STAFF}, "Readers"],
                   "connector": connector(&slapd)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(error_fields(&problem), vec!["roles[1]"], "{problem}");
    let message = problem["errors"]["roles[1]"].as_str().unwrap_or_default();
    assert!(message.contains("the role 'Readers'"), "{message}");
    assert!(message.contains("DN of an LDAP group"), "{message}");

    // Saved: the answer says only that a password is set.
    let (status, created) = app
        .post(
            &t.admin,
            &path,
            json!({"kind": "application", "displayName": "Groups",
                   "roles": [{"displayName": "Staff", "connectorValue": STAFF}],
                   "connector": connector(&slapd)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let shown = &created["connector"];
    assert_eq!(shown["type"], "ldap");
    assert_eq!(shown["bindPasswordSet"], true);
    assert_eq!(shown["memberAttribute"], "member");
    assert_eq!(shown["userFilter"], "(mail={email})");
    assert!(!created.to_string().contains(ADMIN_PASSWORD), "{created}");
    let (stored, sealed): (Value, String) =
        sqlx::query_as("select connector, connector_secret from resources where id = $1")
            .bind(uuid_of(&created["id"]))
            .fetch_one(&app.pool)
            .await
            .expect("resource");
    assert!(!stored.to_string().contains(ADMIN_PASSWORD), "{stored}");
    assert!(!sealed.contains(ADMIN_PASSWORD));
}

#[tokio::test]
async fn switching_a_resource_to_ldap_names_each_role_whose_value_is_not_a_group_dn() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let (status, created) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Wiki",
                   "roles": ["Readers", {"displayName": "Solo", "connectorValue": SOLO}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let resource = uuid_of(&created["id"]);
    let path = format!("/api/v1/catalogs/{catalog}/resources/{resource}/connector");

    let (status, problem) = app
        .put(&t.admin, &path, json!({"connector": connector(&slapd)}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let message = problem["errors"]["connector"].as_str().unwrap_or_default();
    assert!(message.contains("the role 'Readers'"), "{message}");
    assert!(!message.contains("'Solo'"), "{message}");
    let (_, shown) = app
        .get(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources/{resource}"),
        )
        .await;
    assert_eq!(
        shown["connector"],
        Value::Null,
        "nothing was saved: {shown}"
    );
}

#[tokio::test]
async fn a_blank_bind_password_keeps_the_stored_one() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;
    let (resource, _) = ldap_resource(&app, &t, catalog, &slapd).await;
    let path = format!("/api/v1/catalogs/{catalog}/resources/{resource}/connector");
    let mut changed = connector(&slapd);
    changed["bindPassword"] = json!("");
    changed["memberAttribute"] = json!("uniqueMember");

    let (status, shown) = app
        .put(&t.admin, &path, json!({"connector": changed}))
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["connector"]["memberAttribute"], "uniqueMember");
    let (status, tested) = app.post(&t.admin, &format!("{path}/test"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(
        tested["ok"], true,
        "the stored password still binds: {tested}"
    );
}

#[tokio::test]
async fn an_ldap_server_on_a_private_address_is_refused_unless_the_operator_allows_it() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_WEBHOOK_ALLOW_PRIVATE", "false")]).await;
    let t = app.tenant("contoso").await;
    let slapd = Slapd::start().await;
    let catalog = app.general_catalog(&t).await;

    let (status, problem) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Groups",
                   "roles": [{"displayName": "Staff", "connectorValue": STAFF}],
                   "connector": connector(&slapd)}),
        )
        .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(error_fields(&problem), vec!["connector.url"], "{problem}");
    let message = problem["errors"]["connector.url"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("PORTICO_WEBHOOK_ALLOW_PRIVATE"),
        "{message}"
    );
}
