//! A request's life with custom extensions: told at every stage, held at
//! `requestCreated` and `requestApproved` until the callback continues or denies, or
//! the timeout applies `onTimeout`; calls retried while the receiver is down; every
//! step in the request's history.

use chrono::Duration as Span;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{body_of, extension, package_with, resume, setup, wait_request};
use crate::fixtures::{self, decide, request};

fn stages_of(calls: &[crate::webhooks::Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| body_of(c)["stage"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn fire_and_forget_extensions_are_called_at_every_stage_without_holding_the_request() {
    let (app, t, receiver, url, catalog) = setup().await;
    let ext = extension(&app, &t, catalog, &url, "fireAndForget", "continue").await;
    let stages = [
        "requestCreated",
        "requestApproved",
        "assignmentGranted",
        "assignmentExpiringSoon",
        "assignmentRemoved",
    ];
    let list: Vec<(&str, uuid::Uuid)> = stages.iter().map(|s| (*s, ext)).collect();
    let p = package_with(&app, &t, 1, &list).await;
    sqlx::query("update policies set settings = jsonb_set(settings, '{expiration}', '{\"type\": \"afterDays\", \"days\": 3}') where id = $1")
        .bind(p.policy)
        .execute(&app.pool)
        .await
        .expect("expiration");
    let (user, token) = app.user(&t, "adele@contoso.test", json!({})).await;

    let (status, req) = request(&app, &token, p.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(
        req["state"], "pendingApproval",
        "a fireAndForget call does not hold"
    );
    let calls = receiver.wait_for(1).await;
    let created = body_of(&calls[0]);
    assert_eq!(created["stage"], "requestCreated");
    assert_eq!(created["id"], calls[0].id, "the body names the webhook-id");
    assert_eq!(created["request"]["id"], req["id"]);
    assert_eq!(created["request"]["type"], "userAdd");
    assert_eq!(created["accessPackage"]["id"], p.package.to_string());
    assert_eq!(created["targetUser"]["id"], user.to_string());
    assert_eq!(created["targetUser"]["email"], "adele@contoso.test");
    assert!(created.get("callbackToken").is_none(), "{created}");

    let (status, done) = decide(&app, &t.admin, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered");
    let calls = receiver.wait_for(3).await;
    // Both are queued by the approving transaction; either may be sent first.
    let mut later = stages_of(&calls)[1..].to_vec();
    later.sort();
    assert_eq!(later, ["assignmentGranted", "requestApproved"]);
    let granted = calls
        .iter()
        .map(body_of)
        .find(|b| b["stage"] == "assignmentGranted")
        .expect("granted");
    assert_eq!(granted["assignment"]["id"], done["assignmentId"]);

    app.clock.advance(Span::days(2) + Span::hours(1));
    let calls = receiver.wait_for(4).await;
    assert_eq!(stages_of(&calls)[3], "assignmentExpiringSoon");
    app.clock.advance(Span::days(1));
    let calls = receiver.wait_for(5).await;
    let removed = body_of(&calls[4]);
    assert_eq!(removed["stage"], "assignmentRemoved");
    assert_eq!(removed["assignment"]["state"], "expired");
    let id = crate::helpers::uuid_of(&req["id"]);
    let actions = app.audit_actions(id).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "assignmentRequest.extensionCalled")
            .count(),
        2,
        "{actions:?}"
    );
}

/// A user's request under a policy holding it at `stage` (one approval stage by the
/// tenant admin); returns (request, the call's body).
async fn held(
    stage: &str,
    on_timeout: &str,
) -> (
    crate::helpers::TestApp,
    crate::helpers::TestTenant,
    String,
    Value,
    Value,
) {
    let (app, t, receiver, url, catalog) = setup().await;
    let ext = extension(&app, &t, catalog, &url, "waitForCallback", on_timeout).await;
    let p = package_with(&app, &t, 1, &[(stage, ext)]).await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (status, mut req) = request(&app, &token, p.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    if stage == "requestApproved" {
        assert_eq!(req["state"], "pendingApproval");
        let (status, approved) = decide(&app, &t.admin, &req, "approve", None).await;
        assert_eq!(status, StatusCode::OK, "{approved}");
        req = approved;
    }
    assert_eq!(req["state"], "waitingForCallback", "{req}");
    let calls = receiver.wait_for(1).await;
    let body = body_of(&calls[0]);
    assert_eq!(body["stage"], stage);
    let id = req["id"].as_str().expect("id").to_string();
    assert_eq!(
        body["callbackUrl"],
        format!("http://portico.test/api/v1/assignmentRequests/{id}/resume")
    );
    assert!(
        body["callbackToken"]
            .as_str()
            .is_some_and(|t| t.len() >= 32)
    );
    (app, t, token, req, body)
}

async fn answer(app: &crate::helpers::TestApp, req: &Value, body: &Value, outcome: &str) -> Value {
    let id = req["id"].as_str().expect("id");
    let (status, r) = resume(
        app,
        id,
        json!({"callbackToken": body["callbackToken"], "outcome": outcome, "message": "Checked by HR"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r
}

#[tokio::test]
async fn a_request_held_at_creation_opens_its_approval_when_continued() {
    let (app, t, _token, req, body) = held("requestCreated", "deny").await;
    let r = answer(&app, &req, &body, "continue").await;
    assert_eq!(r["state"], "pendingApproval");
    assert_eq!(r["stages"].as_array().map(Vec::len), Some(1));
    let (_, done) = decide(&app, &t.admin, &r, "approve", None).await;
    assert_eq!(done["state"], "delivered");
    let actions = app.audit_actions(crate::helpers::uuid_of(&req["id"])).await;
    for a in [
        "assignmentRequest.extensionCalled",
        "assignmentRequest.waitingForCallback",
        "assignmentRequest.callbackResumed",
        "assignmentRequest.stageOpened",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn a_request_held_at_creation_is_denied_with_the_message() {
    let (app, t, _, req, body) = held("requestCreated", "continue").await;
    let r = answer(&app, &req, &body, "deny").await;
    assert_eq!(r["state"], "denied");
    assert!(
        r["stages"].as_array().is_some_and(Vec::is_empty),
        "no stage opened"
    );
    let (_, events) = app
        .get(
            &t.admin,
            &format!(
                "/api/v1/auditEvents?targetId={}",
                req["id"].as_str().expect("id")
            ),
        )
        .await;
    let resumed = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["action"] == "assignmentRequest.callbackResumed")
        .expect("the resume is in the history")
        .clone();
    assert_eq!(resumed["details"]["outcome"], "deny");
    assert_eq!(resumed["details"]["message"], "Checked by HR");
}

#[tokio::test]
async fn a_request_held_after_approval_is_delivered_when_continued() {
    let (app, _t, token, req, body) = held("requestApproved", "deny").await;
    let r = answer(&app, &req, &body, "continue").await;
    assert_eq!(r["state"], "delivered");
    let (_, mine) = app.get(&token, "/api/v1/assignments?mine=true").await;
    assert_eq!(mine["items"][0]["state"], "delivered");
}

#[tokio::test]
async fn a_request_held_after_approval_is_denied_when_denied() {
    let (app, _t, token, req, body) = held("requestApproved", "continue").await;
    let r = answer(&app, &req, &body, "deny").await;
    assert_eq!(r["state"], "denied");
    let (_, mine) = app.get(&token, "/api/v1/assignments?mine=true").await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn a_timeout_that_continues_delivers_the_request() {
    let (app, t, token, req, body) = held("requestApproved", "continue").await;
    let id = req["id"].as_str().expect("id").to_string();
    app.clock.advance(Span::minutes(59));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (_, r) = app
        .get(&token, &format!("/api/v1/assignmentRequests/{id}"))
        .await;
    assert_eq!(r["state"], "waitingForCallback", "not before the timeout");
    app.clock.advance(Span::minutes(2));
    wait_request(&app, &token, &id, "delivered").await;
    let actions = app.audit_actions(crate::helpers::uuid_of(&req["id"])).await;
    assert!(
        actions
            .iter()
            .any(|a| a == "assignmentRequest.callbackTimedOut"),
        "{actions:?}"
    );
    // The token of a timed-out hold is used up.
    let (status, e) = resume(
        &app,
        &id,
        json!({"callbackToken": body["callbackToken"], "outcome": "continue"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    let _ = t;
}

#[tokio::test]
async fn a_timeout_that_denies_denies_the_request() {
    let (app, _t, token, req, _) = held("requestCreated", "deny").await;
    let id = req["id"].as_str().expect("id").to_string();
    app.clock.advance(Span::minutes(61));
    let r = wait_request(&app, &token, &id, "denied").await;
    assert!(r["stages"].as_array().is_some_and(Vec::is_empty));
}

#[tokio::test]
async fn a_call_to_a_receiver_that_is_down_is_retried_until_it_arrives() {
    let app = crate::helpers::TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (receiver, url) = crate::webhooks::Receiver::start(2).await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let ext = extension(&app, &t, catalog, &url, "waitForCallback", "deny").await;
    let p = package_with(&app, &t, 0, &[("requestCreated", ext)]).await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (_, req) = request(&app, &token, p.package, json!({})).await;
    assert_eq!(req["state"], "waitingForCallback");
    receiver.wait_for(1).await;
    app.clock.advance(Span::seconds(11));
    receiver.wait_for(2).await;
    app.clock.advance(Span::seconds(21));
    let calls = receiver.wait_for(3).await;
    assert_eq!(
        calls[0].id, calls[2].id,
        "the same webhook-id on every attempt"
    );
    let body = body_of(&calls[2]);
    // Delivered: the plain token leaves the outbox.
    for _ in 0..100 {
        let (state, payload): (String, Value) = sqlx::query_as(
            "select state, payload from outbox where kind = 'extension' order by id limit 1",
        )
        .fetch_one(&app.pool)
        .await
        .expect("outbox row");
        if state == "done" {
            assert!(payload.get("callbackToken").is_none(), "{payload}");
            let r = answer(&app, &req, &body, "continue").await;
            assert_eq!(r["state"], "delivered");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the call was never recorded as delivered");
}
