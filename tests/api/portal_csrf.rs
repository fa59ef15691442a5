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

/// When the admin's session was last seen (at most one session per test tenant here).
async fn last_seen(app: &TestApp, tenant: uuid::Uuid) -> chrono::DateTime<chrono::Utc> {
    sqlx::query_scalar("select last_seen_at from sessions where tenant_id = $1")
        .bind(tenant)
        .fetch_one(&app.pool)
        .await
        .expect("session")
}

#[tokio::test]
async fn a_form_from_another_origin_is_refused_before_the_session_is_looked_up() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let general = app.general_catalog(&t).await;
    let csrf = b.csrf().await;
    // Seen ten minutes ago: any lookup of the session now would move this forward.
    let earlier = app.now() - chrono::Duration::minutes(10);
    sqlx::query("update sessions set last_seen_at = $2 where tenant_id = $1")
        .bind(t.id)
        .bind(earlier)
        .execute(&app.pool)
        .await
        .expect("age the session");
    let seen = last_seen(&app, t.id).await;

    // Forms under a typed path (the path's ids are read before the form), of the admin
    // portal and of My Access, and one without ids, all with a valid session and token.
    for path in [
        format!("/admin/catalogs/{general}/edit"),
        format!("/admin/catalogs/{general}/roles"),
        format!("/requests/{}/cancel", uuid::Uuid::now_v7()),
        "/admin/catalogs".to_string(),
        "/sign-out".to_string(),
    ] {
        let refused = b
            .client
            .post(b.url(&path))
            .header(ORIGIN, "https://evil.example")
            .form(&[("csrf_token", csrf.as_str()), ("displayName", "Elsewhere")])
            .send()
            .await
            .expect("post");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            refused
                .text()
                .await
                .expect("body")
                .contains("from another site"),
            "{path}"
        );
        assert_eq!(
            last_seen(&app, t.id).await,
            seen,
            "{path} touched the session"
        );
    }

    // The same session used from this site is looked up and touched as usual.
    let page = b.get(&format!("/admin/catalogs/{general}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(last_seen(&app, t.id).await > seen);
}

/// The error page's link to the tenant's start page.
const HOME_LINK: &str = "href=\"/t/acme/\">Go to the start page";

#[tokio::test]
async fn a_malformed_id_shows_the_tenants_error_page_or_sends_a_stranger_to_sign_in() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    for path in ["/admin/catalogs/not-an-id", "/requests/not-an-id"] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains(HOME_LINK), "{path}: {}", page.body);
    }
    // A malformed id in a posted form's path, from this site, is the same 404 page.
    let posted = b
        .post("/admin/catalogs/not-an-id/edit", &[("displayName", "X")])
        .await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert!(posted.body.contains(HOME_LINK));

    // Without a session, well-formed or not, the page asks to sign in first.
    let anon = Browser::new(&app, "acme");
    for path in [
        "/admin/catalogs/not-an-id".to_string(),
        format!("/admin/catalogs/{}", app.general_catalog(&t).await),
    ] {
        let page = anon.get(&path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            page.location
                .as_deref()
                .is_some_and(|l| l.starts_with("/t/acme/sign-in")),
            "{path}"
        );
    }
}
