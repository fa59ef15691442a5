//! TestApp: a fresh database per test (from `DATABASE_URL`, or a private cluster under
//! the target directory) that is dropped when the test ends, a real server on port 0,
//! a manual clock and a recording mailer. Logs stay silent unless `TEST_LOG` is set.
//! Beside it: `portal`, a cookie-carrying form client that signs in by emailed link,
//! `browser`, the toolkit for tests in a real headless Chromium, and `oidc`, a real
//! OpenID provider (`TestIdp`) for the sign-in tests.

// A toolkit shared by every test module: not each module uses each helper.
#![allow(dead_code)]

pub mod browser;
mod database;
pub mod oidc;
pub mod portal;
pub mod scim_target;
pub mod slapd;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
pub use database::{TestDatabase, fresh_database};
use portico::clock::ManualClock;
use portico::config::Settings;
use portico::email::{Mailer, RecordingMailer};
use portico::services;
use portico::startup::{Application, Dependencies};
use portico::state::AppState;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::oneshot;

pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        portico::telemetry::init(portico::config::LogFormat::Pretty);
    }
}

/// A tenant made for a test, with its admin's API token.
#[derive(Clone, Debug)]
pub struct TestTenant {
    pub slug: String,
    pub id: uuid::Uuid,
    pub admin_id: uuid::Uuid,
    pub admin_email: String,
    pub admin: String,
}

