//! Sign-in through the tenant's identity provider (INTEGRATIONS.md §1), against a real
//! OpenID provider (npm `oidc-provider`, `helpers::oidc::TestIdp`): the settings API,
//! the authorization-code flow over plain HTTP with every refusal, and in the browser.

mod admin_page;
mod browser;
mod flow;
mod settings;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::oidc::{IdpClient, TestIdp};
use crate::helpers::{AppOptions, TestApp, TestTenant};

pub const CLIENT_ID: &str = "portico";
pub const CLIENT_SECRET: &str = "portico-client-secret";

/// A server whose base URL is its own address and whose clock reads the real time
/// (the provider signs tokens with the real time).
pub async fn app() -> TestApp {
    let app = TestApp::spawn_with(AppOptions {
        self_base_url: true,
        ..AppOptions::default()
    })
    .await;
    app.clock.set(chrono::Utc::now());
    app
}

pub fn redirect_uri(app: &TestApp, slug: &str) -> String {
    format!("{}/t/{slug}/oidc/callback", app.address)
}

pub fn settings_body(idp: &TestIdp) -> Value {
    json!({
        "type": "oidc",
        "displayName": "Acme SSO",
        "issuer": idp.issuer,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
    })
}

/// A tenant connected to a fresh provider that knows `ada@acme.test`, who is also a
/// Portico user of the tenant.
pub async fn connected(app: &TestApp, extra: Value) -> (TestTenant, TestIdp) {
    let t = app.tenant("acme").await;
    let idp = TestIdp::start(vec![IdpClient::new(
        CLIENT_ID,
        CLIENT_SECRET,
        &redirect_uri(app, "acme"),
    )])
    .await;
    idp.add_account("ada@acme.test", true, "Ada Lovelace").await;
    app.user(&t, "ada@acme.test", json!({"displayName": "Ada Lovelace"}))
        .await;
    let mut body = settings_body(&idp);
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let (status, answer) = app
        .put(&t.admin, "/api/v1/tenant/identityProvider", body)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    (t, idp)
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    TestIdp::http_client()
}

pub fn start_url(app: &TestApp, slug: &str) -> String {
    format!("{}/t/{slug}/oidc/start", app.address)
}
