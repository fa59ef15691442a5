//! The Delivery page of an LDAP resource (its health, with a connection test's result)
//! and the "Slack and Teams" page in a real headless Chromium on the demo tenant: each
//! at 1280 and 390 px (PNG files under target/screenshots/connector-screens/), each
//! checked by axe-core for serious or critical accessibility violations.

use std::path::Path;

use fantoccini::Client;
use serde_json::json;
use uuid::Uuid;

use crate::browser_e2e::{axe, sign_in_as};
use crate::helpers::browser::{
    Shots, browser, click_text, phone_full, start_driver, tempdir, wait_heading,
};
use crate::helpers::slapd::{ADMIN_DN, ADMIN_PASSWORD, PEOPLE, STAFF, Slapd};
use crate::helpers::{AppOptions, TestApp, uuid_of};

#[tokio::test]
async fn the_delivery_and_chat_pages_render_wide_and_narrow_without_serious_accessibility_problems()
{
    let driver = start_driver().await;
    let slapd = Slapd::start().await;
    let app = TestApp::spawn_with(AppOptions {
        demo_tenant: Some("contoso".into()),
        self_base_url: true,
        ..AppOptions::default()
    })
    .await;
    portico::services::demo::seed(&app.pool, app.state.keys(), app.now())
        .await
        .expect("seed the demo tenant");
    let (tenant, general): (Uuid, Uuid) =
        sqlx::query_as("select tenant_id, id from catalogs where display_name = 'General' limit 1")
            .fetch_one(&app.pool)
            .await
            .expect("catalog");
    let admin = app
        .token("contoso", portico::services::demo::ADMIN_EMAIL)
        .await;
    let (status, created) = app
        .post(
            &admin,
            &format!("/api/v1/catalogs/{general}/resources"),
            json!({"kind": "application", "displayName": "Staff directory",
                   "roles": [{"displayName": "Staff", "connectorValue": STAFF}],
                   "connector": {"type": "ldap", "url": slapd.url(), "bindDn": ADMIN_DN,
                                 "bindPassword": ADMIN_PASSWORD, "baseDn": PEOPLE}}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
    let resource = uuid_of(&created["id"]);
    // Its history: one call done, one failed for good, one waiting.
    for (state, error, done) in [
        ("done", None, true),
        (
            "failed",
            Some(format!(
                "no LDAP entry matches (mail=nobody@contoso.example) under {PEOPLE}"
            )),
            true,
        ),
        (
            "pending",
            Some("the LDAP server 127.0.0.1:389 cannot be reached: connection refused".to_string()),
            false,
        ),
    ] {
        sqlx::query(
            "insert into outbox (tenant_id, id, kind, payload, state, attempts, next_attempt_at,
                                 last_error, last_error_at, created_at, completed_at)
             values ($1, $2, 'ldap', $3, $4, 1, $5, $6, case when $6 is null then null else $5 end, $5,
                     case when $7 then $5 else null end)",
        )
        .bind(tenant)
        .bind(Uuid::now_v7())
        .bind(json!({"type": "grant", "resourceId": resource, "resourceName": "Staff directory"}))
        .bind(state)
        .bind(app.now())
        .bind(error)
        .bind(done)
        .execute(&app.pool)
        .await
        .expect("a delivery");
    }

    let profile = tempdir();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/connector-screens");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let c = browser(&driver, &profile).await;
    let result = walk(&c, &app, &mut shots, general, resource).await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.unwrap_or_else(|e| panic!("{e}"));
}

async fn walk(
    c: &Client,
    app: &TestApp,
    shots: &mut Shots,
    general: Uuid,
    resource: Uuid,
) -> Result<(), String> {
    let base = format!("{}/t/contoso", app.address);
    sign_in_as(c, &base, "Contoso Admin", "/admin").await?;
    wait_heading(c, "Administration").await;

    c.goto(&format!(
        "{base}/admin/catalogs/{general}/resources/{resource}/connector"
    ))
    .await
    .map_err(|e| e.to_string())?;
    wait_heading(c, "Delivery of").await;
    click_text(c, "button", "Test connection").await;
    let shown = c
        .wait()
        .at_most(std::time::Duration::from_secs(15))
        .for_element(fantoccini::Locator::Id("connection-test"))
        .await
        .map_err(|e| format!("the test result: {e}"))?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if !shown.contains("Connection works.") {
        return Err(format!("the connection test said: {shown}"));
    }
    shots
        .take_wide_and_narrow(c, "resource-delivery-ldap")
        .await;
    phone_full(c, shots, "resource-delivery-ldap").await?;
    axe(c, "resource-delivery-ldap").await?;

    c.goto(&format!("{base}/admin/chat"))
        .await
        .map_err(|e| e.to_string())?;
    wait_heading(c, "Slack and Teams").await;
    shots.take_wide_and_narrow(c, "admin-chat").await;
    phone_full(c, shots, "admin-chat").await?;
    axe(c, "admin-chat").await?;
    Ok(())
}
