//! `portico-bench`: Portico's own benchmark. It builds a tenant of a chosen size with
//! set-based SQL, starts `portico serve` on it as a child process, drives it over HTTP
//! with N concurrent clients, and reports throughput and latency percentiles per
//! scenario, the database ceiling for the equivalent SQL, and the server's peak RSS.
//! See BENCHMARKS.md.
//!
//! The modules: `server` (the database and the server process), `seed` (the generated
//! tenant), `scenarios` (what is measured), `load` (the workers that drive the server),
//! `ceiling` (the database's own limit for the writes), `report` (the table and JSON)
//! and `sink` (the SMTP server that receives the emails).

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use sqlx::postgres::PgConnectOptions;

mod ceiling;
mod load;
mod pgbench;
mod report;
mod scenarios;
mod seed;
mod server;
mod sink;
mod wire;

use scenarios::run_scenarios;
use seed::generate;
use server::{database_url, free_port, peak_rss_mb, recreate_database, start_server, wait_ready};

#[derive(Debug, Parser, Clone)]
#[command(
    name = "portico-bench",
    about = "Load and latency benchmark of a Portico server"
)]
struct Args {
    /// PostgreSQL server to use; the bench creates (and replaces) the database `--database-name` on it.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The database the bench creates (replacing it) and runs on.
    #[arg(long, default_value = "portico_bench")]
    database_name: String,
    #[arg(long, default_value_t = 100_000)]
    users: i64,
    #[arg(long, default_value_t = 10_000)]
    packages: i64,
    #[arg(long, default_value_t = 1_000_000)]
    assignments: i64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds each HTTP scenario runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Assignments ending at the same moment in the expiry scenario.
    #[arg(long, default_value_t = 20_000)]
    expiring: i64,
    /// Emails queued at once in the email-delivery scenario.
    #[arg(long, default_value_t = 5_000)]
    emails: i64,
    /// Direct assignments delivered through each connector (webhook, then SCIM).
    #[arg(long, default_value_t = 2_000)]
    connector_grants: usize,
    /// Users pushed by the `scim-sync` scenario.
    #[arg(long, default_value_t = 10_000)]
    scim_users: usize,
    /// Groups pushed by the `scim-sync` scenario (20 members each).
    #[arg(long, default_value_t = 1_000)]
    scim_groups: usize,
    /// Concurrent SCIM clients of the `scim-sync` scenario.
    #[arg(long, default_value_t = 8)]
    scim_clients: usize,
    /// People assigned in one call by the `bulk` scenario.
    #[arg(long, default_value_t = 10_000)]
    bulk_rows: usize,
    /// Active assignments of the policy whose access review the `review` scenario
    /// starts and applies (at most `--users`).
    #[arg(long, default_value_t = 100_000)]
    review_assignments: i64,
    /// Which scenarios run: all of them; only `scim-sync` or `bulk` (no generated tenant);
    /// or, on the generated tenant, only `requests` (submit and approve), `reads` (lists and
    /// the catalog page), `background` (emails and expiry), `review` (an access review
    /// started and applied by the scheduler) or `replicas` (a second server on the same
    /// database).
    #[arg(long, value_enum, default_value_t = Only::All)]
    only: Only,
    /// pgbench's clients (`pgbench -c N -j 2 -T S`, TPC-B-like), the run's yardstick.
    #[arg(long, default_value_t = 8)]
    pgbench_clients: u32,
    /// pgbench's seconds.
    #[arg(long, default_value_t = 15)]
    pgbench_seconds: u64,
    /// pgbench's scale (`pgbench -i -s N`).
    #[arg(long, default_value_t = 10)]
    pgbench_scale: u32,
    /// A tiny run that only proves the tool works (CI).
    #[arg(long)]
    smoke: bool,
    /// The portico binary to start (default: next to this one).
    #[arg(long)]
    portico: Option<PathBuf>,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Only {
    All,
    ScimSync,
    Bulk,
    Requests,
    Reads,
    Background,
    Review,
    Replicas,
}

impl Only {
    /// Whether the scenarios on the generated tenant named `group` run.
    fn runs(self, group: Only) -> bool {
        self == Only::All || self == group
    }
}

const TENANT: &str = "bench";
/// Concurrent clients of the catalog page's latency run.
const BROWSING_CLIENTS: usize = 4;
/// Users form blocks of this size; the first user of a block manages the others.
const BLOCK: i64 = 20;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.users = 2_000;
        args.packages = 200;
        args.assignments = 10_000;
        args.clients = 4;
        args.seconds = 1;
        args.expiring = 500;
        args.emails = 100;
        args.connector_grants = 20;
        args.scim_users = 50;
        args.scim_groups = 5;
        args.scim_clients = 4;
        args.bulk_rows = 200;
        args.pgbench_seconds = 2;
        args.pgbench_scale = 1;
        args.review_assignments = 500;
    }
    let admin = PgConnectOptions::from_str(&args.database_url).context("DATABASE_URL")?;
    let db = recreate_database(&admin, &args.database_name).await?;
    let pool = portico::db::connect(db.clone(), 40).await?;
    portico::db::migrate(&pool).await?;

    let started = Instant::now();
    let data = match args.only {
        Only::ScimSync | Only::Bulk => None,
        _ => Some(generate(&pool, &args).await?),
    };
    let generation = started.elapsed();
    if data.is_some() {
        println!(
            "generated {} users, {} packages, {} assignments in {:.1} s",
            args.users,
            args.packages,
            args.assignments,
            generation.as_secs_f64()
        );
        sqlx::query("analyze").execute(&pool).await?;
    }

    // The yardstick, on the same PostgreSQL, before the server starts.
    let pg = pgbench::run(
        &admin,
        &format!("{}_pgbench", args.database_name),
        args.pgbench_scale,
        args.pgbench_clients,
        args.pgbench_seconds,
    )
    .await?;
    println!(
        "pgbench -c {} -j 2 -T {} (scale {}): {:.0} tps",
        pg.clients, pg.seconds, pg.scale, pg.tps
    );

    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let db_url = database_url(&args.database_url, &args.database_name)?;
    let (smtp_port, mail) = sink::start().await?;
    let mut server = start_server(&args, &db_url, port, smtp_port, &[])?;
    wait_ready(&base).await?;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    let mut report = Vec::new();
    let mut counted = Vec::new();
    let mut notes = Vec::new();
    let result = async {
        if let Some(data) = &data {
            run_scenarios(
                &args,
                &pool,
                &client,
                &base,
                data,
                &mail,
                server.id(),
                &mut report,
            )
            .await?;
            if args.only.runs(Only::Requests) {
                counted = scenarios::statements::run(
                    &args, &admin, &db_url, smtp_port, &pool, &client, data, &mail,
                )
                .await?;
            }
            if args.only.runs(Only::Replicas) {
                scenarios::replicas::run(
                    &args,
                    &pool,
                    &client,
                    &base,
                    &db_url,
                    smtp_port,
                    data,
                    &mail,
                    &mut report,
                    &mut notes,
                )
                .await?;
            }
        }
        if args.only.runs(Only::ScimSync) {
            scenarios::scim_sync::run(&args, &pool, &client, &base, &mut report).await?;
        }
        if args.only.runs(Only::Bulk) {
            scenarios::bulk::run(&args, &pool, &client, &base, &mut report).await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let peak_rss_mb = peak_rss_mb(server.id());
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    if let Err(e) = &result {
        // What was measured before the failure is still worth reading.
        eprintln!("the run stopped: {e}");
    }

    report::print(&report, &counted, &notes, Some(pg), peak_rss_mb, generation);
    if let Some(path) = &args.json {
        report::write_json(
            path,
            &report,
            &counted,
            &notes,
            Some(pg),
            peak_rss_mb,
            generation,
            &args,
        )?;
    }
    pool.close().await;
    result
}
