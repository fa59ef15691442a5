//! The yardstick: PostgreSQL's own `pgbench` (TPC-B-like: five statements in a
//! transaction) on the same server in the same run, so that every figure of the run can
//! be read as a ratio to what the database itself does on this machine today.

use std::process::Command;

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;

use crate::server::recreate_database;

/// What `pgbench -c CLIENTS -j 2 -T SECONDS` reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pgbench {
    pub(crate) tps: f64,
    pub(crate) latency_ms: f64,
    pub(crate) clients: u32,
    pub(crate) scale: u32,
    pub(crate) seconds: u64,
}

/// Initialises a `pgbench` database of `scale` next to the bench's own and runs the
/// TPC-B-like script with `clients` clients and two threads for `seconds`.
pub(crate) async fn run(
    admin: &PgConnectOptions,
    database: &str,
    scale: u32,
    clients: u32,
    seconds: u64,
) -> anyhow::Result<Pgbench> {
    recreate_database(admin, database).await?;
    let env = [
        ("PGHOST", admin.get_host().to_string()),
        ("PGPORT", admin.get_port().to_string()),
        ("PGUSER", admin.get_username().to_string()),
        ("PGDATABASE", database.to_string()),
    ];
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", &scale.to_string()])
        .envs(env.clone())
        .output()
        .context("running pgbench -i (pgbench comes with PostgreSQL's client tools)")?;
    if !init.status.success() {
        bail!(
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
    }
    // The run starts from a clean state: the initialisation's dirty pages written out.
    let mut conn =
        <sqlx::PgConnection as sqlx::Connection>::connect_with(&admin.clone().database(database))
            .await?;
    sqlx::query("checkpoint").execute(&mut conn).await?;
    let out = Command::new("pgbench")
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
        ])
        .envs(env)
        .output()
        .context("running pgbench")?;
    if !out.status.success() {
        bail!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = figure(&text, "tps = ").context("pgbench printed no tps")?;
    let latency_ms = figure(&text, "latency average = ").unwrap_or(0.0);
    Ok(Pgbench {
        tps,
        latency_ms,
        clients,
        scale,
        seconds,
    })
}

/// The number after `label` on the first line that has it.
fn figure(text: &str, label: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.split_once(label))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::figure;

    #[test]
    fn reads_pgbench_output() {
        let out = "number of failed transactions: 0 (0.000%)\nlatency average = 3.312 ms\ninitial connection time = 12.003 ms\ntps = 2415.602178 (without initial connection time)\n";
        assert_eq!(figure(out, "tps = "), Some(2415.602178));
        assert_eq!(figure(out, "latency average = "), Some(3.312));
        assert_eq!(figure("nothing", "tps = "), None);
    }
}
