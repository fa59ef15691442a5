//! Custom extensions (INTEGRATIONS.md §4) against a real HTTP receiver started by the
//! test, its signatures checked independently: the catalog's extensions and their
//! checks (`crud`), a request's life with extensions at each stage, held and resumed,
//! denied or timed out (`life`), and every refusal of the resume endpoint (`resume`).

mod admin;
mod crud;
mod failures;
mod life;
mod resume;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{self, open_policy};
use crate::helpers::{TestApp, TestTenant, read, uuid_of};
use crate::webhooks::{Call, Receiver, SECRET};

/// Creates an extension in `catalog` (as the tenant admin) and returns its id.
pub async fn extension(
    app: &TestApp,
    t: &TestTenant,
    catalog: Uuid,
    url: &str,
    behavior: &str,
    on_timeout: &str,
) -> Uuid {
    let (status, e) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/customExtensions"),
            json!({"displayName": format!("Check {behavior}"), "url": url, "secret": SECRET,
                   "behavior": behavior, "timeoutMinutes": 60, "onTimeout": on_timeout}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    uuid_of(&e["id"])
}

/// A group package in the General catalog whose policy has `stages` approval stages
/// (the tenant admin approves) and calls `extensions` ([(stage, id)]).
pub async fn package_with(
    app: &TestApp,
    t: &TestTenant,
    stages: usize,
    extensions: &[(&str, Uuid)],
) -> fixtures::GroupPackage {
    let stage = json!({"approvers": [{"type": "user", "id": t.admin_id}]});
    let list: Vec<Value> = extensions
        .iter()
        .map(|(s, id)| json!({"stage": s, "extensionId": id}))
        .collect();
    fixtures::group_package(
        app,
        t,
        "Laptops",
        open_policy(json!({
            "approval": {"stages": vec![stage; stages]},
            "customExtensions": list,
        })),
    )
    .await
}

/// A receiver, the General catalog and the tenant.
pub async fn setup() -> (TestApp, TestTenant, Receiver, String, Uuid) {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (receiver, url) = Receiver::start(0).await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    (app, t, receiver, url, catalog)
}

/// The body of a call, its signature checked first.
pub fn body_of(call: &Call) -> Value {
    assert!(
        crate::webhooks::verify(SECRET, call),
        "the signature must verify: {call:?}"
    );
    serde_json::from_str(&call.body).expect("json body")
}

/// Posts a callback to the request's resume endpoint, without a bearer token.
pub async fn resume(app: &TestApp, request: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!(
            "{}/api/v1/assignmentRequests/{request}/resume",
            app.address
        ))
        .json(&body)
        .send()
        .await
        .expect("send");
    read(res).await
}

/// The request until it reaches `state`.
pub async fn wait_request(app: &TestApp, token: &str, id: &str, state: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, r) = app
            .get(token, &format!("/api/v1/assignmentRequests/{id}"))
            .await;
        if r["state"] == state {
            return r;
        }
        last = r;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the request never reached {state}: {last}");
}
