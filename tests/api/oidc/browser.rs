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
