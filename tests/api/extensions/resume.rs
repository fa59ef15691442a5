//! The resume endpoint's refusals, each on its own: a token it does not know (401), a
//! token of another request or of another tenant (401), a token already used (409
//! naming the request's state), a request no longer waiting (409 with its state), a
//! bad outcome or message (422). A refused callback changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{body_of, extension, package_with, resume, setup};
use crate::fixtures::request;
use crate::helpers::{TestApp, TestTenant};

/// A request held at creation, with its callback token.
async fn waiting(app: &TestApp, t: &TestTenant, email: &str) -> (Value, String, String) {
    let (receiver, url) = crate::webhooks::Receiver::start(0).await;
    let catalog = crate::fixtures::general_catalog(app, t).await;
    let ext = extension(app, t, catalog, &url, "waitForCallback", "deny").await;
    let p = package_with(app, t, 0, &[("requestCreated", ext)]).await;
    let (_, token) = app.user(t, email, json!({})).await;
    let (_, req) = request(app, &token, p.package, json!({})).await;
    assert_eq!(req["state"], "waitingForCallback", "{req}");
    let body = body_of(&receiver.wait_for(1).await[0]);
    let callback = body["callbackToken"].as_str().expect("token").to_string();
    (req, callback, token)
}

async fn still_waiting(app: &TestApp, token: &str, req: &Value) {
    let (_, r) = app
        .get(
            token,
            &format!(
                "/api/v1/assignmentRequests/{}",
                req["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(
        r["state"], "waitingForCallback",
        "a refusal changes nothing"
    );
}

#[tokio::test]
async fn an_unknown_token_is_refused_with_401() {
    let (app, t, _, _, _) = setup().await;
    let (req, _, token) = waiting(&app, &t, "adele@contoso.test").await;
    let id = req["id"].as_str().expect("id");
    let (status, e) = resume(
        &app,
        id,
        json!({"callbackToken": "not-a-token", "outcome": "continue"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
    still_waiting(&app, &token, &req).await;
}

#[tokio::test]
async fn a_token_of_another_request_is_refused_with_401() {
    let (app, t, _, _, _) = setup().await;
    let (first, _, token) = waiting(&app, &t, "adele@contoso.test").await;
    let (_, other_token, _) = waiting(&app, &t, "lee@contoso.test").await;
    let (status, e) = resume(
        &app,
        first["id"].as_str().expect("id"),
        json!({"callbackToken": other_token, "outcome": "continue"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
    still_waiting(&app, &token, &first).await;
}

#[tokio::test]
async fn a_token_of_another_tenant_is_refused_with_401() {
    let (app, t, _, _, _) = setup().await;
    let other = app.tenant("fabrikam").await;
    let (mine, _, token) = waiting(&app, &t, "adele@contoso.test").await;
    let (_, theirs, _) = waiting(&app, &other, "adele@fabrikam.test").await;
    let (status, e) = resume(
        &app,
        mine["id"].as_str().expect("id"),
        json!({"callbackToken": theirs, "outcome": "deny"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
    still_waiting(&app, &token, &mine).await;
}

#[tokio::test]
async fn a_used_token_is_refused_with_409_naming_the_state() {
    let (app, t, _, _, _) = setup().await;
    let (req, callback, _) = waiting(&app, &t, "adele@contoso.test").await;
    let id = req["id"].as_str().expect("id");
    let body = json!({"callbackToken": callback, "outcome": "continue"});
    let (status, first) = resume(&app, id, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["state"], "delivered");
    let (status, e) = resume(&app, id, body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    let detail = e["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("already used") && detail.contains("delivered"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_request_no_longer_waiting_is_refused_with_409() {
    let (app, t, _, _, _) = setup().await;
    let (req, callback, token) = waiting(&app, &t, "adele@contoso.test").await;
    let id = req["id"].as_str().expect("id");
    let (status, canceled) = app
        .post(
            &token,
            &format!("/api/v1/assignmentRequests/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a waiting request can be canceled: {canceled}"
    );
    assert_eq!(canceled["state"], "canceled");
    let (status, e) = resume(
        &app,
        id,
        json!({"callbackToken": callback, "outcome": "continue"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert!(
        e["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("canceled"),
        "{e}"
    );
}

#[tokio::test]
async fn a_bad_outcome_or_message_is_refused_with_422() {
    let (app, t, _, _, _) = setup().await;
    let (req, callback, token) = waiting(&app, &t, "adele@contoso.test").await;
    let id = req["id"].as_str().expect("id");
    let (status, e) = resume(
        &app,
        id,
        json!({"callbackToken": callback, "outcome": "maybe"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (status, e) = resume(
        &app,
        id,
        json!({"callbackToken": callback, "outcome": "deny", "message": "x".repeat(1001)}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["errors"]["message"].is_string(), "{e}");
    still_waiting(&app, &token, &req).await;
}
