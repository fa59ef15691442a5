//! Deciding in chat (INTEGRATIONS.md §5) against local HTTP servers started by the
//! tests: `SlackApi` stands in for Slack's Web API (records every call and answers as
//! Slack's documentation shows), `TeamsHook` for a Teams channel's webhook. Clicks are
//! sent as Slack sends them: a form-encoded `payload=` signed with the tenant's
//! signing secret.

mod admin_page;
mod settings;
mod slack;
mod teams;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::fixtures::{self, group_package, open_policy};
use crate::helpers::{AppOptions, TestApp, TestTenant};

pub const BOT_TOKEN: &str = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy";
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// One call Portico made to the Web API: the method, the bearer token and the
/// arguments (JSON, or a form read into an object).
#[derive(Clone, Debug)]
pub struct SlackCall {
    pub method: String,
    pub token: String,
    pub args: Value,
}

#[derive(Default)]
struct SlackState {
    calls: Vec<SlackCall>,
    /// Email address → Slack user id, as the workspace knows its people.
    users: HashMap<String, String>,
    /// Addresses the workspace does not know, whoever is made a member.
    hidden: Vec<String>,
    posted: u64,
}

/// Slack's Web API on a loopback port.
#[derive(Clone, Default)]
pub struct SlackApi {
    state: Arc<Mutex<SlackState>>,
    pub url: String,
}

impl SlackApi {
    pub async fn start() -> SlackApi {
        let state = Arc::new(Mutex::new(SlackState::default()));
        let app = axum::Router::new()
            .route("/api/{method}", post(slack_method))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/api", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlackApi { state, url }
    }

    /// Makes `email` a member of the workspace with user id `id` (unless hidden).
    pub fn member(&self, email: &str, id: &str) {
        let mut s = self.state.lock().expect("lock");
        if !s.hidden.iter().any(|h| h == email) {
            s.users.insert(email.to_string(), id.to_string());
        }
    }

    /// Keeps `email` out of the workspace.
    pub fn hide(&self, email: &str) {
        self.state
            .lock()
            .expect("lock")
            .hidden
            .push(email.to_string());
    }

    pub fn calls(&self) -> Vec<SlackCall> {
        self.state.lock().expect("lock").calls.clone()
    }

