//! API token authentication: every failure is a 401 problem, never a 500.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_valid_token_identifies_the_caller_and_their_roles() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, me) = app.get(&t.admin, "/api/v1/me").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["tenant"], "acme");
    assert_eq!(me["user"]["email"], t.admin_email);
    assert_eq!(
        me["roles"],
        json!([{"role": "tenantAdmin", "catalogId": null}])
    );
}

#[tokio::test]
async fn missing_malformed_and_unknown_tokens_are_401() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;

    let res = app
        .client
        .get(format!("{}/api/v1/me", app.address))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["content-type"].to_str().ok(),
        Some("application/problem+json")
    );
    assert!(res.headers().contains_key("www-authenticate"));

    for token in ["nonsense", "ptc_doesnotexist", ""] {
        let (status, body) = app.get(token, "/api/v1/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "token {token:?}: {body}");
        assert_eq!(body["status"], 401);
    }

    let res = app
        .client
        .get(format!("{}/api/v1/me", app.address))
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_revoked_token_is_401() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (token, plain) =
        portico::services::tokens::create(&app.pool, "acme", &t.admin_email, None, None, app.now())
            .await
            .expect("token");
    assert_eq!(app.get(&plain, "/api/v1/me").await.0, StatusCode::OK);

    portico::services::tokens::revoke(&app.pool, "acme", token.id, app.now())
        .await
        .expect("revoke");

    let (status, body) = app.get(&plain, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["detail"].as_str().unwrap_or("").contains("revoked"),
        "{body}"
    );
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, plain) = portico::services::tokens::create(
        &app.pool,
        "acme",
        &t.admin_email,
        None,
        Some(1),
        app.now(),
    )
    .await
    .expect("token");
    assert_eq!(app.get(&plain, "/api/v1/me").await.0, StatusCode::OK);

    app.clock.advance(chrono::Duration::hours(25));

    let (status, body) = app.get(&plain, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["detail"].as_str().unwrap_or("").contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn deactivating_a_user_ends_their_tokens_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (id, token) = app.user(&t, "ada@acme.test", json!({})).await;
    assert_eq!(app.get(&token, "/api/v1/me").await.0, StatusCode::OK);

    let (status, user) = app.delete(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["active"], false);

    assert_eq!(
        app.get(&token, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    let revoked: i64 = sqlx::query_scalar(
        "select count(*) from api_tokens where user_id = $1 and revoked_at is not null",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(revoked, 1);
}
