//! The walkthrough end to end in a real headless Chromium, on the seeded demo tenant
//! `contoso`: Adele Vance requests "Windows 11 Testing" in My Access with a
//! justification and an answer; her manager Megan Bowen approves stage 1 from the
//! emailed `Approve:` link; the group owner Alex Wilber approves stage 2 in the
//! Approvals tab; Adele sees the request delivered and is a member of the group.
//! Each step is saved as a PNG under target/screenshots/ (four are kept in
//! docs/screenshots/), and axe-core checks the main pages for serious or critical
//! accessibility violations.
//!
//! axe-core 4.10.2 (`npm pack axe-core@4.10.2`, `package/axe.min.js`), pinned in
//! tests/assets/axe.min.js.

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::helpers::browser::{
    Shots, browser, click, click_text, start_driver, tempdir, type_into, wait_for, wait_heading,
};
use crate::helpers::{AppOptions, TestApp};
use crate::mailbox::{line_url, wait_for_email};

const AXE: &str = include_str!("../assets/axe.min.js");

#[tokio::test]
async fn an_employee_requests_windows_11_testing_and_both_stages_approve_it_in_a_real_browser() {
    let driver = start_driver().await;
    let app = TestApp::spawn_with(AppOptions {
        demo_tenant: Some("contoso".into()),
        self_base_url: true,
        ..AppOptions::default()
    })
    .await;
    portico::services::demo::seed(&app.pool, app.state.keys(), app.now())
        .await
        .expect("seed the demo tenant");

    let profile = tempdir();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let c = browser(&driver, &profile).await;
    let result = run(&c, &app, &mut shots).await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.unwrap_or_else(|e| panic!("{e}"));

    // Adele is a member of the group, delivered by her assignment.
    let members: i64 = sqlx::query_scalar(
        "select count(*) from group_memberships m join groups g on g.tenant_id = m.tenant_id and g.id = m.group_id
           join users u on u.tenant_id = m.tenant_id and u.id = m.user_id
          where g.display_name = 'Windows 11 Testing' and u.email = 'adele@contoso.example'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("membership");
    assert_eq!(members, 1, "Adele is in the group");
}

/// Runs axe-core on the current page; fails on serious or critical violations.
pub(crate) async fn axe(c: &Client, page: &str) -> Result<usize, String> {
    c.execute(&format!("{AXE}\nwindow.__axe_result = null; axe.run(document).then(r => {{ window.__axe_result = r; }});"), vec![])
        .await
        .map_err(|e| format!("inject axe on {page}: {e}"))?;
    for _ in 0..200 {
        let v: Value = c
            .execute("return window.__axe_result && window.__axe_result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));", vec![])
            .await
            .map_err(|e| format!("read axe results on {page}: {e}"))?;
        if let Value::Array(violations) = v {
            let bad: Vec<&Value> = violations
                .iter()
                .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                .collect();
            if !bad.is_empty() {
                return Err(format!(
                    "axe found serious or critical violations on {page}:\n{}",
                    serde_json::to_string_pretty(&bad).unwrap_or_default()
                ));
            }
            return Ok(violations.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("axe did not finish on {page}"))
}

pub(crate) async fn sign_in_as(
    c: &Client,
    base: &str,
    name: &str,
    next: &str,
) -> Result<(), String> {
    c.goto(&format!("{base}/dev/sign-in?next=/t/contoso{next}"))
        .await
        .map_err(|e| format!("open the dev sign-in page: {e}"))?;
    wait_heading(c, "Dev sign-in").await;
    click(c, &format!("button[aria-label='Sign in as {name}']")).await;
    Ok(())
}

fn keep(shots: &Shots, name: &str) {
    let from = shots.dir.join(format!("{:02}-{name}.png", shots.n));
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&docs).expect("docs/screenshots");
    std::fs::copy(&from, docs.join(format!("{name}.png"))).expect("copy screenshot");
}

async fn run(c: &Client, app: &TestApp, shots: &mut Shots) -> Result<(), String> {
    let base = format!("{}/t/contoso", app.address);

    // Adele browses the packages and opens Windows 11 Testing.
    sign_in_as(c, &base, "Adele Vance", "/packages").await?;
    wait_heading(c, "Access packages").await;
    type_into(c, "#package-search", "Windows").await;
    click_text(c, "button", "Search").await;
    wait_for(c, "a[aria-label='Request Windows 11 Testing']").await;
    shots.take(c, "portal-packages").await;
    keep(shots, "portal-packages");
    let mut checked = axe(c, "packages").await?;
    click_text(c, "a", "Windows 11 Testing").await;
    wait_heading(c, "Windows 11 Testing").await;
    checked += axe(c, "package").await?;

    // The request: first without an answer (422 with the message at its field).
    type_into(
        c,
        "#f-justification",
        "I test our line-of-business apps on Windows 11.",
    )
    .await;
    click(c, "#submit-request").await;
    wait_for(c, ".error-summary").await;
    let answer = c
        .find(Locator::XPath(
            "//label[contains(., 'Which device will you upgrade?')]/following-sibling::input",
        ))
        .await
        .map_err(|e| format!("the question's input: {e}"))?;
    answer
        .send_keys("Surface Laptop 5")
        .await
        .map_err(|e| e.to_string())?;
    shots.take(c, "portal-request").await;
    keep(shots, "portal-request");
    click(c, "#submit-request").await;
    wait_heading(c, "Access: Windows 11 Testing").await;
    shots.take(c, "portal-request-submitted").await;
    checked += axe(c, "request").await?;
    c.goto(&format!("{base}/requests"))
        .await
        .map_err(|e| e.to_string())?;
    wait_heading(c, "My requests").await;
    checked += axe(c, "requests").await?;

    // Megan, the manager, approves stage 1 from her email's Approve link.
    let email = wait_for_email(&app.mailer, |e| {
        e.to == "megan@contoso.example" && e.text.contains("Approve: ")
    })
    .await;
    let approve = line_url(&email.text, "Approve: ");
    c.goto(&approve).await.map_err(|e| e.to_string())?;
    wait_heading(c, "Approve this request?").await;
    shots.take(c, "approval-link").await;
    keep(shots, "approval-link");
    click_text(c, "button", "Approve").await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath("//h1[not(contains(., 'this request?'))]"))
        .await
        .map_err(|e| format!("the decided page: {e}"))?;
    shots.take(c, "approval-link-decided").await;

    // Alex, the group owner, approves stage 2 in the Approvals tab.
    sign_in_as(c, &base, "Alex Wilber", "/approvals").await?;
    wait_heading(c, "Approvals").await;
    wait_for(c, "table").await;
    checked += axe(c, "approvals").await?;
    shots.take(c, "portal-approvals").await;
    click_text(c, "a", "Windows 11 Testing").await;
    wait_heading(c, "Adele Vance asks for Windows 11 Testing").await;
    checked += axe(c, "approval").await?;
    type_into(c, "#f-justification", "Welcome to the beta ring.").await;
    shots.take(c, "portal-approval").await;
    click(c, "#approve").await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(
            "//p[contains(., 'You approved the request.')]",
        ))
        .await
        .map_err(|e| format!("the approval flash: {e}"))?;

    // Adele sees the request delivered and her access.
    sign_in_as(c, &base, "Adele Vance", "/requests").await?;
    wait_heading(c, "My requests").await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(
            "//span[contains(@class, 'badge') and normalize-space(.)='Delivered']",
        ))
        .await
        .map_err(|e| format!("the delivered request: {e}"))?;
    shots.take(c, "portal-delivered").await;
    keep(shots, "portal-delivered");
    c.goto(&format!("{base}/access"))
        .await
        .map_err(|e| e.to_string())?;
    wait_heading(c, "My access").await;
    shots.take_wide_and_narrow(c, "portal-access").await;
    c.goto(&format!("{base}/access?tab=expired"))
        .await
        .map_err(|e| e.to_string())?;
    wait_heading(c, "My access").await;
    shots.take_wide_and_narrow(c, "portal-access-expired").await;
    // The package she now holds says so in the list.
    c.goto(&format!("{base}/packages?q=Windows"))
        .await
        .map_err(|e| e.to_string())?;
    wait_for(c, "a[aria-label='Extend Windows 11 Testing']").await;
    shots.take_wide_and_narrow(c, "portal-packages-held").await;

    // Two admin pages pass axe too.
    sign_in_as(c, &base, "Contoso Admin", "/admin/packages").await?;
    wait_heading(c, "Access packages").await;
    checked += axe(c, "admin packages").await?;
    click_text(c, "a", "Windows 11 Testing").await;
    wait_heading(c, "Windows 11 Testing").await;
    click_text(c, "a", "Internal users").await;
    wait_for(c, "form").await;
    checked += axe(c, "admin policy editor").await?;
    shots.take_wide_and_narrow(c, "admin-policy-editor").await;
    eprintln!("axe: no serious or critical violations; {checked} minor ones on 8 pages");
    Ok(())
}