    pub fn calls_of(&self, method: &str) -> Vec<SlackCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Waits until `n` calls of `method` were made, and returns them.
    pub async fn wait_for(&self, method: &str, n: usize) -> Vec<SlackCall> {
        for _ in 0..200 {
            let calls = self.calls_of(method);
            if calls.len() >= n {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} {method} calls; Slack got {:#?}", self.calls());
    }
}

/// Answers like Slack's documented examples.
async fn slack_method(
    State(state): State<Arc<Mutex<SlackState>>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::Json<Value> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let args: Value = if is_json {
        serde_json::from_str(&body).unwrap_or(Value::Null)
    } else {
        let map: serde_json::Map<String, Value> = url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        Value::Object(map)
    };
    let mut s = state.lock().expect("lock");
    s.calls.push(SlackCall {
        method: method.clone(),
        token: token.clone(),
        args: args.clone(),
    });
    if token != BOT_TOKEN {
        return axum::Json(json!({"ok": false, "error": "invalid_auth"}));
    }
    let answer = match method.as_str() {
        "users.lookupByEmail" => {
            let email = args["email"].as_str().unwrap_or_default();
            match s.users.get(email) {
                Some(id) => json!({"ok": true, "user": {"id": id, "team_id": "T0PORTICO",
                                   "profile": {"email": email}}}),
                None => json!({"ok": false, "error": "users_not_found"}),
            }
        }
        "users.info" => {
            let id = args["user"].as_str().unwrap_or_default();
            match s.users.iter().find(|(_, v)| v.as_str() == id) {
                Some((email, _)) => {
                    json!({"ok": true, "user": {"id": id, "profile": {"email": email}}})
                }
                None => json!({"ok": false, "error": "user_not_found"}),
            }
        }
        "chat.postMessage" => {
            s.posted += 1;
            let user = args["channel"].as_str().unwrap_or_default();
            json!({"ok": true, "channel": format!("D{user}"),
                   "ts": format!("1503435956.{:06}", s.posted),
                   "message": {"text": args["text"], "type": "message"}})
        }
        "chat.update" => json!({"ok": true, "channel": args["channel"], "ts": args["ts"],
                                "text": args["text"]}),
        "chat.postEphemeral" => json!({"ok": true, "message_ts": "1502210682.580145"}),
        "views.open" => json!({"ok": true, "view": {"id": "VMHU10V25", "type": "modal"}}),
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    axum::Json(answer)
}

/// A Teams channel's incoming webhook on a loopback port: keeps every message.
#[derive(Clone, Default)]
pub struct TeamsHook {
    messages: Arc<Mutex<Vec<Value>>>,
    pub url: String,
}

impl TeamsHook {
    pub async fn start() -> TeamsHook {
        let messages: Arc<Mutex<Vec<Value>>> = Arc::default();
        let kept = messages.clone();
        let app = axum::Router::new().route(
            "/webhookb2/{id}",
            post(move |body: String| {
                let kept = kept.clone();
                async move {
                    kept.lock()
                        .expect("lock")
                        .push(serde_json::from_str(&body).unwrap_or(Value::Null));
                    axum::http::StatusCode::ACCEPTED
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/webhookb2/c0ffee",
            listener.local_addr().expect("addr")
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TeamsHook { messages, url }
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let m = self.messages.lock().expect("lock").clone();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} Teams messages");
    }
}

/// A server whose emailed links name itself, talking to `slack`.
pub async fn app_with(slack: &SlackApi) -> TestApp {
    TestApp::spawn_with(AppOptions {
        self_base_url: true,
        settings: vec![("PORTICO_SLACK_API_URL".into(), slack.url.clone())],
        ..AppOptions::default()
    })
    .await
}

/// Sets the tenant's chat settings as its admin; returns the answer.
pub async fn set_chat(app: &TestApp, t: &TestTenant, body: Value) -> (StatusCode, Value) {
    app.put(&t.admin, "/api/v1/tenant/chat", body).await
}

/// A pending request in a tenant with Slack set up: Adele asks for "Windows 11
/// Testing", her manager Megan approves; both are in the Slack workspace.
pub struct Setup {
    pub t: TestTenant,
    pub manager: (Uuid, String),
    pub employee: (Uuid, String),
    pub lee: (Uuid, String),
    pub package: Uuid,
    pub request: Value,
}

impl Setup {
    pub fn request_id(&self) -> String {
        self.request["id"].as_str().expect("id").to_string()
    }
}

/// The people of a setup, for a stage naming them.
pub struct People {
    pub manager: Uuid,
    pub employee: Uuid,
    pub lee: Uuid,
}

pub const MEGAN_SLACK: &str = "U0MEGAN";
pub const LEE_SLACK: &str = "U0LEE";
pub const ADELE_SLACK: &str = "U0ADELE";

/// The tenant `slug` with chat set to `chat`; Megan, Adele (whose manager is Megan)
/// and Lee; and Adele's request, its one stage (manager approves) changed by what
/// `stage` returns for the ids of `People`.
pub async fn pending(
    app: &TestApp,
    slack: &SlackApi,
    slug: &str,
    chat: Value,
    stage: impl FnOnce(&People) -> Value,
) -> Setup {
    let t = app.tenant(slug).await;
    let (status, body) = set_chat(app, &t, chat).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let manager = app
        .user(
            &t,
            &format!("megan@{slug}.test"),
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let employee = app
        .user(
            &t,
            &format!("adele@{slug}.test"),
            json!({"displayName": "Adele Vance", "managerId": manager.0}),
        )
        .await;
    let lee = app
        .user(
            &t,
            &format!("lee@{slug}.test"),
            json!({"displayName": "Lee Gu"}),
        )
        .await;
    slack.member(&format!("megan@{slug}.test"), MEGAN_SLACK);
    slack.member(&format!("adele@{slug}.test"), ADELE_SLACK);
    slack.member(&format!("lee@{slug}.test"), LEE_SLACK);
    let stage = stage(&People {
        manager: manager.0,
        employee: employee.0,
        lee: lee.0,
    });
    let mut stage_body =
        json!({"approvers": [{"type": "manager"}], "decision": "anyOne", "timeoutDays": 7});
    if let (Some(s), Some(extra)) = (stage_body.as_object_mut(), stage.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    let settings = open_policy(json!({
        "requireJustification": true,
        "questions": [{"text": "Which device?", "kind": "shortText", "required": true}],
        "approval": {"stages": [stage_body]},
        "expiration": {"type": "afterDays", "days": 30}
    }));
    let pkg = group_package(app, &t, "Windows 11 Testing", settings).await;
    let question: String = sqlx::query_scalar(
        "select settings -> 'questions' -> 0 ->> 'id' from policies where id = $1",
    )
    .bind(pkg.policy)
    .fetch_one(&app.pool)
    .await
    .expect("question id");
    let (status, request) = fixtures::request(
        app,
        &employee.1,
        pkg.package,
        json!({"justification": "Beta testing", "answers": [{"questionId": question, "value": "Laptop 42"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    Setup {
        t,
        manager,
        employee,
        lee,
        package: pkg.package,
        request,
    }
}

pub fn slack_settings() -> Value {
    json!({"slack": {"botToken": BOT_TOKEN, "signingSecret": SIGNING_SECRET}})
}

/// Slack's `X-Slack-Signature` for `body` at `timestamp`, computed from first principles.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// What Slack sends when `slack_user` clicks `action_id` on a message in their DM.
pub fn click(slack_user: &str, action_id: &str, value: &str) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": "T0PORTICO", "domain": "contoso"},
        "user": {"id": slack_user, "username": "someone", "team_id": "T0PORTICO"},
        "api_app_id": "A0PORTICO",
        "token": "verification-token-not-used",
        "container": {"type": "message", "message_ts": "1503435956.000001", "channel_id": format!("D{slack_user}"), "is_ephemeral": false},
        "trigger_id": "12466734323.1395872398.a5b1d4e5e8",
        "channel": {"id": format!("D{slack_user}"), "name": "directmessage"},
        "response_url": "https://hooks.slack.com/actions/T0PORTICO/1/abc",
        "actions": [{"action_id": action_id, "block_id": "portico_decision", "value": value,
                     "type": "button", "action_ts": "1548426417.840180"}]
    })
}

/// What Slack sends when `slack_user` submits the reason form `view` with `reason`.
pub fn submission(slack_user: &str, view: &Value, reason: &str) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": "T0PORTICO", "domain": "contoso"},
        "user": {"id": slack_user, "username": "someone", "team_id": "T0PORTICO"},
        "api_app_id": "A0PORTICO",
        "trigger_id": "12466734323.1395872398.a5b1d4e5e9",
        "view": {
            "id": "VMHU10V25",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}}
        }
    })
}

/// Sends `payload` to the tenant's interaction URL as Slack would, signed with
/// `secret` at `timestamp`; returns the status and the answer (Null when empty).
pub async fn send_signed(
    app: &TestApp,
    slug: &str,
    payload: &Value,
    secret: &str,
    timestamp: i64,
) -> (StatusCode, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let res = app
        .client
        .post(format!("{}/chat/slack/{slug}/interactions", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature(secret, timestamp, &body))
        .body(body)
        .send()
        .await
        .expect("send");
    crate::helpers::read(res).await
}

/// Sends `payload` signed correctly, now.
pub async fn send(app: &TestApp, slug: &str, payload: &Value) -> (StatusCode, Value) {
    send_signed(app, slug, payload, SIGNING_SECRET, app.now().timestamp()).await
}

/// The decisions recorded on the request.
pub async fn decisions(app: &TestApp, request: &str) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "select decision, justification from stage_decisions where request_id = $1::uuid order by decided_at",
    )
    .bind(request)
    .fetch_all(&app.pool)
    .await
    .expect("decisions")
}

/// The button values of the blocks of a posted message, by action id.
pub fn buttons(blocks: &Value) -> Vec<(String, String)> {
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            (
                e["action_id"].as_str().unwrap_or_default().to_string(),
                e["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
