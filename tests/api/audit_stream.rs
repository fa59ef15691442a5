//! Streaming the audit log to a SIEM: the per-tenant setting (write-only secret, 422s,
//! refusals), signed deliveries in order, redelivery after a failure with nothing lost,
//! no other tenant's events, and the commit-safe cursor (a transaction that began first
//! and commits last is still delivered, first).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::portal::{admin_of, sign_in};
use crate::helpers::{TestApp, TestTenant};
use crate::webhooks::{Call, Receiver, SECRET, verify};

async fn stream_to(app: &TestApp, t: &TestTenant, url: &str) {
    let (status, body) = app
        .put(
            &t.admin,
            "/api/v1/tenant/auditStream",
            json!({"url": url, "enabled": true, "secret": SECRET}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The events of the calls, in the order received, each once (redeliveries dropped by
/// id as a receiver does).
fn events(calls: &[Call]) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for c in calls {
        let body: Value = serde_json::from_str(&c.body).expect("json");
        for e in body["events"].as_array().cloned().unwrap_or_default() {
            if seen.insert(e["id"].as_str().unwrap_or_default().to_string()) {
                out.push(e);
            }
        }
    }
    out
}

async fn wait_for_event(receiver: &Receiver, id: Uuid) -> Vec<Value> {
    for _ in 0..200 {
        let got = events(&receiver.calls());
        if got.iter().any(|e| e["id"] == id.to_string()) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("event {id} never delivered: {:?}", receiver.calls());
}

async fn logged_ids(app: &TestApp, t: &TestTenant) -> Vec<Uuid> {
    sqlx::query_scalar("select id from audit_events where tenant_id = $1 order by xact_id, id")
        .bind(t.id)
        .fetch_all(&app.pool)
        .await
        .expect("ids")
}

#[tokio::test]
async fn the_stream_setting_keeps_its_secret_write_only_and_refuses_bad_input() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("globex").await;
    let (_, ada) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, v) = app.get(&t.admin, "/api/v1/tenant/auditStream").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["url"], Value::Null);
    assert_eq!(v["secretSet"], false);

    let (status, problem) = app
        .put(
            &t.admin,
            "/api/v1/tenant/auditStream",
            json!({"url": "ftp://siem", "enabled": true, "secret": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = problem.to_string();
    assert!(text.contains("url") && text.contains("secret"), "{problem}");

    // Left out, the secret is generated and shown once.
    let (status, v) = app
        .put(
            &t.admin,
            "/api/v1/tenant/auditStream",
            json!({"url": "https://siem.acme.test/in", "enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let secret = v["secret"].as_str().expect("generated secret").to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(v["secretSet"], true);
    let (_, v) = app.get(&t.admin, "/api/v1/tenant/auditStream").await;
    assert_eq!(v["url"], "https://siem.acme.test/in");
    assert!(v.get("secret").is_none(), "never shown again: {v}");
    let stored: String =
        sqlx::query_scalar("select secret from audit_streams where tenant_id = $1")
            .bind(t.id)
            .fetch_one(&app.pool)
            .await
            .expect("stored");
    assert!(!stored.contains(&secret[6..]), "sealed at rest");
    let details: Vec<Value> = sqlx::query_scalar(
        "select details from audit_events where tenant_id = $1 and action = 'tenant.auditStreamSet'",
    )
    .bind(t.id)
    .fetch_all(&app.pool)
    .await
    .expect("audited");
    assert_eq!(details.len(), 1);
    assert!(
        !details[0].to_string().contains(&secret[6..]),
        "no secret in the log"
    );

    // A later change without a secret keeps it.
    let (_, v) = app
        .put(
            &t.admin,
            "/api/v1/tenant/auditStream",
            json!({"url": "https://siem.acme.test/in", "enabled": false}),
        )
        .await;
    assert!(v.get("secret").is_none());
    let kept: String = sqlx::query_scalar("select secret from audit_streams where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("stored");
    assert_eq!(kept, stored);

    // Refusals: a member; another tenant's admin sees only their own (none).
    let (status, _) = app.get(&ada, "/api/v1/tenant/auditStream").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .put(
            &ada,
            "/api/v1/tenant/auditStream",
            json!({"url": "https://evil.test", "enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, v) = app.get(&other.admin, "/api/v1/tenant/auditStream").await;
    assert_eq!(v["url"], Value::Null, "{v}");
}

#[tokio::test]
async fn events_are_delivered_signed_in_order_again_after_a_failure_and_only_the_tenants_own() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("globex").await;
    let (receiver, url) = Receiver::start(1).await;
    stream_to(&app, &t, &url).await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    app.user(&other, "eve@globex.test", json!({})).await;
    app.patch(
        &t.admin,
        &format!("/api/v1/users/{ada}"),
        json!({"jobTitle": "QA"}),
    )
    .await;

    // The first call fails (500): the failure is shown, and nothing moves on.
    let first = receiver.wait_for(1).await;
    for _ in 0..100 {
        let (_, v) = app.get(&t.admin, "/api/v1/tenant/auditStream").await;
        if v["attempts"] == 1 {
            assert!(
                v["lastError"].as_str().is_some_and(|e| e.contains("500")),
                "{v}"
            );
            assert_eq!(v["lastDeliveredAt"], Value::Null);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // After the backoff, the same events again (and what came since), then success.
    app.clock.advance(chrono::Duration::seconds(11));
    receiver.wait_for(2).await;
    let last = *logged_ids(&app, &t).await.last().expect("events");
    let got = wait_for_event(&receiver, last).await;
    let calls = receiver.calls();
    assert!(calls.len() >= 2);
    assert!(
        calls.iter().all(|c| verify(SECRET, c)),
        "every call is signed"
    );
    let first_body: Value = serde_json::from_str(&first[0].body).expect("json");
    let second_body: Value = serde_json::from_str(&calls[1].body).expect("json");
    assert_eq!(
        first_body["events"][0]["id"], second_body["events"][0]["id"],
        "redelivered from the same place"
    );
    assert!(calls.iter().all(|c| {
        let b: Value = serde_json::from_str(&c.body).expect("json");
        b["tenant"] == "acme"
    }));

    let delivered: Vec<Uuid> = got
        .iter()
        .map(|e| e["id"].as_str().and_then(|s| s.parse().ok()).expect("id"))
        .collect();
    let logged = logged_ids(&app, &t).await;
    let pos = logged
        .iter()
        .position(|id| *id == delivered[0])
        .expect("the first delivered event is the tenant's");
    assert_eq!(
        delivered,
        logged[pos..],
        "every event since set-up, in order, none lost"
    );
    assert!(
        got.iter().any(|e| e["action"] == "tenant.auditStreamSet"),
        "the stream's own set-up is its first news"
    );
    assert!(
        got.iter()
            .any(|e| e["action"] == "user.updated" && e["targetName"] == "ada <ada@acme.test>")
    );
    assert!(
        !receiver.calls().iter().any(|c| c.body.contains("globex")),
        "never another tenant's events"
    );
    let (_, v) = app.get(&t.admin, "/api/v1/tenant/auditStream").await;
    assert_eq!(v["attempts"], 0, "{v}");
    assert_eq!(v["lastError"], Value::Null);
    assert!(v["lastDeliveredAt"].is_string());
}

async fn raw_event(conn: &mut sqlx::PgConnection, tenant: Uuid, target: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into audit_events (tenant_id, id, at, actor_type, action, target_type, target_id)
         values ($1, $2, now(), 'system', 'user.updated', 'user', $3)",
    )
    .bind(tenant)
    .bind(id)
    .bind(target)
    .execute(conn)
    .await
    .expect("insert");
    id
}

#[tokio::test]
async fn a_transaction_that_began_first_and_commits_last_is_still_delivered_first() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (receiver, url) = Receiver::start(0).await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    stream_to(&app, &t, &url).await;

    let mut early = app.pool.begin().await.expect("begin");
    let first = raw_event(&mut early, t.id, ada).await;
    let mut late = app.pool.begin().await.expect("begin");
    let second = raw_event(&mut late, t.id, ada).await;
    assert!(first < second, "the first has the smaller id and time");
    late.commit().await.expect("commit the later one first");

    // While the first is open, the committed second is held back: shipping it would
    // move the cursor past the first, which would then never be shipped.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !events(&receiver.calls())
            .iter()
            .any(|e| e["id"] == second.to_string()),
        "nothing after a running transaction is shipped"
    );

    early.commit().await.expect("commit the first");
    let got = wait_for_event(&receiver, second).await;
    let ids: Vec<String> = got
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect();
    let i = ids
        .iter()
        .position(|i| *i == first.to_string())
        .expect("first delivered");
    let j = ids
        .iter()
        .position(|i| *i == second.to_string())
        .expect("second delivered");
    assert!(i < j, "in the order their transactions began: {ids:?}");
}

#[tokio::test]
async fn the_stream_page_saves_shows_a_generated_secret_once_and_is_for_tenant_admins() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    app.user(&t, "ada@acme.test", json!({})).await;

    let bad = b
        .post(
            "/admin/audit/stream",
            &[("url", "not a url"), ("enabled", "true")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("f-url-error"), "{}", bad.body);

    let saved = b
        .post(
            "/admin/audit/stream",
            &[("url", "https://siem.acme.test/in"), ("enabled", "true")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK);
    assert!(saved.body.contains("generated-secret") && saved.body.contains("whsec_"));
    let page = b.get("/admin/audit/stream").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("whsec_"), "shown once");
    assert!(page.body.contains("https://siem.acme.test/in"));
    assert!(page.body.contains("stream-status"));

    let ada = sign_in(&app, "acme", "ada@acme.test").await;
    assert_eq!(
        ada.get("/admin/audit/stream").await.status,
        StatusCode::FORBIDDEN
    );
}
