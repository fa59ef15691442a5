//! `TestIdp`: a real OpenID provider (npm `oidc-provider`, `tests/oidc/provider.mjs`) run
//! as a child process for the sign-in tests, with helpers that drive it: add accounts,
//! rotate its signing key, tamper with the next ID token, read the last authorization
//! request, and sign in over plain HTTP or in the browser.
//!
//! The provider listens on `http://127.0.0.1:PORT` (its issuer), requires PKCE with S256,
//! grants consent automatically and signs in by email alone (no password). Its clients
//! authenticate at the token endpoint with `client_secret_basic` (HTTP Basic, the OAuth
//! default) unless `TestIdp::start_config` registers them otherwise. After
//! `rotate_keys` its JWKS publishes only the new key.
//!
//! The process is killed when the `TestIdp` is dropped, and exits by itself when its
//! stdin closes, so a test killed midway leaves nothing behind. When
//! `tests/oidc/node_modules` is missing, `npm ci` runs once first, so `cargo test` works
//! on a fresh clone with Node installed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use url::Url;

/// A client registered at the provider.
#[derive(Clone, Debug)]
pub struct IdpClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

impl IdpClient {
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        }
    }

    fn config(&self) -> Value {
        json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": [self.redirect_uri],
        })
    }
}

/// What `TestIdp::tamper` does to the next token response's ID token. Each is re-signed
/// with the provider's current key, except `UnknownKey` (a fresh key whose `kid` is not
/// in the JWKS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    None,
    /// `aud` is `"someone-else"`.
    WrongAudience,
    /// Signed with a key the JWKS does not publish.
    UnknownKey,
    /// `exp` an hour ago (`iat` two hours ago).
    Expired,
    /// `iss` is `http://127.0.0.1:9/not-the-issuer`.
    WrongIssuer,
    /// `nonce` is `not-<the nonce>`.
    BadNonce,
}

impl Tamper {
    pub fn as_str(self) -> &'static str {
        match self {
            Tamper::None => "none",
            Tamper::WrongAudience => "wrong-audience",
            Tamper::UnknownKey => "unknown-key",
            Tamper::Expired => "expired",
            Tamper::WrongIssuer => "wrong-issuer",
            Tamper::BadNonce => "bad-nonce",
        }
    }
}

/// A running provider; killed when dropped.
pub struct TestIdp {
    /// `http://127.0.0.1:PORT`, exactly as in its discovery document and ID tokens.
    pub issuer: String,
    pub port: u16,
    http: reqwest::Client,
    // Held so the provider's stdin and stdout stay open while the test runs.
    _stdin: ChildStdin,
    _stdout: BufReader<ChildStdout>,
    child: Child,
}

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Runs `npm ci` in tests/oidc once per test binary when its node_modules is missing.
async fn ensure_node_modules() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = tokio::task::spawn_blocking(|| {
        INSTALLED
            .get_or_init(|| {
                let dir = oidc_dir();
                if dir.join("node_modules/oidc-provider").is_dir() {
                    return Ok(());
                }
                let out = std::process::Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run npm (is Node installed?): {e}"))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "`npm ci` in {} failed: {}",
                        dir.display(),
                        String::from_utf8_lossy(&out.stderr)
                    ))
                }
            })
            .clone()
    })
    .await
    .expect("the npm ci task");
    if let Err(e) = result {
        panic!("the test identity provider cannot be installed: {e}");
    }
}

impl TestIdp {
    /// Starts a provider with these clients and no accounts (add them with `add_account`).
    pub async fn start(clients: Vec<IdpClient>) -> TestIdp {
        let clients: Vec<Value> = clients.iter().map(IdpClient::config).collect();
        Self::start_config(json!({ "clients": clients, "accounts": [] })).await
    }

    /// Starts a provider from the raw config of `tests/oidc/provider.mjs`: `{port?,
    /// clients: [{client_id, client_secret, redirect_uris, token_endpoint_auth_method?}],
    /// accounts: [{sub?, email, email_verified?, name?}], ttl?: {IdToken, AccessToken,
    /// AuthorizationCode, Interaction, Session, Grant}}` (TTLs in seconds).
    pub async fn start_config(config: Value) -> TestIdp {
        ensure_node_modules().await;
        let script = oidc_dir().join("provider.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .arg(config.to_string())
            .current_dir(oidc_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node {}: {e}", script.display()));
        let stdin = child.stdin.take().expect("the provider's stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("the provider's stdout"));
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
            .await
            .expect("the test identity provider did not say it was ready within 30 seconds")
            .expect("reading the provider's ready line");
        assert!(
            read > 0,
            "the test identity provider exited before it was ready (its stderr is above)"
        );
        let ready: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("the provider's ready line {line:?} is not JSON: {e}"));
        let issuer = ready["issuer"].as_str().expect("issuer").to_owned();
        let port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("port");
        TestIdp {
            issuer,
            port,
            http: reqwest::Client::new(),
            _stdin: stdin,
            _stdout: stdout,
            child,
        }
    }

    /// A client like a browser for `sign_in_over_http`: it keeps cookies and does not
    /// follow redirects.
    pub fn http_client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path} to the test identity provider: {e}"));
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON answer");
        assert_eq!(status, StatusCode::OK, "POST {path}: {body}");
        body
    }

