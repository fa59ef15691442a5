//! The SCIM connector against a real SCIM 2.0 server (scim2-server): the person is
//! created (or found) and added to the role's group on grant, removed on revoke and
//! deactivated after the last one; a target that is down is retried until it is back;
//! a missing group is named in the error and reprocessing delivers once it exists.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{grant_state, package_of, scim_resource, wait_for};
use crate::fixtures::request;
use crate::helpers::TestApp;
use crate::helpers::scim_target::ScimTarget;

fn roles() -> Value {
    json!([{"displayName": "Editor", "connectorValue": "App Editors"},
           {"displayName": "Viewer", "connectorValue": "App Viewers"}])
}

async fn remove(app: &TestApp, token: &str, assignment: &str) {
    let (status, body) = app
        .post(
            token,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": assignment}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

fn id_of(v: &Value, field: &str) -> String {
    v[field].as_str().expect("an id").to_string()
}

#[tokio::test]
async fn grants_and_revokes_manage_the_person_and_their_groups_in_the_target() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (user, token) = app
        .user(
            &t,
            "adele@contoso.test",
            json!({"displayName": "Adele Vance"}),
        )
        .await;
    let target = ScimTarget::start(&["App Editors", "App Viewers", "Unrelated"]).await;
    let catalog = app.general_catalog(&t).await;
    let (_, roles) = scim_resource(&app, &t, catalog, &target, roles()).await;
    let editors = package_of(&app, &t, catalog, "Editors", roles[0].1).await;
    let viewers = package_of(&app, &t, catalog, "Viewers", roles[1].1).await;

    // Grant: the person is created with Portico's id as externalId, and joins the group.
    let (status, r1) = request(&app, &token, editors, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r1}");
    let a1 = id_of(&r1, "assignmentId");
    let delivered = wait_for(&app, &token, &a1, |a| a["state"] == "delivered").await;
    assert_eq!(grant_state(&delivered), "delivered");
    let person = target.user("adele@contoso.test").await;
    assert_eq!(person["externalId"], user.to_string());
    assert_eq!(person["active"], true);
    assert_eq!(person["displayName"], "Adele Vance");
    assert_eq!(person["emails"][0]["value"], "adele@contoso.test");
    let id = id_of(&person, "id");
    assert_eq!(target.members("App Editors").await, vec![id.clone()]);
    assert!(target.members("App Viewers").await.is_empty());

    // A second grant (another role) uses the same person.
    let (_, r2) = request(&app, &token, viewers, json!({})).await;
    let a2 = id_of(&r2, "assignmentId");
    wait_for(&app, &token, &a2, |a| a["state"] == "delivered").await;
    assert_eq!(target.users_named("adele@contoso.test").await.len(), 1);
    assert_eq!(target.members("App Viewers").await, vec![id.clone()]);
    assert_eq!(target.members("App Editors").await, vec![id.clone()]);

    // Revoking one role leaves the other and the person active.
    remove(&app, &token, &a1).await;
    wait_for(&app, &token, &a1, |a| grant_state(a) == "revoked").await;
    assert!(target.members("App Editors").await.is_empty());
    assert_eq!(target.members("App Viewers").await, vec![id.clone()]);
    assert_eq!(target.user("adele@contoso.test").await["active"], true);

    // Revoking the last one deactivates the person in the target.
    remove(&app, &token, &a2).await;
    wait_for(&app, &token, &a2, |a| grant_state(a) == "revoked").await;
    assert!(target.members("App Viewers").await.is_empty());
    let person = target.user("adele@contoso.test").await;
    assert_eq!(person["active"], false, "{person}");
    assert_eq!(person["id"], id.as_str(), "the same person, kept");

    // Each call was an outbox row of kind scim, done.
    let (status, outbox) = app.get(&t.admin, "/api/v1/outbox?kind=scim").await;
    assert_eq!(status, StatusCode::OK, "{outbox}");
    let items = outbox["items"].as_array().expect("items");
    assert_eq!(items.len(), 4, "{outbox}");
    assert!(items.iter().all(|i| i["state"] == "done"), "{outbox}");
}

#[tokio::test]
async fn a_person_the_target_already_has_is_found_reactivated_and_used() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let target = ScimTarget::start(&["App Editors", "App Viewers"]).await;
    let known = target.create_user("adele@contoso.test", false).await;
    let catalog = app.general_catalog(&t).await;
    let (_, roles) = scim_resource(&app, &t, catalog, &target, roles()).await;
    let editors = package_of(&app, &t, catalog, "Editors", roles[0].1).await;

    let (_, r) = request(&app, &token, editors, json!({})).await;
    let a = id_of(&r, "assignmentId");
    wait_for(&app, &token, &a, |a| a["state"] == "delivered").await;

    let people = target.users_named("adele@contoso.test").await;
    assert_eq!(people.len(), 1, "no second person: {people:?}");
    assert_eq!(people[0]["id"], known.as_str());
    assert_eq!(
        people[0]["externalId"], "hr-0042",
        "the target's own record"
    );
    assert_eq!(people[0]["active"], true, "made active for the grant");
    assert_eq!(target.members("App Editors").await, vec![known]);
}

