//! A real SCIM 2.0 service provider for the SCIM connector tests: PyPI `scim2-server`
//! (python-scim, pinned in `.ci/scim2-server-venv`, which installs it into
//! `target/scim2-server-venv` on first use), started by the test on a free loopback
//! port with a bearer token and its groups created through its own API. It keeps its
//! resources in memory, so `stop` then `start_again` is a target that was down and
//! came back empty but for its groups. Tests look into it through its SCIM API, as
//! any client would.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

pub const TOKEN: &str = "scim-target-token-0123456789";

static INSTALLED: OnceCell<PathBuf> = OnceCell::const_new();

/// The `scim2-server` program, installed once per test run.
async fn program() -> PathBuf {
    INSTALLED
        .get_or_init(|| async {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let program = root.join("target/scim2-server-venv/bin/scim2-server");
            let status = Command::new("bash")
                .arg(root.join(".ci/scim2-server-venv"))
                .status()
                .await
                .expect("run .ci/scim2-server-venv");
            assert!(status.success(), "installing scim2-server failed");
            assert!(program.exists(), "no {}", program.display());
            program
        })
        .await
        .clone()
}

pub struct ScimTarget {
    /// `http://127.0.0.1:<port>/v2`, what a connector's baseUrl names.
    pub base_url: String,
    port: u16,
    groups: Vec<String>,
    child: Option<Child>,
    client: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl ScimTarget {
    /// A running target holding the groups `groups` (and nothing else).
    pub async fn start(groups: &[&str]) -> Self {
        let mut target = Self {
            base_url: String::new(),
            port: 0,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            child: None,
            client: reqwest::Client::new(),
        };
        for _ in 0..5 {
            target.port = free_port();
            target.base_url = format!("http://127.0.0.1:{}/v2", target.port);
            if target.launch().await {
                return target;
            }
        }
        panic!("scim2-server did not start");
    }

    /// Another client of the same running target (it does not stop the server).
    pub fn handle(&self) -> Self {
        Self {
            base_url: self.base_url.clone(),
            port: self.port,
            groups: Vec::new(),
            child: None,
            client: self.client.clone(),
        }
    }

    /// Starts the server on this target's port; false when it did not come up.
    async fn launch(&mut self) -> bool {
        let mut child = Command::new(program().await)
            .args(["--hostname", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--bearer-token", TOKEN])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start scim2-server");
        for _ in 0..200 {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            let up = self
                .client
                .get(format!("{}/ServiceProviderConfig", self.base_url))
                .bearer_auth(TOKEN)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                self.child = Some(child);
                for g in self.groups.clone() {
                    self.create_group(&g).await;
                }
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill().await;
        false
    }

    /// The target goes down: calls to it fail to connect.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// The target comes back on the same address, empty but for its groups.
    pub async fn start_again(&mut self) {
        for _ in 0..20 {
            if self.launch().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("scim2-server did not start again on port {}", self.port);
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let res = req.send().await.expect("call the SCIM target");
        let status = res.status();
        let text = res.text().await.expect("body");
        assert!(
            status.is_success() || status == StatusCode::NOT_FOUND,
            "{status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn create_group(&self, name: &str) -> String {
        let g = self
            .call(
                reqwest::Method::POST,
                "/Groups",
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                            "displayName": name}),
                ),
            )
            .await;
        g["id"].as_str().expect("group id").to_string()
    }

    /// A user created in the target directly (someone it knew before Portico).
    pub async fn create_user(&self, user_name: &str, active: bool) -> String {
        let u = self
            .call(
                reqwest::Method::POST,
                "/Users",
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": user_name, "active": active, "externalId": "hr-0042"}),
                ),
            )
            .await;
        u["id"].as_str().expect("user id").to_string()
    }

    fn filter(attribute: &str, value: &str) -> String {
        let f = format!("{attribute} eq \"{value}\"");
        url::form_urlencoded::byte_serialize(f.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    }

    /// Every user whose userName is `user_name`.
    pub async fn users_named(&self, user_name: &str) -> Vec<Value> {
        let list = self
            .call(
                reqwest::Method::GET,
                &format!("/Users?filter={}", Self::filter("userName", user_name)),
                None,
            )
            .await;
        list["Resources"].as_array().cloned().unwrap_or_default()
    }

    /// The one user named `user_name`.
    pub async fn user(&self, user_name: &str) -> Value {
        let users = self.users_named(user_name).await;
        assert_eq!(users.len(), 1, "one user {user_name}: {users:?}");
        users[0].clone()
    }

    /// The ids of the members of the group `name`.
    pub async fn members(&self, name: &str) -> Vec<String> {
        let list = self
            .call(
                reqwest::Method::GET,
                &format!("/Groups?filter={}", Self::filter("displayName", name)),
                None,
            )
            .await;
        let group = &list["Resources"][0];
        assert!(group.is_object(), "no group {name}: {list}");
        group["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|x| x["value"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}
