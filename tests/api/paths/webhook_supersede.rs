//! DOMAIN.md §4: calls for one assignment and role are made in order, and a revoke
//! supersedes a grant not yet sent: access removed before its webhook grant went out
//! makes no call at all (neither the grant nor a revoke of something never granted).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::request;
use crate::helpers::{TestApp, uuid_of};
use crate::webhooks::{Receiver, webhook_package};

/// The states of the webhook calls queued for `assignment`, oldest first.
async fn calls_queued(app: &TestApp, assignment: &Value) -> Vec<(String, String)> {
    sqlx::query_as(
        "select payload ->> 'type', state from outbox
          where kind = 'webhook' and payload ->> 'assignmentId' = $1 order by id",
    )
    .bind(assignment.as_str().expect("assignment id"))
    .fetch_all(&app.pool)
    .await
    .expect("outbox")
}

#[tokio::test]
async fn a_revoke_supersedes_a_grant_not_yet_sent_and_nothing_is_called() {
    // The scheduler runs only when the test says so.
    let app = TestApp::spawn_with_settings(&[("PORTICO_SCHEDULER_ENABLED", "false")]).await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (receiver, url) = Receiver::start(0).await;
    let (package, _) = webhook_package(&app, &t, &url, false).await;

    let (status, req) = request(&app, &token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivering", "{req}");
    let assignment = req["assignmentId"].clone();
    assert_eq!(
        calls_queued(&app, &assignment).await,
        [("grant".to_string(), "pending".to_string())]
    );

    let (status, body) = app
        .post(
            &token,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": assignment}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        calls_queued(&app, &assignment).await,
        [("grant".to_string(), "superseded".to_string())],
        "the unsent grant is superseded and no revoke is queued"
    );

    portico::scheduler::tick(&app.state).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        receiver.calls().is_empty(),
        "the target is never called: {:?}",
        receiver.calls()
    );
    let (status, a) = app
        .get(
            &token,
            &format!("/api/v1/assignments/{}", uuid_of(&assignment)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["state"], "removed", "{a}");
    assert_eq!(a["grants"][0]["state"], "revoked", "{a}");

    // Sent first, then removed: the revoke is called after the grant.
    let (_, req) = request(&app, &token, package, json!({})).await;
    let assignment = req["assignmentId"].clone();
    portico::scheduler::tick(&app.state).await;
    assert_eq!(receiver.calls().len(), 1);
    app.post(
        &token,
        "/api/v1/assignmentRequests",
        json!({"requestType": "userRemove", "assignmentId": assignment}),
    )
    .await;
    portico::scheduler::tick(&app.state).await;
    let kinds: Vec<String> = receiver
        .calls()
        .iter()
        .map(|c| {
            serde_json::from_str::<Value>(&c.body).expect("json")["type"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["grant", "revoke"]);
}
