//! Limits that hold back the sender and nobody else: `X-Forwarded-For` counts only
//! behind a trusted proxy, a flood of sign-in requests for someone's address never
//! locks them out, and an API token over its rate gets 429 with `Retry-After` while
//! other tokens go on.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use crate::helpers::TestApp;
use crate::helpers::portal::{Browser, ask_for_link, input_value, links_sent, sign_in_token};

/// A browser whose requests say they were forwarded for `xff`.
fn browser_from(app: &TestApp, xff: &str) -> Browser {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(xff).expect("header"),
    );
    Browser::with_headers(app, "acme", headers)
}

/// The client addresses the sign-in limit has counted, in order.
async fn counted_clients(app: &TestApp) -> Vec<Option<String>> {
    sqlx::query_scalar("select client_ip from sign_in_attempts order by created_at, id")
        .fetch_all(&app.pool)
        .await
        .expect("attempts")
}

#[tokio::test]
async fn a_forwarded_for_header_from_an_untrusted_peer_is_ignored() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    ask_for_link(&browser_from(&app, "198.51.100.1"), &t.admin_email).await;
    ask_for_link(&browser_from(&app, "198.51.100.2"), "nobody@acme.test").await;
    assert_eq!(
        counted_clients(&app).await,
        vec![Some("127.0.0.1".to_string()); 2],
        "both requests count for the real peer"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_counted() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let t = app.tenant("acme").await;
    ask_for_link(&browser_from(&app, "1.2.3.4, 198.51.100.1"), &t.admin_email).await;
    ask_for_link(&browser_from(&app, "2001:db8:5:6::9"), "nobody@acme.test").await;
    assert_eq!(
        counted_clients(&app).await,
        vec![
            Some("198.51.100.1".to_string()),
            Some("2001:db8:5:6::/64".to_string())
        ],
        "the right-most address the proxy saw; IPv6 by its /64"
    );
}

#[tokio::test]
async fn a_flood_of_sign_in_requests_never_locks_the_victim_out() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let t = app.tenant("acme").await;
    let victim = t.admin_email.clone();
    let attacker = browser_from(&app, "203.0.113.66");
    let mut refused = 0;
    for _ in 0..35 {
        let a = ask_for_link(&attacker, &victim).await;
        match a.status {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    assert_eq!(refused, 5, "the flooding address is held back after 30");
    assert_eq!(
        links_sent(&app, &victim).await,
        1,
        "the flood sent the victim a single email"
    );

    // From their own address the victim is answered as always, during the flood...
    let own = browser_from(&app, "198.51.100.20");
    let asked = ask_for_link(&own, &victim).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("Check your email"));

    // ...and once the cooldown has passed, gets a fresh link and signs in with it.
    app.clock.advance(chrono::Duration::seconds(61));
    let asked = ask_for_link(&own, &victim).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(links_sent(&app, &victim).await, 2);
    let token = sign_in_token(&app, &victim).await.expect("a link");
    let confirm = own.get(&format!("/sign-in/{token}")).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    let csrf = input_value(&confirm.body, "csrf_token").expect("csrf field");
    let done = own
        .post_raw(&format!("/sign-in/{token}"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(own.get("/admin").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_api_token_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with_settings(&[
        ("PORTICO_API_RATE_PER_SECOND", "1"),
        ("PORTICO_API_BURST", "3"),
    ])
    .await;
    let t = app.tenant("acme").await;
    let busy = app.token("acme", &t.admin_email).await;
    let quiet = app.token("acme", &t.admin_email).await;

    for i in 0..3 {
        let (status, body) = app.get(&busy, "/api/v1/me").await;
        assert_eq!(
            status,
            StatusCode::OK,
            "call {i} is within the burst: {body}"
        );
    }
    // The rate refills one call a second, so a slow machine may get one more through.
    let mut limited = None;
    for _ in 0..10 {
        let res = app
            .request(reqwest::Method::GET, &busy, "/api/v1/me")
            .send()
            .await
            .expect("send");
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("the token was limited");
    let retry_after: u64 = res
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let problem: serde_json::Value = res.json().await.expect("json");
    assert_eq!(problem["status"], 429);
    assert_eq!(problem["type"], "urn:portico:problem:rate-limited");

    let (status, _) = app.get(&quiet, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "another token has its own budget");
    let (status, _) = app.get("not-a-token", "/api/v1/me").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "authentication comes before the limit"
    );
}