/// How `TestApp::spawn_with` builds the server, beyond the defaults.
#[derive(Default)]
pub struct AppOptions {
    /// Replaces the recording mailer.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// PORTICO_* variables on top of `test_settings`.
    pub settings: Vec<(String, String)>,
    /// Demo mode with this tenant slug (mounts the dev mailbox).
    pub demo_tenant: Option<String>,
    /// `PORTICO_BASE_URL` is the server's own address, so emailed links work as sent.
    pub self_base_url: bool,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub db_options: PgConnectOptions,
    pub clock: Arc<ManualClock>,
    pub mailer: RecordingMailer,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    /// Declared last, so it goes after the rest: when it is the database's last holder,
    /// the database is dropped once the server has been told to stop.
    database: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The secret key of test servers (servers that share a database need the same one to
/// open each other's sealed secrets).
pub const TEST_SECRET_KEY: &str = "test-secret-key-test-secret-key-0123";

/// Settings for tests: loopback port 0, fast scheduler, private webhooks allowed, and
/// an API rate no test reaches unless it sets its own (tests drive one admin token
/// harder than any client should).
pub fn test_settings(extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("PORTICO_BIND", "127.0.0.1:0"),
        ("PORTICO_BASE_URL", "http://portico.test"),
        ("PORTICO_SECRET_KEY", TEST_SECRET_KEY),
        ("PORTICO_SMTP_URL", "log"),
        ("PORTICO_SCHEDULER_INTERVAL_MS", "100"),
        ("PORTICO_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("PORTICO_API_RATE_PER_SECOND", "1000000"),
        ("PORTICO_API_BURST", "1000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Settings::from_map(&vars).expect("test settings")
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0)
        .single()
        .expect("valid time")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(AppOptions::default()).await
    }

    /// A server whose settings differ from `test_settings` by `overrides`.
    pub async fn spawn_with_settings(overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_with(AppOptions {
            settings: overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..AppOptions::default()
        })
        .await
    }

    /// A server built with `options` (another mailer, settings, demo mode).
    pub async fn spawn_with(options: AppOptions) -> TestApp {
        init_logs();
        let database = fresh_database().await;
        let pool = portico::db::connect(database.options.clone(), 8)
            .await
            .expect("connect to the test database");
        Self::spawn_on_with(pool, database.options.clone(), options).await
    }

    /// A server in demo mode for tenant `slug` (its dev sign-in page is on).
    pub async fn spawn_demo(slug: &str) -> TestApp {
        Self::spawn_with(AppOptions {
            demo_tenant: Some(slug.to_string()),
            ..AppOptions::default()
        })
        .await
    }

    /// Another server on the same database (replica tests); the database stays until
    /// the last server on it is gone.
    pub async fn spawn_on(pool: PgPool, db_options: PgConnectOptions) -> TestApp {
        Self::spawn_on_with(pool, db_options, AppOptions::default()).await
    }

    pub async fn spawn_on_with(
        pool: PgPool,
        db_options: PgConnectOptions,
        options: AppOptions,
    ) -> TestApp {
        let database = TestDatabase::held(&db_options);
        if let Some(database) = &database {
            database.close_with(&pool);
        }
        let clock = Arc::new(ManualClock::new(start_time()));
        let mailer = RecordingMailer::new();
        let mut attempt = 0;
        let app = loop {
            attempt += 1;
            let mut vars = options.settings.clone();
            if options.self_base_url {
                // Links in emails name this server, so tests follow them as people do.
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free port")
                    .port();
                vars.push(("PORTICO_BIND".into(), format!("127.0.0.1:{port}")));
                vars.push((
                    "PORTICO_BASE_URL".into(),
                    format!("http://127.0.0.1:{port}"),
                ));
            }
            let vars: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let deps = Dependencies {
                clock: clock.clone(),
                mailer: options
                    .mailer
                    .clone()
                    .unwrap_or_else(|| Arc::new(mailer.clone())),
                demo_tenant: options.demo_tenant.clone(),
            };
            match Application::with_pool(test_settings(&vars), pool.clone(), deps).await {
                Ok(app) => break app,
                // The port picked above may have been taken in between.
                Err(_) if options.self_base_url && attempt < 5 => continue,
                Err(e) => panic!("build the app: {e:#}"),
            }
        };
        let address = format!("http://{}", app.local_addr().expect("address"));
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            pool,
            db_options,
            clock,
            mailer,
            state,
            shutdown: Some(tx),
            database,
        }
    }

    /// The URL of this test's own database, for running the `portico` binary against
    /// it: `DATABASE_URL` with the database name swapped, or the private cluster's socket.
    pub fn database_url(&self) -> String {
        let name = self
            .db_options
            .get_database()
            .expect("the test database has a name");
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                let mut url = url::Url::parse(&url).expect("DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                url.to_string()
            }
            _ => {
                let socket = self
                    .db_options
                    .get_socket()
                    .expect("the private cluster uses a socket");
                format!(
                    "postgres://{}@localhost:{}/{name}?host={}",
                    self.db_options.get_username(),
                    self.db_options.get_port(),
                    socket.display()
                )
            }
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        use portico::clock::Clock;
        self.clock.now()
    }

    /// Creates tenant `slug` with admin `admin@<slug>.test` and returns its admin token.
    pub async fn tenant(&self, slug: &str) -> TestTenant {
        let admin_email = format!("admin@{slug}.test");
        let input = services::tenants::NewTenant {
            slug: portico::domain::values::Slug::parse(slug).expect("slug"),
            display_name: portico::domain::values::DisplayName::parse(&format!("Tenant {slug}"))
                .expect("name"),
            admin_email: portico::domain::values::EmailAddress::parse(&admin_email).expect("email"),
        };
        let (tenant, admin) = services::tenants::create(&self.pool, input, self.now())
            .await
            .expect("create tenant");
        let token = self.token(slug, &admin_email).await;
        TestTenant {
            slug: slug.into(),
            id: tenant.id.0,
            admin_id: admin.id.0,
            admin_email,
            admin: token,
        }
    }

    /// A fresh API token for the user with `email`.
    pub async fn token(&self, slug: &str, email: &str) -> String {
        services::tokens::create(&self.pool, slug, email, Some("test"), None, self.now())
            .await
            .expect("create token")
            .1
    }

    /// Creates a user through the API (as `admin`) and returns (id, token).
    pub async fn user(
        &self,
        tenant: &TestTenant,
        email: &str,
        extra: Value,
    ) -> (uuid::Uuid, String) {
        let mut body =
            json!({"email": email, "displayName": email.split('@').next().unwrap_or(email)});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let (status, user) = self
            .call(Method::POST, &tenant.admin, "/api/v1/users", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "create user {email}: {user}");
        let id = uuid_of(&user["id"]);
        (id, self.token(&tenant.slug, email).await)
    }

    pub fn request(&self, method: Method, token: &str, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.address, path))
            .bearer_auth(token)
    }

    /// Sends a JSON call and returns the status and the parsed body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.request(method, token, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("send");
        read(res).await
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, token, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, token, path, Some(body)).await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, token, path, Some(body)).await
    }

    pub async fn put(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, token, path, Some(body)).await
    }

    pub async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, token, path, None).await
    }

    /// The id of the tenant's "General" catalog.
    pub async fn general_catalog(&self, tenant: &TestTenant) -> uuid::Uuid {
        sqlx::query_scalar(
            "select id from catalogs where tenant_id = $1 and display_name = 'General'",
        )
        .bind(tenant.id)
        .fetch_one(&self.pool)
        .await
        .expect("the General catalog")
    }

    /// Creates a user holding `role` (in `catalog` for catalog roles); returns (id, token).
    pub async fn user_with_role(
        &self,
        tenant: &TestTenant,
        email: &str,
        role: &str,
        catalog: Option<uuid::Uuid>,
    ) -> (uuid::Uuid, String) {
        let (id, token) = self.user(tenant, email, json!({})).await;
        let (status, body) = self
            .post(
                &tenant.admin,
                "/api/v1/roleAssignments",
                json!({"role": role, "principal": {"type": "user", "id": id}, "catalogId": catalog}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "grant {role} to {email}: {body}"
        );
        (id, token)
    }

    /// Audit actions recorded about `target`, oldest first.
    pub async fn audit_actions(&self, target: uuid::Uuid) -> Vec<String> {
        sqlx::query_scalar("select action from audit_events where target_id = $1 order by id")
            .bind(target)
            .fetch_all(&self.pool)
            .await
            .expect("audit query")
    }
}

pub async fn read(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

pub fn uuid_of(v: &Value) -> uuid::Uuid {
    uuid::Uuid::parse_str(v.as_str().unwrap_or_else(|| panic!("not a string id: {v}")))
        .expect("uuid")
}
