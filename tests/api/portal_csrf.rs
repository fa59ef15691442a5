//! Forms of the portals without the session's CSRF token, with a wrong one, or sent
//! from another origin are refused and change nothing.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, ORIGIN};

use crate::helpers::TestApp;
use crate::helpers::portal::{Browser, admin_of, catalog_count, input_value, links_sent};

#[tokio::test]
async fn a_form_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let before = catalog_count(&app, &t).await;

    let missing = b
        .post_raw("/admin/catalogs", &[("displayName", "Sneaky")])
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.body.contains("This form has expired"));

    let wrong = b
        .post_raw(
            "/admin/catalogs",
            &[
                ("csrf_token", "x".repeat(43).as_str()),
                ("displayName", "Sneaky"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(catalog_count(&app, &t).await, before);

    // Sign-in forms need the pre-session cookie's token.
    let anon = Browser::new(&app, "acme");
    let refused = anon
        .post_raw("/sign-in", &[("email", t.admin_email.as_str())])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(links_sent(&app, &t.admin_email).await, 1);

    // The right token works.
    let ok = b.post("/admin/catalogs", &[("displayName", "Legit")]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(catalog_count(&app, &t).await, before + 1);
}

#[tokio::test]
async fn a_form_sent_from_another_origin_is_refused() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let before = catalog_count(&app, &t).await;
    let csrf = b.csrf().await;
    let post = |origin: &'static str| {
        b.client
            .post(b.url("/admin/catalogs"))
            .header(ORIGIN, origin)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("displayName", "From elsewhere"),
            ])
            .send()
    };
    let refused = post("https://evil.example").await.expect("post");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("from another site")
    );
    assert_eq!(
        post("null").await.expect("post").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(catalog_count(&app, &t).await, before);
    // The site's own origin (its base URL, or the host it was reached at) is fine.
    let ok = post("http://portico.test").await.expect("post");
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(catalog_count(&app, &t).await, before + 1);

    // Sign-in forms too.
    let mut headers = HeaderMap::new();
    headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
    let evil = Browser::with_headers(&app, "acme", headers);
    let page = evil.get("/sign-in").await;
    let pre = input_value(&page.body, "csrf_token").expect("csrf");
    let refused = evil
        .post_raw(
            "/sign-in",
            &[("csrf_token", &pre), ("email", t.admin_email.as_str())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(links_sent(&app, &t.admin_email).await, 1);
}
