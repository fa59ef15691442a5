//! Hardening rules that no feature test covers: host names (DNS rebinding), signed
//! CSRF tokens and `__Host-` cookies, connector secrets sealed at rest, and the
//! runtime database role that can append to the audit log but never rewrite it.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HOST, SET_COOKIE};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::portal::{input_value, links_sent};
use crate::helpers::{TestApp, test_settings, uuid_of};

// ---------------------------------------------------------------------------------
// Host names

#[tokio::test]
async fn a_request_for_another_host_name_is_refused_so_a_rebound_domain_reads_nothing() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let get = |host: &'static str| {
        app.client
            .get(format!("{}/t/acme/sign-in", app.address))
            .header(HOST, host)
            .send()
    };
    let rebound = get("rebind.evil.example:8080").await.expect("get");
    assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(
        rebound
            .text()
            .await
            .expect("body")
            .contains("PORTICO_BASE_URL")
    );
    // The base URL's own name, and the machine's address, are served.
    assert_eq!(
        get("portico.test").await.expect("get").status(),
        StatusCode::OK
    );
    let direct = app
        .client
        .get(format!("{}/t/acme/sign-in", app.address))
        .send()
        .await
        .expect("get");
    assert_eq!(direct.status(), StatusCode::OK);

    // A form posted from a page on the rebound name never reaches a handler.
    let posted = app
        .client
        .post(format!("{}/t/acme/sign-in", app.address))
        .header(HOST, "rebind.evil.example:8080")
        .header("origin", "http://rebind.evil.example:8080")
        .form(&[("email", "admin@acme.test")])
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn allowed_hosts_are_served_besides_the_base_url() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_ALLOWED_HOSTS", "portico:8080")]).await;
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .header(HOST, "portico:8080")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------
// CSRF tokens

/// The sign-in page's CSRF field for a browser sending `cookie`.
async fn form_token(app: &TestApp, cookie: &str) -> String {
    let page = app
        .client
        .get(format!("{}/t/acme/sign-in", app.address))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    input_value(&page, "csrf_token").expect("csrf field")
}

/// Posts the sign-in form with `cookie` and `token`; the answer's status.
async fn post_sign_in(app: &TestApp, cookie: &str, token: &str, email: &str) -> StatusCode {
    app.client
        .post(format!("{}/t/acme/sign-in", app.address))
        .header(COOKIE, cookie)
        .form(&[("csrf_token", token), ("email", email)])
        .send()
        .await
        .expect("post")
        .status()
}

fn accepted(status: StatusCode) -> bool {
    status.is_success() || status.is_redirection()
}

#[tokio::test]
async fn a_planted_csrf_cookie_with_the_same_value_in_the_form_is_refused() {
    // Classic double submit trusts any cookie: a neighbouring site that can set one
    // could post a form with the value it chose. The field must be the server's
    // signature of the cookie's nonce.
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let planted = "P".repeat(43);
    let cookie = format!("portico_csrf_pre={planted}");
    let refused = post_sign_in(&app, &cookie, &planted, &t.admin_email).await;
    assert_eq!(refused, StatusCode::FORBIDDEN);
    assert_eq!(links_sent(&app, &t.admin_email).await, 0);

    // The page's own token for that cookie passes.
    let token = form_token(&app, &cookie).await;
    assert_ne!(token, planted);
    let status = post_sign_in(&app, &cookie, &token, &t.admin_email).await;
    assert!(accepted(status), "{status}");
    assert_eq!(links_sent(&app, &t.admin_email).await, 1);
}

