//! End to end in a real headless Chromium (driven through chromedriver with
//! fantoccini): the tenant admin signs in with the demo's dev sign-in and builds the
//! walkthrough's "Windows 11 Testing" access package — the group resource in catalog
//! General, the package with its Member role, and a two-stage policy (the requestor's
//! manager, then a specific user) — through the pages, saving a screenshot of each
//! step under target/screenshots/. The toolkit is `helpers::browser`.

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::TestApp;
use crate::helpers::browser::{
    Shots, browser, click, click_text, on_fresh, start_driver, tempdir, type_into, wait_for,
    wait_heading,
};

#[tokio::test]
async fn an_admin_builds_the_windows_11_testing_package_in_a_real_browser() {
    let driver = start_driver().await;
    let app = TestApp::spawn_demo("contoso").await;
    let t = app.tenant("contoso").await;
    let (megan, _) = app
        .user(
            &t,
            "megan@contoso.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    app.user(
        &t,
        "adele@contoso.test",
        json!({"displayName": "Adele Vance", "managerId": megan}),
    )
    .await;
    let group = fixtures::group(&app, &t, "Windows 11 Testing").await;

    let profile = tempdir();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let c = browser(&driver, &profile).await;
    let result = run(&c, &app, &mut shots).await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    result.unwrap_or_else(|e| panic!("{e}"));

    // What the pages built is what the walkthrough describes.
    let (package, settings): (Uuid, Value) = sqlx::query_as(
        "select p.id, pol.settings from access_packages p join policies pol on pol.tenant_id = p.tenant_id and pol.package_id = p.id
          where p.tenant_id = $1 and p.display_name = 'Windows 11 Testing'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("the package and its policy");
    let stages = &settings["approval"]["stages"];
    assert_eq!(stages.as_array().map(Vec::len), Some(2), "{settings}");
    assert_eq!(stages[0]["approvers"][0]["type"], "manager");
    assert_eq!(stages[1]["approvers"][0]["type"], "user");
    assert_eq!(stages[1]["approvers"][0]["id"], megan.to_string());
    assert_eq!(settings["requestors"]["scope"], "allMembers");
    let roles: i64 = sqlx::query_scalar(
        "select count(*) from access_package_roles apr join resource_roles rr on rr.tenant_id = apr.tenant_id and rr.id = apr.resource_role_id
           join resources r on r.tenant_id = rr.tenant_id and r.id = rr.resource_id
          where apr.package_id = $1 and r.group_id = $2 and rr.display_name = 'Member'",
    )
    .bind(package)
    .bind(group)
    .fetch_one(&app.pool)
    .await
    .expect("roles");
    assert_eq!(roles, 1);
    assert!(shots.n >= 8, "a screenshot of each step");
}

async fn run(c: &Client, app: &TestApp, shots: &mut Shots) -> Result<(), String> {
    let base = format!("{}/t/contoso", app.address);

    // Sign in as the tenant admin (demo mode's dev sign-in).
    c.goto(&format!("{base}/dev/sign-in?next=/t/contoso/admin"))
        .await
        .map_err(|e| format!("open the dev sign-in page: {e}"))?;
    wait_heading(c, "Dev sign-in").await;
    shots.take(c, "dev-sign-in").await;
    click(c, "button[aria-label='Sign in as admin']").await;
    wait_heading(c, "Administration").await;
    shots.take(c, "admin-overview").await;

    // Catalog General: add the group resource, picked from the directory.
    click_text(c, "a", "Catalogs").await;
    wait_heading(c, "Catalogs").await;
    click_text(c, "a", "General").await;
    wait_heading(c, "General").await;
    click_text(c, "a", "Add resource").await;
    wait_heading(c, "Add a resource").await;
    type_into(c, "#group-search", "Windows").await;
    click_text(c, "button", "Search").await;
    wait_for(c, "button[aria-label='Add group Windows 11 Testing']").await;
    shots.take(c, "pick-group-resource").await;
    click(c, "button[aria-label='Add group Windows 11 Testing']").await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(
            "//td[normalize-space(.)='Windows 11 Testing']",
        ))
        .await
        .map_err(|e| format!("the resource in the catalog: {e}"))?;
    shots.take(c, "catalog-with-resource").await;

    // New access package: catalog, then basics and resource roles.
    c.goto(&format!("{base}/admin/packages/new"))
        .await
        .map_err(|e| e.to_string())?;
    wait_heading(c, "New access package").await;
    click_text(c, "button", "Next: basics").await;
    wait_for(c, "#f-displayName").await;
    type_into(c, "#f-displayName", "Windows 11 Testing").await;
    type_into(
        c,
        "#f-description",
        "If you want to upgrade your system to Windows 11, request access to this package.",
    )
    .await;
    on_fresh(
        c,
        Locator::XPath(
            "//div[@class='role-group'][p[contains(., 'Windows 11 Testing')]]//input[following-sibling::label[starts-with(normalize-space(.), 'Member')]]",
        ),
        |el| async move { el.click().await.map(|_| ()) },
    )
    .await
    .map_err(|e| format!("the Member role checkbox: {e}"))?;
    shots.take(c, "package-basics").await;
    click_text(c, "button", "Create access package").await;
    wait_heading(c, "Windows 11 Testing").await;
    shots.take(c, "package-created").await;

    // The policy, in Entra's steps.
    click_text(c, "a", "Add policy").await;
    wait_heading(c, "New policy").await;
    click_text(c, "button", "Add approval stage").await;
    wait_for(c, "#stage-0").await;
    click_text(c, "button", "Add: Manager of the requestor").await;
    wait_for(c, "input[name='s0.approvers'][value='manager']").await;
    click_text(c, "button", "Add approval stage").await;
    wait_for(c, "#stage-1").await;
    type_into(c, "#find-s1-approvers", "Megan").await;
    on_fresh(
        c,
        Locator::Css("#stage-1 button[value='find:s1.approvers']"),
        |el| async move { el.click().await.map(|_| ()) },
    )
    .await
    .map_err(|e| format!("the stage 2 search button: {e}"))?;
    click_text(c, "button", "Add Megan Bowen").await;
    wait_for(c, "#stage-1 input[name='s1.approvers'][value^='user:']").await;
    c.execute(
        "document.getElementById('step-approval').scrollIntoView()",
        vec![],
    )
    .await
    .map_err(|e| format!("scroll to the approval step: {e}"))?;
    shots.take(c, "policy-approval-stages").await;
    click_text(c, "button", "Update summary").await;
    wait_for(c, "#step-review").await;
    // The summary is swapped in by htmx: read it until the update has landed.
    let mut summary = String::new();
    for _ in 0..50 {
        summary = on_fresh(c, Locator::Css("#step-review"), |el| async move {
            el.text().await
        })
        .await
        .map_err(|e| format!("the summary: {e}"))?;
        if summary.contains("Stage 2: Megan Bowen") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !summary.contains("Stage 2: Megan Bowen") {
        return Err(format!("the summary shows both stages: {summary}"));
    }
    shots.take(c, "policy-review-create").await;
    click(c, "#save-policy").await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(
            "//p[contains(., 'Policy “Initial policy” created.')]",
        ))
        .await
        .map_err(|e| format!("the saved policy: {e}"))?;
    shots.take(c, "package-with-policy").await;
    Ok(())
}
