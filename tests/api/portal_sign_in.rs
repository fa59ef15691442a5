//! Sign-in to the portals by emailed link: single use, 15 minutes, a cooldown per
//! address and a limit per client; sessions of deactivated users end at once; signing
//! out; the demo's dev sign-in; the session cookie's attributes.

use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::helpers::portal::{
    Browser, admin_of, ask_for_link, input_value, links_sent, sign_in, sign_in_token, use_link,
};

#[tokio::test]
async fn a_sign_in_link_opens_one_session_and_then_is_used_up() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");

    let before = b.get("/admin").await;
    assert_eq!(before.status, StatusCode::SEE_OTHER);
    assert!(
        before
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/t/acme/sign-in"))
    );

    let sent = ask_for_link(&b, &t.admin_email).await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(sent.body.contains("Check your email"));
    let token = sign_in_token(&app, &t.admin_email).await.expect("token");

    // Opening the link changes nothing (mail scanners open links).
    let confirm = b.get(&format!("/sign-in/{token}")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Sign in"));
    let again = b.get(&format!("/sign-in/{token}")).await;
    assert_eq!(again.status, StatusCode::OK);

    let done = use_link(&b, &token).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Signed in as admin"), "{}", home.body);
    let signed_in: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_sign_in_at from users where id = $1")
            .bind(t.admin_id)
            .fetch_one(&app.pool)
            .await
            .expect("user");
    assert_eq!(signed_in, Some(app.now()));

    // A second use of the same link is refused, in any browser.
    let other = Browser::new(&app, "acme");
    let reused = use_link(&other, &token).await;
    assert_eq!(reused.status, StatusCode::GONE, "{}", reused.body);
    assert!(reused.body.contains("already been used"));
    assert_eq!(other.get("/admin").await.status, StatusCode::SEE_OTHER);

    // Unknown tokens are 404.
    assert_eq!(
        b.get("/sign-in/not-a-real-token").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn asking_for_a_link_never_reveals_whether_the_address_exists() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    let known = ask_for_link(&b, &t.admin_email).await;
    let unknown = ask_for_link(&b, "nobody@acme.test").await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(unknown.status, StatusCode::OK);
    let strip = |s: &str, email: &str| s.replace(email, "EMAIL");
    assert_eq!(
        strip(&known.body, &t.admin_email),
        strip(&unknown.body, "nobody@acme.test")
    );
    assert_eq!(links_sent(&app, &t.admin_email).await, 1);

    let bad = ask_for_link(&b, "not an email").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("is not an email address"));
}

#[tokio::test]
async fn sign_in_links_expire_after_fifteen_minutes() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    ask_for_link(&b, &t.admin_email).await;
    let token = sign_in_token(&app, &t.admin_email).await.expect("token");
    app.clock.advance(chrono::Duration::minutes(15));
    let page = b.get(&format!("/sign-in/{token}")).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.body.contains("expired"));
    assert_eq!(b.get("/admin").await.status, StatusCode::SEE_OTHER);

    // A link used within its 15 minutes works.
    ask_for_link(&b, &t.admin_email).await;
    let token = sign_in_token(&app, &t.admin_email).await.expect("token");
    app.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(use_link(&b, &token).await.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
}

#[tokio::test]
async fn sign_in_emails_to_one_address_wait_a_cooldown_and_one_client_is_limited() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    for _ in 0..5 {
        let asked = ask_for_link(&b, &t.admin_email).await;
        assert_eq!(
            asked.status,
            StatusCode::OK,
            "asking again is never refused"
        );
        assert!(asked.body.contains("Check your email"));
    }
    assert_eq!(
        links_sent(&app, &t.admin_email).await,
        1,
        "one email per address within the cooldown"
    );
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(
        ask_for_link(&b, &t.admin_email).await.status,
        StatusCode::OK
    );
    assert_eq!(links_sent(&app, &t.admin_email).await, 2);

    // One client asking for many addresses is stopped at 30 within 15 minutes.
    app.clock.advance(chrono::Duration::minutes(16));
    for i in 0..30 {
        let a = ask_for_link(&b, &format!("someone{i}@acme.test")).await;
        assert_eq!(a.status, StatusCode::OK, "attempt {i}");
    }
    let limited = ask_for_link(&b, "one-more@acme.test").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.body.contains("Too many sign-in emails"));
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        ask_for_link(&b, "one-more@acme.test").await.status,
        StatusCode::OK,
        "the client window slides"
    );
}

#[tokio::test]
async fn a_deactivated_users_session_ends_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let catalog = app.general_catalog(&t).await;
    let (ada, _) = app
        .user_with_role(&t, "ada@acme.test", "catalogOwner", Some(catalog))
        .await;
    let ada_browser = sign_in(&app, "acme", "ada@acme.test").await;
    assert_eq!(ada_browser.get("/admin").await.status, StatusCode::OK);

    let admin = sign_in(&app, "acme", &t.admin_email).await;
    let done = admin
        .post(&format!("/admin/users/{ada}/deactivate"), &[])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    let after = ada_browser.get("/admin").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    let revoked: i64 = sqlx::query_scalar(
        "select count(*) from sessions where user_id = $1 and revoked_at is not null",
    )
    .bind(ada)
    .fetch_one(&app.pool)
    .await
    .expect("sessions");
    assert_eq!(revoked, 1);
    // A deactivated user gets no new link either.
    let b = Browser::new(&app, "acme");
    ask_for_link(&b, "ada@acme.test").await;
    assert_eq!(links_sent(&app, "ada@acme.test").await, 1);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let (_, b) = admin_of(&app, "acme").await;
    let out = b.post("/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/admin").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn dev_sign_in_exists_only_in_demo_mode() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    assert_eq!(b.get("/dev/sign-in").await.status, StatusCode::NOT_FOUND);

    let demo = TestApp::spawn_demo("contoso").await;
    let t = demo.tenant("contoso").await;
    let b = Browser::new(&demo, "contoso");
    let page = b.get("/dev/sign-in?next=/t/contoso/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign in as admin"));
    let csrf = input_value(&page.body, "csrf_token").expect("csrf");
    let admin_id = t.admin_id.to_string();
    let done = b
        .post_raw(
            "/dev/sign-in",
            &[
                ("csrf_token", &csrf),
                ("userId", &admin_id),
                ("next", "/t/contoso/admin"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location.as_deref(), Some("/t/contoso/admin"));
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
}

#[tokio::test]
async fn session_cookies_are_http_only_and_lax() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = Browser::new(&app, "acme");
    ask_for_link(&b, &t.admin_email).await;
    let token = sign_in_token(&app, &t.admin_email).await.expect("token");
    let page = b.get(&format!("/sign-in/{token}")).await;
    let csrf = input_value(&page.body, "csrf_token").expect("csrf");
    let res = b
        .client
        .post(b.url(&format!("/sign-in/{token}")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("post");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("portico_session="))
        .expect("a session cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    // The test server's base URL is http://, so the cookie is not Secure.
    assert!(!cookie.contains("Secure"));
}
