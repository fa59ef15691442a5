//! Extension calls that never arrive: after 24 hours of retries the call fails for good,
//! its plain callback token leaves the outbox, the request's history says so (and its
//! timeout settles it); a failed call that carried a callback token cannot be sent
//! again, one that did not is put back in the queue and delivered.

use chrono::Duration as Span;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{extension, package_with, wait_request};
use crate::fixtures::request;
use crate::helpers::TestApp;
use crate::helpers::portal::{admin_of, sign_in};
use crate::webhooks::Receiver;

async fn failed_call(app: &TestApp) -> (uuid::Uuid, Value) {
    for _ in 0..100 {
        let row: Option<(uuid::Uuid, Value)> = sqlx::query_as(
            "select id, payload from outbox where kind = 'extension' and state = 'failed' order by id limit 1",
        )
        .fetch_optional(&app.pool)
        .await
        .expect("outbox");
        if let Some(row) = row {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the call never failed for good");
}

#[tokio::test]
async fn a_call_failing_for_a_day_fails_for_good_and_the_timeout_settles_its_request() {
    let app = TestApp::spawn().await;
    let (t, _) = admin_of(&app, "acme").await;
    let (receiver, url) = Receiver::start(usize::MAX).await;
    let catalog = crate::fixtures::general_catalog(&app, &t).await;
    let ext = extension(&app, &t, catalog, &url, "waitForCallback", "deny").await;
    let p = package_with(&app, &t, 0, &[("requestCreated", ext)]).await;
    let (_, token) = app.user(&t, "adele@acme.test", json!({})).await;
    let (_, req) = request(&app, &token, p.package, json!({})).await;
    let id = req["id"].as_str().expect("id").to_string();
    receiver.wait_for(1).await;

    app.clock.advance(Span::hours(25));
    let (outbox, payload) = failed_call(&app).await;
    assert!(payload.get("callbackToken").is_none(), "{payload}");
    wait_request(&app, &token, &id, "denied").await;
    let actions = app.audit_actions(crate::helpers::uuid_of(&req["id"])).await;
    assert!(
        actions
            .iter()
            .any(|a| a == "assignmentRequest.extensionFailed"),
        "{actions:?}"
    );
    // A day later: a fresh session.
    let admin = sign_in(&app, "acme", &t.admin_email).await;
    let page = admin.get(&format!("/admin/requests/{id}")).await;
    assert!(page.body.contains("failed for good"), "{}", page.body);

    let refused = admin
        .post(&format!("/admin/outbox/{outbox}/reprocess"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body.contains("one-time callback token"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn a_failed_call_without_a_callback_is_sent_again_when_reprocessed() {
    let app = TestApp::spawn().await;
    let (t, _) = admin_of(&app, "acme").await;
    let (receiver, url) = Receiver::start(usize::MAX).await;
    let catalog = crate::fixtures::general_catalog(&app, &t).await;
    let ext = extension(&app, &t, catalog, &url, "fireAndForget", "deny").await;
    let p = package_with(&app, &t, 0, &[("requestCreated", ext)]).await;
    let (_, token) = app.user(&t, "adele@acme.test", json!({})).await;
    let (_, req) = request(&app, &token, p.package, json!({})).await;
    assert_eq!(
        req["state"], "delivered",
        "a fireAndForget call holds nothing"
    );
    receiver.wait_for(1).await;
    app.clock.advance(Span::hours(25));
    let (outbox, _) = failed_call(&app).await;

    receiver.fail_first.store(0, Ordering::SeqCst);
    let admin = sign_in(&app, "acme", &t.admin_email).await;
    let before = receiver.calls().len();
    let again = admin
        .post(&format!("/admin/outbox/{outbox}/reprocess"), &[])
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let calls = receiver.wait_for(before + 1).await;
    assert_eq!(
        calls[before].id,
        format!("msg_{outbox}"),
        "the same webhook-id as before"
    );
}