#[tokio::test]
async fn a_target_that_is_down_is_retried_and_delivered_once_it_is_back() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let mut target = ScimTarget::start(&["App Editors", "App Viewers"]).await;
    let catalog = app.general_catalog(&t).await;
    let (_, roles) = scim_resource(&app, &t, catalog, &target, roles()).await;
    let editors = package_of(&app, &t, catalog, "Editors", roles[0].1).await;
    target.stop().await;

    let (_, r) = request(&app, &token, editors, json!({})).await;
    let a = id_of(&r, "assignmentId");
    let waiting = wait_for(&app, &token, &a, |a| a["grants"][0]["error"].is_string()).await;
    assert_eq!(waiting["state"], "delivering", "{waiting}");
    let error = waiting["grants"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot connect") && error.contains(&target.base_url),
        "{error}"
    );

    target.start_again().await;
    app.clock.advance(chrono::Duration::seconds(11));
    let delivered = wait_for(&app, &token, &a, |a| a["state"] == "delivered").await;
    assert_eq!(delivered["grants"][0]["error"], Value::Null);
    let person = target.user("adele@contoso.test").await;
    assert_eq!(
        target.members("App Editors").await,
        vec![id_of(&person, "id")]
    );
}

#[tokio::test]
async fn a_missing_target_group_is_named_and_reprocessing_delivers_once_it_exists() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let target = ScimTarget::start(&["App Viewers"]).await;
    let catalog = app.general_catalog(&t).await;
    let (_, roles) = scim_resource(&app, &t, catalog, &target, roles()).await;
    let editors = package_of(&app, &t, catalog, "Editors", roles[0].1).await;

    let (_, r) = request(&app, &token, editors, json!({})).await;
    let a = id_of(&r, "assignmentId");
    wait_for(&app, &token, &a, |a| a["grants"][0]["error"].is_string()).await;
    app.clock.advance(chrono::Duration::hours(25));
    let failed = wait_for(&app, &token, &a, |a| a["state"] == "deliveryFailed").await;
    let error = failed["grants"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "target group 'App Editors' not found at {}",
            target.base_url
        )),
        "{error}"
    );
    assert!(
        target.users_named("adele@contoso.test").await.is_empty(),
        "nobody is created for a group that is not there"
    );

    // The admin outbox page shows the failed call and why.
    let admin = crate::helpers::portal::sign_in(&app, "contoso", &t.admin_email).await;
    let page = admin.get("/admin/outbox?state=failed").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("target group &#39;App Editors&#39; not found")
            || page.body.contains("target group 'App Editors' not found"),
        "{}",
        page.body
    );

    target.create_group("App Editors").await;
    let (status, again) = app
        .post(
            &t.admin,
            &format!("/api/v1/assignments/{a}/reprocess"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    wait_for(&app, &token, &a, |a| a["state"] == "delivered").await;
    let person = target.user("adele@contoso.test").await;
    assert_eq!(
        target.members("App Editors").await,
        vec![id_of(&person, "id")]
    );
}

#[tokio::test]
async fn a_token_the_target_refuses_is_reported_without_the_token() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let target = ScimTarget::start(&["App Editors"]).await;
    let catalog = app.general_catalog(&t).await;
    let wrong = "not-the-token-the-target-issued";
    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Ticketing",
                   "roles": [{"displayName": "Editor", "connectorValue": "App Editors"}],
                   "connector": {"type": "scim", "baseUrl": target.base_url, "token": wrong}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    let role = crate::helpers::uuid_of(&resource["roles"][0]["id"]);
    let package = package_of(&app, &t, catalog, "Editors", role).await;

    let (_, r) = request(&app, &token, package, json!({})).await;
    let a = id_of(&r, "assignmentId");
    let waiting = wait_for(&app, &token, &a, |a| a["grants"][0]["error"].is_string()).await;
    let error = waiting["grants"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("refused the token (401"), "{error}");
    let (_, outbox) = app.get(&t.admin, "/api/v1/outbox?kind=scim").await;
    assert!(!outbox.to_string().contains(wrong), "{outbox}");
    assert!(!waiting.to_string().contains(wrong));
}

