//! The `portico` binary's commands, run as an operator would, against the test's own
//! database: results on stdout, one-line errors on stderr, a non-zero exit on failure.

use std::process::Output;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::process::Command;

use crate::helpers::TestApp;

/// Runs `portico args…` with a clean environment plus `env`.
pub(crate) async fn portico(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portico"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .unwrap_or_else(|_| panic!("portico {args:?} did not finish within 60 s"))
        .expect("run portico")
}

/// Runs `portico args…` against the test's database.
pub(crate) async fn portico_on(app: &TestApp, args: &[&str]) -> Output {
    let url = app.database_url();
    portico(&[("DATABASE_URL", url.as_str())], args).await
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

async fn tenant_count(app: &TestApp, slug: &str) -> i64 {
    sqlx::query_scalar("select count(*) from tenants where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

async fn create_acme(app: &TestApp) {
    let out = portico_on(
        app,
        &[
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme",
            "--admin-email",
            "a@acme.test",
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (token id, token) from `token create`'s output.
fn parse_token(out: &Output) -> (String, String) {
    let text = stdout(out);
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("token id: "))
        .unwrap_or_else(|| panic!("no 'token id:' line in {text:?}"))
        .trim()
        .to_string();
    let token = text.lines().last().expect("a last line").trim().to_string();
    (id, token)
}

#[tokio::test]
async fn tenant_create_makes_the_tenant_with_its_admin() {
    let app = TestApp::spawn().await;

    let out = portico_on(
        &app,
        &[
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme",
            "--admin-email",
            "a@acme.test",
        ],
    )
    .await;

    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("acme"), "{}", stdout(&out));
    assert_eq!(tenant_count(&app, "acme").await, 1);
    let admins: i64 = sqlx::query_scalar(
        "select count(*) from role_assignments r join users u on u.tenant_id = r.tenant_id and u.id = r.user_id
         join tenants t on t.id = r.tenant_id
         where t.slug = 'acme' and r.role = 'tenantAdmin' and u.email = 'a@acme.test' and u.active",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(admins, 1);
}

#[tokio::test]
async fn creating_an_existing_tenant_fails_with_one_line_naming_the_slug() {
    let app = TestApp::spawn().await;
    create_acme(&app).await;

    let out = portico_on(
        &app,
        &[
            "tenant",
            "create",
            "acme",
            "--name",
            "Acme again",
            "--admin-email",
            "b@acme.test",
        ],
    )
    .await;

    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("acme"), "{lines:?}");
    assert_eq!(stdout(&out), "");
    assert_eq!(tenant_count(&app, "acme").await, 1);
}

#[tokio::test]
async fn a_bad_slug_fails_with_one_line() {
    let app = TestApp::spawn().await;

    let out = portico_on(
        &app,
        &[
            "tenant",
            "create",
            "Not A Slug",
            "--name",
            "Bad",
            "--admin-email",
            "a@bad.test",
        ],
    )
    .await;

    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("slug"), "{lines:?}");
    let tenants: i64 = sqlx::query_scalar("select count(*) from tenants")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(tenants, 0);
}

#[tokio::test]
async fn token_create_prints_a_token_that_authenticates_its_user() {
    let app = TestApp::spawn().await;
    create_acme(&app).await;

    let out = portico_on(
        &app,
        &[
            "token",
            "create",
            "--tenant",
            "acme",
            "--email",
            "a@acme.test",
        ],
    )
    .await;

    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, token) = parse_token(&out);
    assert!(token.starts_with("ptc_"), "{token}");
    let (status, me) = app.get(&token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["tenant"], "acme");
    assert_eq!(me["user"]["email"], "a@acme.test");
    assert_eq!(me["roles"][0]["role"], "tenantAdmin");

    let caller = portico::services::tokens::authenticate(&app.pool, &token, app.now())
        .await
        .expect("the service accepts the token too");
    assert_eq!(caller.tenant.slug, "acme");
}

#[tokio::test]
async fn token_create_for_an_unknown_tenant_or_user_fails() {
    let app = TestApp::spawn().await;
    create_acme(&app).await;

    for args in [
        [
            "token",
            "create",
            "--tenant",
            "nowhere",
            "--email",
            "a@acme.test",
        ],
        [
            "token",
            "create",
            "--tenant",
            "acme",
            "--email",
            "nobody@acme.test",
        ],
    ] {
        let out = portico_on(&app, &args).await;
        assert!(!out.status.success(), "{args:?}");
        let lines = stderr_lines(&out);
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(!stdout(&out).contains("ptc_"), "{args:?}");
    }
    let tokens: i64 = sqlx::query_scalar("select count(*) from api_tokens")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(tokens, 0);
}

#[tokio::test]
async fn token_revoke_makes_the_token_401() {
    let app = TestApp::spawn().await;
    create_acme(&app).await;
    let out = portico_on(
        &app,
        &[
            "token",
            "create",
            "--tenant",
            "acme",
            "--email",
            "a@acme.test",
        ],
    )
    .await;
    let (id, token) = parse_token(&out);
    assert_eq!(app.get(&token, "/api/v1/me").await.0, StatusCode::OK);

    let out = portico_on(&app, &["token", "revoke", "--tenant", "acme", &id]).await;

    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.get(&token, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );

    let again = portico_on(&app, &["token", "revoke", "--tenant", "acme", &id]).await;
    assert!(!again.status.success(), "revoking twice is an error");
    let other_tenant = portico_on(&app, &["token", "revoke", "--tenant", "nowhere", &id]).await;
    assert!(!other_tenant.status.success());
}

#[tokio::test]
async fn serve_without_a_base_url_fails_naming_the_setting() {
    let app = TestApp::spawn().await;
    let url = app.database_url();

    let out = portico(
        &[
            ("DATABASE_URL", url.as_str()),
            ("PORTICO_BIND", "127.0.0.1:0"),
            ("PORTICO_SMTP_URL", "log"),
            ("PORTICO_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ],
        &["serve"],
    )
    .await;

    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert!(
        lines.iter().any(|l| l.contains("PORTICO_BASE_URL")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn serve_refuses_to_log_emails_unless_allowed_naming_the_setting() {
    let app = TestApp::spawn().await;
    let url = app.database_url();

    let out = portico(
        &[
            ("DATABASE_URL", url.as_str()),
            ("PORTICO_BIND", "127.0.0.1:0"),
            ("PORTICO_BASE_URL", "http://portico.test"),
            ("PORTICO_SMTP_URL", "log"),
            ("PORTICO_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ],
        &["serve"],
    )
    .await;

    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("PORTICO_ALLOW_MAIL_LOG"), "{lines:?}");
}

#[tokio::test]
async fn a_malformed_bind_address_fails_naming_the_setting() {
    let app = TestApp::spawn().await;
    let url = app.database_url();

    let out = portico(
        &[
            ("DATABASE_URL", url.as_str()),
            ("PORTICO_BIND", "localhost-port-eighty"),
            ("PORTICO_BASE_URL", "http://portico.test"),
            ("PORTICO_SMTP_URL", "log"),
            ("PORTICO_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ],
        &["serve"],
    )
    .await;

    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("PORTICO_BIND"), "{lines:?}");
}

#[tokio::test]
async fn demo_refuses_to_listen_beyond_loopback_without_public() {
    let out = portico(
        &[
            ("PORTICO_BIND", "0.0.0.0:0"),
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
        ],
        &["demo"],
    )
    .await;
    assert!(!out.status.success());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("PORTICO_BIND") && lines[0].contains("--public"),
        "{lines:?}"
    );
    assert!(stdout(&out).is_empty());
}

#[tokio::test]
async fn token_create_scim_prints_a_scim_token_that_opens_only_the_tenants_scim_base() {
    let app = TestApp::spawn().await;
    create_acme(&app).await;

    let out = portico_on(&app, &["token", "create", "--tenant", "acme", "--scim"]).await;

    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    let token = text.lines().last().unwrap_or_default().trim().to_string();
    assert!(token.starts_with("pscim_"), "{text}");
    let (status, list) = app.get(&token, "/scim/v2/acme/Users").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let (status, _) = app.get(&token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refused = portico_on(
        &app,
        &[
            "token",
            "create",
            "--tenant",
            "acme",
            "--scim",
            "--email",
            "a@acme.test",
        ],
    )
    .await;
    assert!(!refused.status.success(), "--scim takes no --email");
}

#[tokio::test]
async fn demo_with_oidc_signs_demo_people_in_through_the_local_provider() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let app = TestApp::spawn().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let bind = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["demo", "--oidc"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("DATABASE_URL", app.database_url())
        .env("PORTICO_BIND", &bind)
        .env("PORTICO_DATA_DIR", crate::helpers::browser::tempdir())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run portico demo --oidc");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut issuer = None;
    let started = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("a line") {
            if let Some(rest) = line.strip_prefix("Sign-in through the local identity provider (") {
                issuer = rest.split(')').next().map(str::to_string);
            }
            if line.starts_with("Press Ctrl-C") {
                return;
            }
        }
        panic!("the demo stopped before it was ready");
    })
    .await;
    assert!(started.is_ok(), "the demo was not ready within 120 s");
    let issuer = issuer.expect("the demo names its provider");

    let base = format!("http://{bind}");
    let browser = crate::helpers::oidc::TestIdp::http_client();
    let callback = crate::helpers::oidc::sign_in_through(
        &issuer,
        &browser,
        &format!("{base}/t/contoso/oidc/start"),
        "adele@contoso.example",
    )
    .await;
    let done = browser.get(&callback).send().await.expect("callback");
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let home = browser
        .get(format!("{base}/t/contoso/"))
        .send()
        .await
        .expect("home")
        .text()
        .await
        .expect("page");
    assert!(home.contains("Adele Vance"), "{home}");
    child.start_kill().ok();
}
