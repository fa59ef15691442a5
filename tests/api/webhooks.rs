//! Webhook connectors against a real HTTP receiver started by the test: Standard
//! Webhooks signatures checked independently, ordered grant/revoke calls, retries with
//! backoff and a stable webhook-id, final failure after 24 hours, and reprocessing.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::fixtures::{self, open_policy, request};
use crate::helpers::{TestApp, TestTenant};

#[derive(Clone, Debug)]
pub struct Call {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

/// An HTTP receiver of webhook calls on a loopback port, started by the test.
#[derive(Clone, Default)]
pub struct Receiver {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Fail this many calls with 500 before answering 204.
    pub fail_first: Arc<AtomicUsize>,
    /// Answer each call only after this many milliseconds.
    pub delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> (Self, String) {
        let receiver = Self::default();
        receiver.fail_first.store(fail_first, Ordering::SeqCst);
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let get = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let delay = state.delay_ms.load(Ordering::SeqCst);
                    if delay > 0 {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                    }
                    state.calls.lock().expect("lock").push(Call {
                        id: get("webhook-id"),
                        timestamp: get("webhook-timestamp"),
                        signature: get("webhook-signature"),
                        body,
                    });
                    let remaining = state.fail_first.load(Ordering::SeqCst);
                    if remaining > 0 {
                        state.fail_first.store(remaining - 1, Ordering::SeqCst);
                        (AxumStatus::INTERNAL_SERVER_ERROR, "target is down")
                    } else {
                        (AxumStatus::NO_CONTENT, "")
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, url)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Call> {
        for _ in 0..100 {
            if self.calls().len() >= n {
                return self.calls();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} webhook calls, got {}", self.calls().len());
    }
}

/// Verifies a Standard Webhooks signature from first principles.
pub fn verify(secret: &str, call: &Call) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{}.{}.{}", call.id, call.timestamp, call.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    call.signature
        .split(' ')
        .any(|s| s == format!("v1,{expected}"))
}

pub const SECRET: &str = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw==";

async fn wait_state(app: &TestApp, token: &str, assignment: &str, state: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, a) = app
            .get(token, &format!("/api/v1/assignments/{assignment}"))
            .await;
        if a["state"] == state {
            return a;
        }
        last = a;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("assignment never reached {state}: {last}");
}

pub async fn webhook_package(
    app: &TestApp,
    t: &TestTenant,
    url: &str,
    with_group: bool,
) -> (Uuid, Uuid) {
    let catalog = fixtures::general_catalog(app, t).await;
    let (_, role) = fixtures::webhook_resource(app, t, catalog, url, SECRET).await;
    let mut roles = vec![role];
    if with_group {
        let group = fixtures::group(app, t, "Group").await;
        let (_, member, _) = fixtures::group_resource(app, t, catalog, group).await;
        roles.push(member);
    }
    let package = fixtures::package(app, t, catalog, "Ticketing", &roles).await;
    fixtures::policy(app, t, package, open_policy(json!({}))).await;
    (package, role)
}

#[tokio::test]
async fn grants_and_revokes_are_signed_calls_to_the_target() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (user, token) = app
        .user(&t, "adele@contoso.test", json!({"externalId": "ext-42"}))
        .await;
    let (receiver, url) = Receiver::start(0).await;
    let (package, role) = webhook_package(&app, &t, &url, false).await;

