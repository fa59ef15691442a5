//! The sign-in in a real headless Chromium: the button on the sign-in page, the
//! provider's login page, back to the portal signed in.

use std::path::Path;

use serde_json::json;

use super::{app, connected};
use crate::helpers::browser::{
    Shots, browser, click, start_driver, tempdir, wait_for, wait_heading,
};
use crate::helpers::oidc::fill_login;

#[tokio::test]
async fn a_person_signs_in_with_the_button_and_the_providers_login_page_in_chromium() {
    let driver = start_driver().await;
    let app = app().await;
    let (_t, idp) = connected(&app, json!({})).await;
    idp.add_account("stranger@acme.test", true, "Stranger")
        .await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/oidc");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let profile = tempdir();
    let c = browser(&driver, &profile).await;

    c.goto(&format!("{}/t/acme/sign-in", app.address))
        .await
        .unwrap();
    wait_for(&c, "#sign-in-provider").await;
    shots
        .take_wide_and_narrow(&c, "sign-in-with-provider")
        .await;
    click(&c, "#sign-in-provider").await;
    fill_login(&c, "ada@acme.test").await;
    wait_for(&c, "main").await;
    let body = c
        .find(fantoccini::Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Signed in as Ada Lovelace"), "{body}");
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/t/acme/")
    );
    shots.take(&c, "signed-in").await;

    // A person the tenant does not know gets a page saying what to do.
    let profile = tempdir();
    let c2 = browser(&driver, &profile).await;
    c2.goto(&format!("{}/t/acme/oidc/start", app.address))
        .await
        .unwrap();
    fill_login(&c2, "stranger@acme.test").await;
    wait_heading(&c2, "No Portico account for this address").await;
    shots.take_wide_and_narrow(&c2, "refused-unknown").await;
    c.close().await.ok();
    c2.close().await.ok();
}

async fn page_text(c: &fantoccini::Client) -> String {
    c.find(fantoccini::Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_tests_the_provider_and_creates_a_scim_token_on_the_sign_in_page() {
    let driver = start_driver().await;
    let app = app().await;
    let (t, idp) = connected(&app, json!({})).await;
    idp.add_account(&t.admin_email, true, "Acme Admin").await;
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/sign-in-and-directory");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let mut shots = Shots { dir, n: 0 };
    let profile = tempdir();
    let c = browser(&driver, &profile).await;

    // The admin signs in through the provider, then opens the page from the navigation.
    c.goto(&format!("{}/t/acme/oidc/start", app.address))
        .await
        .unwrap();
    fill_login(&c, &t.admin_email).await;
    wait_for(&c, "main").await;
    c.goto(&format!("{}/t/acme/admin", app.address))
        .await
        .unwrap();
    click(&c, "a[href='/t/acme/admin/sign-in']").await;
    wait_heading(&c, "Sign-in and directory").await;
    shots.take_wide_and_narrow(&c, "page").await;

    // A test sign-in shows the provider's sign-in again (the admin is signed in there
    // already), here as Ada, and comes back to the page with what would happen.
    click(&c, "#test-sign-in").await;
    fill_login(&c, "ada@acme.test").await;
    wait_heading(&c, "Sign-in and directory").await;
    let body = page_text(&c).await;
    assert!(body.contains("Test sign-in worked"), "{body}");
    shots.take_wide_and_narrow(&c, "tested").await;

    // A bad save names the field.
    let client_id = wait_for(&c, "#f-clientId").await;
    client_id.clear().await.unwrap();
    click(&c, "form[action$='/admin/sign-in'] button[type=submit]").await;
    wait_for(&c, "#f-clientId-error").await;
    shots.take_wide_and_narrow(&c, "invalid").await;

    // A SCIM token is shown once.
    crate::helpers::browser::type_into(&c, "#f-name", "Entra ID provisioning").await;
    click(&c, "form[action$='/admin/sign-in/tokens'] button").await;
    let shown = wait_for(&c, "#new-scim-token").await;
    assert!(shown.text().await.unwrap().starts_with("pscim_"));
    shots.take_wide_and_narrow(&c, "token-created").await;
    c.execute(
        "document.getElementById('scim-title').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    shots.take(&c, "tokens-and-activity").await;
    c.close().await.ok();
}