#[tokio::test]
async fn a_person_whose_email_changed_is_found_by_the_external_id_portico_gave_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (user, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let target = ScimTarget::start(&["App Editors", "App Viewers"]).await;
    let catalog = app.general_catalog(&t).await;
    let (_, roles) = scim_resource(&app, &t, catalog, &target, roles()).await;
    let editors = package_of(&app, &t, catalog, "Editors", roles[0].1).await;
    let (_, r) = request(&app, &token, editors, json!({})).await;
    let a = id_of(&r, "assignmentId");
    wait_for(&app, &token, &a, |a| a["state"] == "delivered").await;
    let id = id_of(&target.user("adele@contoso.test").await, "id");

    let (status, changed) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{user}"),
            json!({"email": "adele.vance@contoso.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    remove(&app, &token, &a).await;
    wait_for(&app, &token, &a, |a| grant_state(a) == "revoked").await;

    assert!(target.members("App Editors").await.is_empty());
    let person = target.user("adele@contoso.test").await;
    assert_eq!(person["id"], id.as_str());
    assert_eq!(person["active"], false, "{person}");
}

/// A client of the target standing between Portico and it: every call is passed on
/// as it is, except that just before Portico's first user creation another
/// provisioning client creates that same person in the target (the race a lookup
/// then a create can lose), so the real server answers Portico's create with 409.
/// What the racing proxy holds: the target's base URL, the id it created, the target.
type RaceState = (String, Arc<Mutex<Option<String>>>, Arc<ScimTarget>);

async fn racing_client_in_front_of(target: &ScimTarget) -> (String, Arc<Mutex<Option<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let raced: Arc<Mutex<Option<String>>> = Arc::default();
    let upstream = target.base_url.clone();
    let racer = Arc::new(target.handle());
    let state = (upstream, raced.clone(), racer);
    let app = axum::Router::new()
        .fallback(
            |axum::extract::State((upstream, raced, racer)): axum::extract::State<RaceState>,
             req: axum::extract::Request| async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.expect("body");
                let path = parts.uri.path().trim_start_matches("/v2");
                let first_create = parts.method == http::Method::POST
                    && path == "/Users"
                    && raced.lock().expect("lock").is_none();
                if first_create {
                    let doc: Value = serde_json::from_slice(&body).expect("json");
                    let name = doc["userName"].as_str().expect("userName").to_string();
                    let id = racer.create_user(&name, true).await;
                    *raced.lock().expect("lock") = Some(id);
                }
                let query = parts
                    .uri
                    .query()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                let mut call = reqwest::Client::new()
                    .request(parts.method.clone(), format!("{upstream}{path}{query}"));
                for name in [http::header::AUTHORIZATION, http::header::CONTENT_TYPE] {
                    if let Some(v) = parts.headers.get(&name) {
                        call = call.header(name.as_str(), v.as_bytes());
                    }
                }
                let answer = call.body(body.to_vec()).send().await.expect("upstream");
                let status = answer.status().as_u16();
                let bytes = answer.bytes().await.expect("upstream body");
                (
                    http::StatusCode::from_u16(status).expect("status"),
                    [(http::header::CONTENT_TYPE, "application/scim+json")],
                    bytes.to_vec(),
                )
            },
        )
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v2"), raced)
}

#[tokio::test]
async fn a_create_the_target_answers_409_finds_the_person_another_client_just_made_and_uses_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let target = ScimTarget::start(&["App Editors"]).await;
    let (base_url, raced) = racing_client_in_front_of(&target).await;
    let catalog = app.general_catalog(&t).await;
    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Ticketing",
                   "roles": [{"displayName": "Editor", "connectorValue": "App Editors"}],
                   "connector": {"type": "scim", "baseUrl": base_url, "token": crate::helpers::scim_target::TOKEN}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    let role = crate::helpers::uuid_of(&resource["roles"][0]["id"]);
    let editors = super::package_of(&app, &t, catalog, "Editors", role).await;

    let (_, r) = request(&app, &token, editors, json!({})).await;
    let a = id_of(&r, "assignmentId");
    let delivered = wait_for(&app, &token, &a, |a| a["state"] == "delivered").await;
    assert_eq!(grant_state(&delivered), "delivered", "{delivered}");

    let theirs = raced
        .lock()
        .expect("lock")
        .clone()
        .expect("the other client created the person first, so Portico's create met a 409");
    let people = target.users_named("adele@contoso.test").await;
    assert_eq!(people.len(), 1, "no second person: {people:?}");
    assert_eq!(
        people[0]["id"],
        theirs.as_str(),
        "the person the other client made"
    );
    assert_eq!(target.members("App Editors").await, vec![theirs]);
}