    /// Adds (or, for a known email, updates) an account; returns its `sub`.
    pub async fn add_account(&self, email: &str, email_verified: bool, name: &str) -> String {
        let account = self
            .control(
                "/__test/accounts",
                json!({"email": email, "email_verified": email_verified, "name": name}),
            )
            .await;
        account["sub"].as_str().expect("sub").to_owned()
    }

    /// Replaces the signing key; returns the new `kid`. The JWKS then holds only it.
    pub async fn rotate_keys(&self) -> String {
        let answer = self.control("/__test/rotate-keys", json!({})).await;
        answer["kid"].as_str().expect("kid").to_owned()
    }

    /// Alters the ID token of the next token response only (`Tamper::None` cancels).
    pub async fn tamper(&self, mode: Tamper) {
        self.control("/__test/tamper", json!({"mode": mode.as_str()}))
            .await;
    }

    /// The last authorization request's parameters (`Value::Null` before the first).
    pub async fn last_authorization(&self) -> Value {
        self.http
            .get(self.url("/__test/last-authorization"))
            .send()
            .await
            .expect("GET /__test/last-authorization")
            .json()
            .await
            .expect("a JSON answer")
    }

    /// The `kid`s the JWKS publishes now.
    pub async fn jwks_kids(&self) -> Vec<String> {
        let jwks: Value = self
            .http
            .get(self.url("/jwks"))
            .send()
            .await
            .expect("GET /jwks")
            .json()
            .await
            .expect("a JSON JWKS");
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect()
    }

    /// Signs in as `email` from `authorize_url` (the provider's authorization URL, or a
    /// URL that redirects to it, such as Portico's `/oidc/start`): follows the redirects,
    /// fills the login page, and returns the first redirect that leaves the provider
    /// (the client's callback URL with `code`, `state` and `iss`, or with `error`)
    /// WITHOUT following it. `client` must keep cookies and not follow redirects (see
    /// `TestIdp::http_client`); requests to other hosts than the provider go through it
    /// too, so pass Portico's own client when the flow starts on Portico.
    pub async fn sign_in_over_http(
        &self,
        client: &reqwest::Client,
        authorize_url: &str,
        email: &str,
    ) -> String {
        sign_in_through(&self.issuer, client, authorize_url, email).await
    }
}

/// [`TestIdp::sign_in_over_http`] at a provider this test did not start (the demo's).
pub async fn sign_in_through(
    issuer: &str,
    client: &reqwest::Client,
    authorize_url: &str,
    email: &str,
) -> String {
    let issuer = Url::parse(issuer).expect("the issuer URL");
    let mut url = Url::parse(authorize_url).expect("the authorization URL");
    let mut at_idp = false;
    for _ in 0..20 {
        at_idp |= url.origin() == issuer.origin();
        let response = client
            .get(url.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status();
        if status.is_redirection() {
            let next = redirect_target(&url, &response);
            if at_idp && next.origin() != issuer.origin() {
                return next.to_string();
            }
            url = next;
            continue;
        }
        let page = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "GET {url}: {page}");
        let action = form_action(&page)
            .unwrap_or_else(|| panic!("{url} is not the provider's login page: {page}"));
        let action = url.join(&action).expect("the login form's action");
        let response = client
            .post(action.clone())
            .form(&[("email", email)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {action}: {e}"));
        if !response.status().is_redirection() {
            let status = response.status();
            let page = response.text().await.unwrap_or_default();
            panic!("signing in as {email} did not go on ({status}): {page}");
        }
        url = redirect_target(&action, &response);
    }
    panic!("signing in from {authorize_url} did not leave the provider after 20 steps");
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn redirect_target(from: &Url, response: &reqwest::Response) -> Url {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{from} redirected without a Location"));
    from.join(location)
        .unwrap_or_else(|e| panic!("{from} redirected to a bad Location {location:?}: {e}"))
}

/// The `action` of the provider's login form (`<form … id="login">`).
fn form_action(page: &str) -> Option<String> {
    let form_start = page.find("<form")?;
    let form_tag = &page[form_start..form_start + page[form_start..].find('>')?];
    if !form_tag.contains("id=\"login\"") {
        return None;
    }
    let at = form_tag.find("action=\"")? + "action=\"".len();
    let end = form_tag[at..].find('"')?;
    Some(form_tag[at..at + end].replace("&amp;", "&"))
}

/// Fills and submits the provider's login page in the browser, once it shows.
pub async fn fill_login(c: &fantoccini::Client, email: &str) {
    super::browser::type_into(c, "form#login input#email", email).await;
    super::browser::click(c, "form#login button#sign-in").await;
}
