//! The emailed approval link pages and the requester portal on a phone, in a real
//! headless Chromium at 390 px: the request's details keep their words whole (each
//! label above its value, nothing wider than the screen), the portal's header folds its
//! navigation behind a Menu button, and card lists have no bullets. Screenshots at 1280
//! and 390 px go to target/screenshots/phone/.

use std::path::Path;

use fantoccini::Client;
use serde_json::{Value, json};

use crate::helpers::browser::{
    Shots, browser, click, click_text, start_driver, tempdir, type_into, wait_for, wait_heading,
};
use crate::helpers::portal::sign_in_token;
use crate::helpers::{AppOptions, TestApp};
use crate::mailbox::{line_url, pending_request, wait_for_email};

/// Measures the page as laid out now: the narrowest `.details` value, the page's
/// scroll width and the viewport's width.
async fn layout(c: &Client) -> Result<Value, String> {
    c.execute(
        "const dds = [...document.querySelectorAll('.details dd')];
         return {
           narrowest: dds.length ? Math.min(...dds.map(d => d.getBoundingClientRect().width)) : null,
           scroll: document.documentElement.scrollWidth,
           viewport: window.innerWidth
         };",
        vec![],
    )
    .await
    .map_err(|e| format!("measure the page: {e}"))
}

/// At a phone's width the page fits the screen and no value is squeezed.
async fn fits_a_phone(c: &Client, page: &str) -> Result<(), String> {
    c.set_window_size(390, 844)
        .await
        .map_err(|e| format!("phone-wide window: {e}"))?;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let m = layout(c).await?;
    let viewport = m["viewport"].as_f64().unwrap_or(0.0);
    let result = if m["scroll"].as_f64().unwrap_or(f64::MAX) > viewport {
        Err(format!("{page} is wider than the phone's screen: {m}"))
    } else if let Some(w) = m["narrowest"].as_f64()
        && w < viewport * 0.6
    {
        Err(format!(
            "{page}: a detail value is squeezed to {w} px of a {viewport} px screen: {m}"
        ))
    } else {
        Ok(())
    };
    c.set_window_size(1280, 1400)
        .await
        .map_err(|e| format!("wide window: {e}"))?;
    result
}

#[tokio::test]
async fn the_approval_link_pages_and_the_portal_work_on_a_phone() {
    let driver = start_driver().await;
    let app = TestApp::spawn_with(AppOptions {
        self_base_url: true,
        ..AppOptions::default()
    })
    .await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let email = wait_for_email(&app.mailer, |e| {
        e.to == p.manager_email && e.subject.starts_with("Approval needed")
    })
    .await;
    let approve = line_url(&email.text, "Approve: ");

    let profile = tempdir();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/phone");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let c = browser(&driver, &profile).await;
    // A second request of Adele's, still open, for the cancel confirmation.
    let other = crate::fixtures::group_package(
        &app,
        &p.t,
        "Sales CRM",
        crate::fixtures::open_policy(json!({"approval": {"stages": [
            {"approvers": [{"type": "manager"}], "decision": "anyOne", "timeoutDays": 7}]}})),
    )
    .await;
    let (_, open) = crate::fixtures::request(&app, &p.employee.1, other.package, json!({})).await;
    let open = open["id"].as_str().expect("id").to_string();
    let result = run(&c, &app, &approve, &open, &mut shots).await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.unwrap_or_else(|e| panic!("{e}"));
}

async fn run(
    c: &Client,
    app: &TestApp,
    approve: &str,
    open: &str,
    shots: &mut Shots,
) -> Result<(), String> {
    // The decide page.
    c.goto(approve)
        .await
        .map_err(|e| format!("open link: {e}"))?;
    wait_heading(c, "Approve this request?").await;
    shots.take_wide_and_narrow(c, "link-decide").await;
    fits_a_phone(c, "the decide page").await?;

    // The decided page.
    type_into(c, "#justification", "Fine for the pilot").await;
    click(c, "button.approve").await;
    wait_heading(c, "Decision recorded").await;
    shots.take_wide_and_narrow(c, "link-decided").await;
    fits_a_phone(c, "the decided page").await?;

    // A notice page.
    c.goto(&format!("{}/links/not-a-token/approve", app.address))
        .await
        .map_err(|e| format!("open unknown link: {e}"))?;
    wait_heading(c, "This link is not valid").await;
    shots.take_wide_and_narrow(c, "link-notice").await;
    fits_a_phone(c, "the notice page").await?;

    // Adele signs in to the portal with her emailed link.
    let base = format!("{}/t/contoso", app.address);
    c.goto(&format!("{base}/sign-in"))
        .await
        .map_err(|e| format!("sign-in page: {e}"))?;
    type_into(c, "#email", "adele@contoso.test").await;
    click_text(c, "button", "Email me a sign-in link").await;
    let mut token = None;
    for _ in 0..100 {
        token = sign_in_token(app, "adele@contoso.test").await;
        if token.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let token = token.ok_or("no sign-in link for Adele")?;
    c.goto(&format!("{base}/sign-in/{token}"))
        .await
        .map_err(|e| format!("sign-in link: {e}"))?;
    click_text(c, "button", "Sign in").await;
    wait_for(c, ".whoami").await;
    c.goto(&format!("{base}/packages"))
        .await
        .map_err(|e| format!("packages: {e}"))?;
    wait_for(c, ".package-cards").await;
    shots.take_wide_and_narrow(c, "portal-packages").await;

    let bullets: Value = c
        .execute(
            "return [...document.querySelectorAll('.cards > li, .request-list > li')].map(li => getComputedStyle(li).listStyleType);",
            vec![],
        )
        .await
        .map_err(|e| format!("list styles: {e}"))?;
    let styles = bullets.as_array().cloned().unwrap_or_default();
    if styles.is_empty() || styles.iter().any(|s| s != "none") {
        return Err(format!("card lists show bullets: {bullets}"));
    }

    // On a phone the header folds its navigation behind a Menu button.
    c.set_window_size(390, 844)
        .await
        .map_err(|e| format!("phone-wide window: {e}"))?;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let header = |c: &Client| {
        let c = c.clone();
        async move {
            c.execute(
                "const h = document.querySelector('.topbar').getBoundingClientRect().height;
                 const nav = document.querySelector('.mainnav');
                 return {height: h, navShown: nav.getBoundingClientRect().height > 0};",
                vec![],
            )
            .await
            .map_err(|e| format!("measure the header: {e}"))
        }
    };
    let folded = header(c).await?;
    if folded["navShown"] != json!(false) || folded["height"].as_f64().unwrap_or(999.0) > 72.0 {
        return Err(format!("the header does not fold on a phone: {folded}"));
    }
    shots.take(c, "portal-header-folded-390").await;
    click_text(c, "label", "Menu").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let opened = header(c).await?;
    if opened["navShown"] != json!(true) {
        return Err(format!(
            "the Menu button does not open the navigation: {opened}"
        ));
    }
    shots.take(c, "portal-header-open-390").await;
    c.set_window_size(1280, 1400)
        .await
        .map_err(|e| format!("wide window: {e}"))?;
    let wide = header(c).await?;
    if wide["navShown"] != json!(true) {
        return Err(format!("the navigation is hidden on a wide screen: {wide}"));
    }

    // Canceling asks first.
    c.goto(&format!("{base}/requests/{open}"))
        .await
        .map_err(|e| format!("request page: {e}"))?;
    click_text(c, "summary", "Cancel this request").await;
    wait_for(c, ".confirm[open] button.danger").await;
    shots.take_wide_and_narrow(c, "portal-cancel-confirm").await;
    Ok(())
}
