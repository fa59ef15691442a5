//! The HTTP edge under abuse: half-sent headers and stalled bodies time out, the
//! connection limit holds, `/metrics` asks for its token, oversized JSON is 413, idle
//! sessions end.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;
use crate::helpers::portal::sign_in;

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `limit` passes: then `None`).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_connection_that_sends_half_its_headers_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_HEADER_TIMEOUT_SECONDS", "1")]).await;
    let mut stream = TcpStream::connect(host_port(&app)).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: portico.test\r\nUser-Agent: slow")
        .await
        .expect("half the headers");
    let started = Instant::now();

    let closed = read_until_closed(&mut stream, Duration::from_secs(10)).await;

    let waited = started.elapsed();
    assert!(closed.is_some(), "the connection is still open after 10 s");
    assert!(
        waited >= Duration::from_millis(800),
        "closed after {waited:?}, before the header timeout"
    );
    let answer = String::from_utf8_lossy(closed.as_deref().unwrap_or_default()).to_string();
    assert!(!answer.contains("200 OK"), "{answer}");

    // Whole requests are still served.
    let res = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_whose_body_stalls_is_answered_408_after_the_request_timeout() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let t = app.tenant("acme").await;
    let mut stream = TcpStream::connect(host_port(&app)).await.expect("connect");
    let head = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: portico.test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"email\": \"ada@",
        t.admin
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("a part of the body");
    let started = Instant::now();

    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("an answer within 10 s");

    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains("within 1 s"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(800));
    let users: i64 = sqlx::query_scalar("select count(*) from users where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(users, 1, "only the admin");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let app = TestApp::spawn_with_settings(&[
        ("PORTICO_MAX_CONNECTIONS", "1"),
        ("PORTICO_HEADER_TIMEOUT_SECONDS", "30"),
    ])
    .await;
    let holder = TcpStream::connect(host_port(&app)).await.expect("connect");
    // Let the server accept it, so it holds the only place.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let waiting = app
        .client
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(
        waiting.is_err(),
        "a second connection was served while the first held the only place"
    );

    drop(holder);
    let served = app
        .client
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("served once the first connection closed");
    assert_eq!(served.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_with_a_token_set_answer_only_that_bearer_token() {
    let token = "scrape-token-0123456789abcdef";
    let app = TestApp::spawn_with_settings(&[("PORTICO_METRICS_TOKEN", token)]).await;
    let url = format!("{}/metrics", app.address);

    let none = app.client.get(&url).send().await.expect("metrics");
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert!(none.headers().contains_key("www-authenticate"));
    assert!(
        !none
            .text()
            .await
            .expect("body")
            .contains("portico_http_requests_total")
    );

    for wrong in ["wrong", "scrape-token-0123456789abcdeX", ""] {
        let res = app
            .client
            .get(&url)
            .bearer_auth(wrong)
            .send()
            .await
            .expect("metrics");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "token {wrong:?}");
    }

    let ok = app
        .client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .expect("metrics");
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(
        ok.text()
            .await
            .expect("body")
            .contains("portico_http_requests_total")
    );
}

#[tokio::test]
async fn an_oversized_json_body_is_a_413_problem() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let body = format!(
        "{{\"email\": \"ada@acme.test\", \"displayName\": \"Ada\", \"department\": \"{}\"}}",
        "x".repeat(2 * 1024 * 1024 + 1)
    );

    let res = app
        .client
        .post(format!("{}/api/v1/users", app.address))
        .bearer_auth(&t.admin)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("an answer");

    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let problem: serde_json::Value = res.json().await.expect("problem");
    assert_eq!(problem["status"], 413);
    assert_eq!(problem["type"], "urn:portico:problem:too-large");
}

#[tokio::test]
async fn a_session_unused_for_longer_than_the_idle_limit_sends_the_person_to_sign_in() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_SESSION_IDLE_MINUTES", "60")]).await;
    let t = app.tenant("acme").await;
    let b = sign_in(&app, "acme", &t.admin_email).await;
    assert_eq!(b.get("/").await.status, StatusCode::OK);

    // Each use within the limit keeps the session going, past the hour since sign-in.
    app.clock.advance(chrono::Duration::minutes(50));
    assert_eq!(b.get("/").await.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(50));
    assert_eq!(b.get("/").await.status, StatusCode::OK);

    app.clock.advance(chrono::Duration::minutes(61));
    let idle = b.get("/").await;
    assert_eq!(idle.status, StatusCode::SEE_OTHER);
    assert!(
        idle.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/t/acme/sign-in")),
        "{:?}",
        idle.location
    );
}
