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
    main_says(c, "Settings saved.").await?;
    keep(c, shots, "admin-settings").await?;
    axe(c, "admin settings").await?;

    sign_in_as(c, &base, "Adele Vance", "/settings").await?;
    wait_heading(c, "Settings").await;
    main_says(c, "it is now 2027-01-04 10:00 CET").await?;
    type_into(c, "#f-timeZone", "America/New_York").await;
    click_text(c, "button", "Save settings").await;
    main_says(c, "Settings saved.").await?;
    main_says(c, "it is now 2027-01-04 04:00 EST").await?;
    keep(c, shots, "portal-settings").await?;
    axe(c, "portal settings").await?;
    Ok(())
}

/// Waits up to 15 seconds for the page's main part to contain `text`.
async fn main_says(c: &Client, text: &str) -> Result<(), String> {
    let mut seen = String::new();
    for _ in 0..150 {
        if let Ok(main) = c.find(fantoccini::Locator::Css("main")).await {
            seen = main.text().await.unwrap_or_default();
            if seen.contains(text) {
                return Ok(());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!("the page never said “{text}”: {seen}"))
}
