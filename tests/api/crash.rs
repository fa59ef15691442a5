//! Crash safety: the server is killed (SIGKILL) in the middle of outbox delivery; after
//! a restart every webhook call and every email is delivered, none is lost, and a call
//! or message that was in flight is repeated with the same `webhook-id` / Message-ID.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};

use uuid::Uuid;

use crate::helpers::TestApp;
use crate::mailbox::{Mime, SmtpCatcher};
use crate::webhooks::{Receiver, webhook_package};

/// A `portico serve` child process, killed when dropped: a failing test leaves no
/// server behind on its database.
struct Server(Child);

impl std::ops::Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn serve(database_url: &str, smtp_url: &str) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("PORTICO_BIND", "127.0.0.1:0")
        .env("PORTICO_BASE_URL", "http://portico.test")
        .env("PORTICO_SMTP_URL", smtp_url)
        // The key the fixtures sealed the webhook secret with.
        .env("PORTICO_SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
        .env("PORTICO_SCHEDULER_INTERVAL_MS", "50")
        .env("PORTICO_OUTBOX_LEASE_SECONDS", "2")
        .env("PORTICO_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start portico serve");
    Server(child)
}

async fn emails_left(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from outbox where kind = 'email' and state <> 'done'")
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

async fn delivered(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from assignment_grants where state = 'delivered'")
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_killed_server_loses_no_webhook_or_email_and_repeats_in_flight_ones_with_the_same_id() {
    // This app only sets things up: its own scheduler is off, the child servers deliver.
    let app = TestApp::spawn_with_settings(&[("PORTICO_SCHEDULER_ENABLED", "false")]).await;
    app.clock.set(Utc::now());
    let t = app.tenant("contoso").await;
    let (receiver, url) = Receiver::start(0).await;
    receiver.delay_ms.store(400, Ordering::SeqCst);
    let (package, _) = webhook_package(&app, &t, &url, false).await;
    let total = 8;
    for i in 0..total {
        let (id, _) = app
            .user(&t, &format!("user{i}@contoso.test"), json!({}))
            .await;
        let (status, body) = app
            .post(
                &t.admin,
                "/api/v1/assignmentRequests",
                json!({"requestType": "adminAdd", "accessPackageId": package, "targetUserId": id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let database_url = app.database_url();
    let smtp = SmtpCatcher::start().await;

    let mut first = serve(&database_url, &smtp.url());
    receiver.wait_for(2).await;
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let before_restart = delivered(&app).await;
    assert!(
        before_restart < total,
        "the kill happened mid-delivery ({before_restart} of {total} done)"
    );

    receiver.delay_ms.store(0, Ordering::SeqCst);
    let mut second = serve(&database_url, &smtp.url());
    let mut done = 0;
    for _ in 0..300 {
        done = delivered(&app).await;
        if done == total && emails_left(&app).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(second.id().to_string())
        .status();
    second.wait().expect("reap");
    assert_eq!(done, total, "every grant delivered after the restart");

    let calls = receiver.calls();
    let mut ids_by_assignment: HashMap<String, HashSet<String>> = HashMap::new();
    for call in &calls {
        let body: Value = serde_json::from_str(&call.body).expect("json");
        ids_by_assignment
            .entry(
                body["assignmentId"]
                    .as_str()
                    .expect("assignment")
                    .to_string(),
            )
            .or_default()
            .insert(call.id.clone());
    }
    assert_eq!(
        ids_by_assignment.len(),
        total as usize,
        "no assignment's call was lost"
    );
    assert!(
        ids_by_assignment.values().all(|ids| ids.len() == 1),
        "a repeated call keeps its webhook-id: {ids_by_assignment:?}"
    );
    // Every queued email reached the SMTP server; a resent one kept its Message-ID.
    let queued: Vec<Uuid> = sqlx::query_scalar("select id from outbox where kind = 'email'")
        .fetch_all(&app.pool)
        .await
        .expect("emails");
    assert_eq!(
        queued.len(),
        total as usize,
        "one 'access delivered' email per holder"
    );
    let received: HashSet<String> = smtp
        .messages()
        .iter()
        .filter_map(|raw| Mime::parse(raw).header("Message-ID").map(str::to_string))
        .collect();
    for id in &queued {
        assert!(
            received.contains(&format!("<{id}@portico>")),
            "email {id} was lost: {received:?}"
        );
    }
    assert_eq!(
        received.len(),
        queued.len(),
        "no message under a second identity"
    );
    let pending: i64 = sqlx::query_scalar("select count(*) from outbox where state <> 'done'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(pending, 0);
}