#[tokio::test]
async fn on_an_https_site_cookies_are_host_prefixed_and_unprefixed_ones_do_not_count() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_BASE_URL", "https://portico.test")]).await;
    let t = app.tenant("acme").await;
    let page = app
        .client
        .get(format!("{}/t/acme/sign-in", app.address))
        .send()
        .await
        .expect("page");
    let cookie = page
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a pre-session cookie")
        .to_string();
    assert!(cookie.starts_with("__Host-portico_csrf_pre="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let pair = cookie.split(';').next().expect("pair").to_string();
    let nonce = pair.split_once('=').expect("value").1.to_string();
    let token = input_value(&page.text().await.expect("body"), "csrf_token").expect("field");

    // The same nonce under the unprefixed name (which any http page or subdomain could
    // set) is not this site's cookie.
    let unprefixed = format!("portico_csrf_pre={nonce}");
    let refused = post_sign_in(&app, &unprefixed, &token, &t.admin_email).await;
    assert_eq!(refused, StatusCode::FORBIDDEN);
    let status = post_sign_in(&app, &pair, &token, &t.admin_email).await;
    assert!(accepted(status), "{status}");
    assert_eq!(links_sent(&app, &t.admin_email).await, 1);
}

#[tokio::test]
async fn a_csrf_token_signed_under_another_secret_key_is_refused() {
    // Two servers on one database with different keys: a token one made does not pass
    // at the other, so the key is what makes tokens unforgeable.
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let other = TestApp::spawn_on_with(
        app.pool.clone(),
        app.db_options.clone(),
        crate::helpers::AppOptions {
            settings: vec![(
                "PORTICO_SECRET_KEY".into(),
                "another-secret-key-another-secret-key".into(),
            )],
            ..Default::default()
        },
    )
    .await;
    let cookie = format!("portico_csrf_pre={}", "N".repeat(43));
    let foreign = form_token(&other, &cookie).await;
    let status = post_sign_in(&app, &cookie, &foreign, &t.admin_email).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The same nonce signed by this server passes, so the key made the difference.
    let own = form_token(&app, &cookie).await;
    assert!(accepted(
        post_sign_in(&app, &cookie, &own, &t.admin_email).await
    ));
}

// ---------------------------------------------------------------------------------
// Sealed connector secrets

async fn stored_secret(app: &TestApp, resource: Uuid) -> String {
    sqlx::query_scalar("select connector_secret from resources where id = $1")
        .bind(resource)
        .fetch_one(&app.pool)
        .await
        .expect("secret")
}

#[tokio::test]
async fn connector_secrets_are_sealed_at_rest_and_older_plain_ones_are_sealed_at_start() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let catalog = app.general_catalog(&t).await;
    let secret = "whsec-plain-secret-0123456789";
    let (status, body) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Payroll", "roles": ["User"],
                   "connector": {"type": "webhook", "url": "https://hooks.example/x", "secret": secret}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let resource = uuid_of(&body["id"]);
    let stored = stored_secret(&app, resource).await;
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    assert!(!stored.contains(secret));
    assert!(!body.to_string().contains(secret));

    // A secret written before sealing existed is sealed when a server starts.
    sqlx::query("update resources set connector_secret = $2 where id = $1")
        .bind(resource)
        .bind(secret)
        .execute(&app.pool)
        .await
        .expect("plain");
    let restarted = TestApp::spawn_on(app.pool.clone(), app.db_options.clone()).await;
    let resealed = stored_secret(&restarted, resource).await;
    assert!(resealed.starts_with("enc:v1:"), "{resealed}");
    let tenant = portico::domain::ids::TenantId(t.id);
    let id = portico::domain::ids::ResourceId(resource);
    let context = portico::services::catalogs::connector_secret_context(tenant, id);
    assert_eq!(
        restarted.state.keys().open(&resealed, &context).as_deref(),
        Ok(secret)
    );
    // Bound to its row: the same sealed value does not open for another resource.
    let elsewhere = portico::services::catalogs::connector_secret_context(
        tenant,
        portico::domain::ids::ResourceId(Uuid::now_v7()),
    );
    assert!(restarted.state.keys().open(&resealed, &elsewhere).is_err());
}

// ---------------------------------------------------------------------------------
// The runtime database role

const RUNTIME_ROLE: &str = "portico_runtime_test";

#[tokio::test]
async fn the_runtime_role_appends_to_the_audit_log_but_cannot_change_delete_or_unprotect_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "do $$ begin create role {RUNTIME_ROLE} login; exception when duplicate_object then null; end $$"
    )))
    .execute(&app.pool)
    .await
    .expect("create the runtime role");
    let owner_url = app.database_url();
    let mut runtime_url = url::Url::parse(&owner_url).expect("url");
    runtime_url.set_username(RUNTIME_ROLE).expect("user");
    let runtime_url = runtime_url.to_string();

    // `serve` migrates as the owner, grants the runtime role and serves through it.
    let settings = test_settings(&[
        ("DATABASE_URL", &owner_url),
        ("PORTICO_RUNTIME_DATABASE_URL", &runtime_url),
    ]);
    let server = portico::startup::Application::build(
        settings,
        portico::startup::Dependencies {
            clock: app.clock.clone(),
            mailer: Arc::new(app.mailer.clone()),
            demo_tenant: None,
        },
    )
    .await
    .expect("build as the runtime role");
    let address = format!("http://{}", server.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    let res = app
        .client
        .post(format!("{address}/api/v1/users"))
        .bearer_auth(&t.admin)
        .json(&json!({"email": "new@acme.test", "displayName": "New Person"}))
        .send()
        .await
        .expect("create a user");
    assert_eq!(res.status(), StatusCode::CREATED);
    let _ = stop.send(());
    let _ = running.await;

    let runtime = portico::db::connect(runtime_url.parse().expect("options"), 1)
        .await
        .expect("connect as the runtime role");
    let events: i64 = sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&runtime)
        .await
        .expect("the runtime role reads the audit log");
    assert!(events > 0);
    for statement in [
        "delete from audit_events",
        "update audit_events set action = 'rewritten'",
        "truncate audit_events",
        "alter table audit_events disable trigger audit_events_no_update",
        "drop trigger audit_events_no_update on audit_events",
        "create table sneaky (id int)",
    ] {
        let err = sqlx::query(statement)
            .execute(&runtime)
            .await
            .expect_err(statement);
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.to_string());
        // 42501 insufficient_privilege, 42501/42P01 never reached: ownership checks.
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {err}");
    }
    let after: i64 = sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(after, events);
    runtime.close().await;
}
