//! Time zones in a real Chromium: the tenant admin sets the tenant's zone on the
//! settings page, a person sets their own on My Access's settings page, and both pages
//! are saved at 1280 and 390 px (kept in docs/screenshots/) and checked by axe-core.

use std::path::Path;

use fantoccini::Client;

use crate::browser_e2e::{axe, sign_in_as};
use crate::helpers::browser::{
    Shots, browser, click_text, phone_full, start_driver, tempdir, type_into, wait_for,
    wait_heading,
};
use crate::helpers::{AppOptions, TestApp};

#[tokio::test]
async fn the_zone_settings_pages_work_wide_and_narrow_in_a_real_browser() {
    let driver = start_driver().await;
    let app = TestApp::spawn_with(AppOptions {
        demo_tenant: Some("contoso".into()),
        ..AppOptions::default()
    })
    .await;
    portico::services::demo::seed(&app.pool, app.state.keys(), app.now())
        .await
        .expect("seed the demo tenant");
    let profile = tempdir();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/time-zones");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let c = browser(&driver, &profile).await;
    let result = run(&c, &app, &mut shots).await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.unwrap_or_else(|e| panic!("{e}"));

    let zones: (String, Option<String>) = sqlx::query_as(
        "select t.time_zone, u.time_zone from tenants t join users u on u.tenant_id = t.id
          where t.slug = 'contoso' and u.email = 'adele@contoso.example'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("zones");
    assert_eq!(
        zones,
        (
            "Europe/Berlin".to_string(),
            Some("America/New_York".to_string())
        )
    );
}

/// Saves the current page at both widths under `name`, and as docs/screenshots/.
async fn keep(c: &Client, shots: &mut Shots, name: &str) -> Result<(), String> {
    shots.take_wide_and_narrow(c, name).await;
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&docs).map_err(|e| e.to_string())?;
    for (n, suffix) in [(shots.n - 1, ""), (shots.n, "-390")] {
        let from = shots.dir.join(format!("{n:02}-{name}{suffix}.png"));
        std::fs::copy(&from, docs.join(format!("{name}{suffix}.png")))
            .map_err(|e| format!("copy {}: {e}", from.display()))?;
    }
    phone_full(c, shots, name).await
}

async fn run(c: &Client, app: &TestApp, shots: &mut Shots) -> Result<(), String> {
    let base = format!("{}/t/contoso", app.address);

    sign_in_as(c, &base, "Contoso Admin", "/admin/settings").await?;
    wait_heading(c, "Tenant settings").await;
    type_into(c, "#f-timeZone", "Mars/Base").await;
    click_text(c, "button", "Save settings").await;
    wait_for(c, ".error-summary").await;
    type_into(c, "#f-timeZone", "Europe/Berlin").await;
    click_text(c, "button", "Save settings").await;
    wait_for(c, "#flash .flash").await;
    wait_heading(c, "Tenant settings").await;
    keep(c, shots, "admin-settings").await?;
    axe(c, "admin settings").await?;

    sign_in_as(c, &base, "Adele Vance", "/settings").await?;
    wait_heading(c, "Settings").await;
    let text = c
        .find(fantoccini::Locator::Css("main"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if !text.contains("Europe/Berlin") || !text.contains("CET") {
        return Err(format!("the settings page names the tenant's zone: {text}"));
    }
    type_into(c, "#f-timeZone", "America/New_York").await;
    click_text(c, "button", "Save settings").await;
    wait_for(c, "#flash .flash").await;
    let text = c
        .find(fantoccini::Locator::Css("main"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if !text.contains("EST") {
        return Err(format!("the page reads times in New York now: {text}"));
    }
    keep(c, shots, "portal-settings").await?;
    axe(c, "portal settings").await?;
    Ok(())
}