    let (status, req) = request(&app, &token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(
        req["state"], "delivering",
        "connector roles are delivered after the transaction"
    );
    let assignment = req["assignmentId"]
        .as_str()
        .expect("assignment")
        .to_string();

    let calls = receiver.wait_for(1).await;
    let a = wait_state(&app, &token, &assignment, "delivered").await;
    assert_eq!(a["grants"][0]["state"], "delivered");
    let call = &calls[0];
    assert!(verify(SECRET, call), "signature must verify: {call:?}");
    let body: Value = serde_json::from_str(&call.body).expect("json body");
    assert_eq!(body["id"], call.id);
    assert_eq!(body["type"], "grant");
    assert_eq!(body["tenant"], "contoso");
    assert_eq!(body["role"]["id"], role.to_string());
    assert_eq!(
        body["user"],
        json!({"id": user, "email": "adele@contoso.test", "externalId": "ext-42"})
    );
    assert_eq!(body["assignmentId"], assignment);
    let (_, r) = app
        .get(
            &token,
            &format!(
                "/api/v1/assignmentRequests/{}",
                req["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(
        r["state"], "delivered",
        "the request follows its assignment"
    );

    let (status, _) = app
        .post(
            &token,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": assignment}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let calls = receiver.wait_for(2).await;
    let revoke: Value = serde_json::from_str(&calls[1].body).expect("json");
    assert_eq!(revoke["type"], "revoke");
    assert!(verify(SECRET, &calls[1]));
    assert_ne!(calls[0].id, calls[1].id);
    for _ in 0..100 {
        let (_, a) = app
            .get(&token, &format!("/api/v1/assignments/{assignment}"))
            .await;
        if a["grants"][0]["state"] == "revoked" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the revoke was never recorded");
}

#[tokio::test]
async fn a_failing_target_is_retried_with_backoff_and_the_same_webhook_id() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (receiver, url) = Receiver::start(2).await;
    let (package, _) = webhook_package(&app, &t, &url, false).await;
    let (_, req) = request(&app, &token, package, json!({})).await;
    let assignment = req["assignmentId"]
        .as_str()
        .expect("assignment")
        .to_string();

    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.calls().len(),
        1,
        "no retry before the backoff has passed"
    );
    let (_, a) = app
        .get(&token, &format!("/api/v1/assignments/{assignment}"))
        .await;
    assert_eq!(a["state"], "delivering");
    assert!(
        a["grants"][0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("500"),
        "the last error is visible: {a}"
    );

    app.clock.advance(chrono::Duration::seconds(11));
    receiver.wait_for(2).await;
    app.clock.advance(chrono::Duration::seconds(21));
    let calls = receiver.wait_for(3).await;

    let a = wait_state(&app, &token, &assignment, "delivered").await;
    assert_eq!(a["grants"][0]["error"], Value::Null);
    assert_eq!(calls.len(), 3);
    assert!(
        calls.iter().all(|c| c.id == calls[0].id),
        "one idempotency id across retries"
    );
    assert!(
        calls.iter().all(|c| c.body == calls[0].body),
        "the same payload every time"
    );
}

#[tokio::test]
async fn after_a_day_of_failures_the_grant_fails_and_reprocessing_delivers_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (receiver, url) = Receiver::start(usize::MAX).await;
    let (only_hook, _) = webhook_package(&app, &t, &url, false).await;
    let (mixed, _) = webhook_package(&app, &t, &url, true).await;
    let (_, r1) = request(&app, &token, only_hook, json!({})).await;
    let (_, r2) = request(&app, &token, mixed, json!({})).await;
    let a1 = r1["assignmentId"].as_str().expect("id").to_string();
    let a2 = r2["assignmentId"].as_str().expect("id").to_string();
    receiver.wait_for(2).await;

    app.clock.advance(chrono::Duration::hours(25));

    let failed = wait_state(&app, &token, &a1, "deliveryFailed").await;
    assert_eq!(failed["grants"][0]["state"], "failed");
    assert!(
        failed["grants"][0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("500")
    );
    let partial = wait_state(&app, &t.admin, &a2, "partiallyDelivered").await;
    assert!(
        partial["grants"]
            .as_array()
            .expect("grants")
            .iter()
            .any(|g| g["state"] == "delivered")
    );
    let (_, r) = app
        .get(
            &token,
            &format!(
                "/api/v1/assignmentRequests/{}",
                r1["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(r["state"], "deliveryFailed");

    let (status, _) = app
        .post(
            &token,
            &format!("/api/v1/assignments/{a1}/reprocess"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "holders cannot reprocess");
    receiver.fail_first.store(0, Ordering::SeqCst);
    let (status, again) = app
        .post(
            &t.admin,
            &format!("/api/v1/assignments/{a1}/reprocess"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["state"], "delivering");
    wait_state(&app, &token, &a1, "delivered").await;
}

#[tokio::test]
async fn expiry_revokes_connector_grants_with_a_signed_call() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (receiver, url) = Receiver::start(0).await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let (_, role) = fixtures::webhook_resource(&app, &t, catalog, &url, SECRET).await;
    let package = fixtures::package(&app, &t, catalog, "Ticketing", &[role]).await;
    fixtures::policy(
        &app,
        &t,
        package,
        open_policy(json!({"expiration": {"type": "afterHours", "hours": 1}})),
    )
    .await;
    let (_, req) = request(&app, &token, package, json!({})).await;
    let assignment = req["assignmentId"].as_str().expect("id").to_string();
    receiver.wait_for(1).await;
    wait_state(&app, &token, &assignment, "delivered").await;

    app.clock.advance(chrono::Duration::hours(1));

    let calls = receiver.wait_for(2).await;
    let revoke: Value = serde_json::from_str(&calls[1].body).expect("json");
    assert_eq!(revoke["type"], "revoke");
    assert_eq!(revoke["assignmentId"], assignment);
    assert!(verify(SECRET, &calls[1]));
    let a = wait_state(&app, &token, &assignment, "expired").await;
    for _ in 0..100 {
        let (_, a) = app
            .get(&token, &format!("/api/v1/assignments/{assignment}"))
            .await;
        if a["grants"][0]["state"] == "revoked" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the revoke was never recorded: {a}");
}

#[tokio::test]
async fn a_failing_targets_answer_body_is_never_recorded_or_shown() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let target = axum::Router::new().route(
        "/hook",
        post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                (
                    AxumStatus::INTERNAL_SERVER_ERROR,
                    "SECRET-BODY: db password is hunter2",
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, target).await;
    });
    let (package, _) = webhook_package(&app, &t, &url, false).await;
    let (_, req) = request(&app, &token, package, json!({})).await;
    let assignment = req["assignmentId"].as_str().expect("id").to_string();

    let mut outbox = Value::Null;
    for _ in 0..100 {
        let (status, list) = app.get(&t.admin, "/api/v1/outbox?kind=webhook").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        if list["items"][0]["lastError"].is_string() {
            outbox = list;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hits.load(Ordering::SeqCst) >= 1, "the target was called");
    assert_eq!(
        outbox["items"][0]["lastError"], "the target answered 500 Internal Server Error",
        "{outbox}"
    );
    let (_, a) = app
        .get(&token, &format!("/api/v1/assignments/{assignment}"))
        .await;
    assert_eq!(
        a["grants"][0]["error"], "the target answered 500 Internal Server Error",
        "{a}"
    );
    let stored: Vec<Option<String>> = sqlx::query_scalar("select last_error from outbox")
        .fetch_all(&app.pool)
        .await
        .expect("outbox");
    assert!(
        stored.iter().flatten().all(|e| !e.contains("SECRET-BODY")),
        "{stored:?}"
    );
    let admin = crate::helpers::portal::sign_in(&app, "contoso", &t.admin_email).await;
    let page = admin
        .get(&format!("/admin/packages/{package}/assignments"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("the target answered 500 Internal Server Error"),
        "the admin sees why"
    );
    assert!(!page.body.contains("SECRET-BODY"));
}

#[tokio::test]
async fn without_allow_private_a_loopback_target_is_never_called() {
    // The fixture stores the URL as is, like a name that resolved to a public address
    // when it was saved and points at loopback now.
    let app = TestApp::spawn_with_settings(&[("PORTICO_WEBHOOK_ALLOW_PRIVATE", "false")]).await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (receiver, url) = Receiver::start(0).await;
    let by_name = url.replace("127.0.0.1", "localhost");
    let (package, _) = webhook_package(&app, &t, &by_name, false).await;
    let (_, req) = request(&app, &token, package, json!({})).await;
    let assignment = req["assignmentId"].as_str().expect("id").to_string();
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, a) = app
            .get(&token, &format!("/api/v1/assignments/{assignment}"))
            .await;
        if a["grants"][0]["error"].is_string() {
            last = a;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = last["grants"][0]["error"].as_str().expect("an error");
    assert!(
        error.contains("'localhost'") && error.contains("refused"),
        "{error}"
    );
    assert!(
        receiver.calls().is_empty(),
        "the receiver was never reached"
    );
}
