//! The bench's surroundings: its own database, a free port, the `portico serve` child
//! process and its readiness and peak memory.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::Args;

pub(crate) async fn recreate_database(
    admin: &PgConnectOptions,
    name: &str,
) -> anyhow::Result<PgConnectOptions> {
    let mut conn = PgConnection::connect_with(&admin.clone().database("postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(&mut conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(admin.clone().database(name))
}

pub(crate) fn database_url(url: &str, name: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("DATABASE_URL")?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) fn start_server(
    args: &Args,
    db_url: &str,
    port: u16,
    smtp_port: u16,
    extra_env: &[(&str, String)],
) -> anyhow::Result<Child> {
    let binary = match &args.portico {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join("portico"))
            .context("locating the portico binary")?,
    };
    Command::new(&binary)
        .arg("serve")
        .env("DATABASE_URL", db_url)
        .env("PORTICO_BIND", format!("127.0.0.1:{port}"))
        .env("PORTICO_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("PORTICO_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
        .env("PORTICO_MAIL_FROM", "portico@bench.test")
        .env("PORTICO_SMTP_CONNECTIONS", "32")
        .env(
            "PORTICO_SECRET_KEY",
            "benchmark-secret-key-0123456789abcdef",
        )
        .env("PORTICO_SCHEDULER_INTERVAL_MS", "200")
        // The connector scenario's webhook receiver and SCIM target are on this machine.
        .env("PORTICO_WEBHOOK_ALLOW_PRIVATE", "true")
        // Block managers' tokens approve whole blocks; the run measures throughput,
        // not the per-token API limit.
        .env("PORTICO_API_RATE_PER_SECOND", "1000000")
        .env("PORTICO_API_BURST", "1000000")
        // The bulk scenario times one long call; the report says whether it fits in the
        // default 30 s deadline rather than the deadline cutting it short.
        .env("PORTICO_REQUEST_TIMEOUT_SECONDS", "600")
        .env("RUST_LOG", "error")
        .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

pub(crate) async fn wait_ready(base: &str) -> anyhow::Result<()> {
    for _ in 0..300 {
        if reqwest::get(format!("{base}/readyz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the server did not become ready")
}

/// VmHWM of a process, in MB.
pub(crate) fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM:")
}

/// VmRSS of a process now, in MB.
pub(crate) fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
