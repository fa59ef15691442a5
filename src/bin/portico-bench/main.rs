//! `portico-bench`: Portico's own benchmark. It builds a tenant of a chosen size with
//! set-based SQL, starts `portico serve` on it as a child process, drives it over HTTP
//! with N concurrent clients, and reports throughput and latency percentiles per
//! scenario, the database ceiling for the equivalent SQL, and the server's peak RSS.
//! See BENCHMARKS.md.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

mod sink;

#[derive(Debug, Parser, Clone)]
#[command(
    name = "portico-bench",
    about = "Load and latency benchmark of a Portico server"
)]
struct Args {
    /// PostgreSQL server to use; the bench creates (and replaces) the database `portico_bench` on it.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
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
    }
    let admin = PgConnectOptions::from_str(&args.database_url).context("DATABASE_URL")?;
    let db = recreate_database(&admin, "portico_bench").await?;
    let pool = portico::db::connect(db.clone(), 40).await?;
    portico::db::migrate(&pool).await?;

    let started = Instant::now();
    let data = generate(&pool, &args).await?;
    let generation = started.elapsed();
    println!(
        "generated {} users, {} packages, {} assignments in {:.1} s",
        args.users,
        args.packages,
        args.assignments,
        generation.as_secs_f64()
    );
    sqlx::query("analyze").execute(&pool).await?;

    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let db_url = database_url(&args.database_url, "portico_bench")?;
    let (smtp_port, mail) = sink::start().await?;
    let mut server = start_server(&args, &db_url, port, smtp_port)?;
    wait_ready(&base).await?;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    let mut report = Vec::new();
    let result = run_scenarios(&args, &pool, &client, &base, &data, &mail, &mut report).await;
    let peak_rss_mb = peak_rss_mb(server.id());
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.id().to_string())
        .status();
    let _ = server.wait();
    result?;

    println!();
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>9} {:>12} {:>8}",
        "scenario", "ops/s", "p50 ms", "p95 ms", "p99 ms", "ceiling/s", "ratio"
    );
    for r in &report {
        println!(
            "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>12} {:>8}",
            r.name,
            r.throughput,
            r.p50,
            r.p95,
            r.p99,
            r.ceiling.map_or("-".into(), |c| format!("{c:.0}")),
            r.ceiling
                .map_or("-".into(), |c| format!("{:.0} %", 100.0 * r.throughput / c)),
        );
    }
    println!("server peak RSS: {peak_rss_mb:.1} MB");
    println!("data generation: {:.1} s", generation.as_secs_f64());
    if let Some(path) = &args.json {
        let rows: Vec<Value> = report
            .iter()
            .map(|r| json!({"scenario": r.name, "throughput": r.throughput, "p50Ms": r.p50, "p95Ms": r.p95, "p99Ms": r.p99, "ceiling": r.ceiling}))
            .collect();
        std::fs::write(
            path,
            serde_json::to_string_pretty(
                &json!({"scenarios": rows, "peakRssMb": peak_rss_mb, "generationSeconds": generation.as_secs_f64(),
                "users": args.users, "packages": args.packages, "assignments": args.assignments, "clients": args.clients}),
            )?,
        )?;
    }
    pool.close().await;
    Ok(())
}

struct Row {
    name: String,
    throughput: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    ceiling: Option<f64>,
}

/// What the generated tenant holds that scenarios need.
struct Data {
    tenant: Uuid,
    /// (user id, token) of requesting users, `clients` × users_per_client of them.
    requesters: Vec<(i64, String)>,
    /// token of each block manager, by block.
    managers: std::collections::HashMap<i64, String>,
    user_ids: Vec<Uuid>,
    package_ids: Vec<Uuid>,
    /// Browser session cookies of requesters (for the HTML pages).
    sessions: Vec<String>,
}

async fn recreate_database(
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

fn database_url(url: &str, name: &str) -> anyhow::Result<String> {
    let mut parsed = url::Url::parse(url).context("DATABASE_URL")?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.to_string())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_server(args: &Args, db_url: &str, port: u16, smtp_port: u16) -> anyhow::Result<Child> {
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
        // Block managers' tokens approve whole blocks; the run measures throughput,
        // not the per-token API limit.
        .env("PORTICO_API_RATE_PER_SECOND", "1000000")
        .env("PORTICO_API_BURST", "1000000")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}

async fn wait_ready(base: &str) -> anyhow::Result<()> {
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
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Builds the tenant with set-based SQL.
async fn generate(pool: &PgPool, args: &Args) -> anyhow::Result<Data> {
    let now = chrono::Utc::now();
    let input = portico::services::tenants::NewTenant {
        slug: portico::domain::values::Slug::parse(TENANT).map_err(|e| anyhow::anyhow!(e))?,
        display_name: portico::domain::values::DisplayName::parse("Bench")
            .map_err(|e| anyhow::anyhow!(e))?,
        admin_email: portico::domain::values::EmailAddress::parse("admin@bench.test")
            .map_err(|e| anyhow::anyhow!(e))?,
    };
    let (tenant, _) = portico::services::tenants::create(pool, input, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let t = tenant.id.0;
    let mut conn = pool.acquire().await?;
    // Bulk load: the rows are consistent by construction, so foreign-key triggers are
    // skipped for this session (it needs a superuser) and commits are not waited for.
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await?;
    sqlx::query("set synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "create or replace function pg_temp.uuid7(ms bigint) returns uuid language sql as $$
           select (lpad(to_hex(ms), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid $$",
    )
    .execute(&mut *conn)
    .await?;
    let base_ms: i64 = now.timestamp_millis() - 10_000_000;
    let catalog: Uuid = sqlx::query_scalar("select id from catalogs where tenant_id = $1")
        .bind(t)
        .fetch_one(&mut *conn)
        .await?;
    // Users, each block of BLOCK managed by its first user.
    sqlx::query(
        "create temp table bench_users as
         select i, pg_temp.uuid7($2 + i) as id from generate_series(0, $1 - 1) i",
    )
    .bind(args.users)
    .bind(base_ms)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into users (tenant_id, id, email, display_name, department, job_title, manager_id, kind, active, created_at, updated_at)
         select $1, u.id, 'user' || u.i || '@bench.test', 'User ' || u.i, 'Dept ' || (u.i % 50), 'Engineer',
                null, 'member', true, now(), now()
         from bench_users u order by u.i",
    )
    .bind(t)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update users set manager_id = m.id from bench_users u, bench_users m
         where users.tenant_id = $1 and users.id = u.id and u.i % $2 <> 0 and m.i = u.i - u.i % $2",
    )
    .bind(t)
    .bind(BLOCK)
    .execute(&mut *conn)
    .await?;
    // Packages: one group each; even packages need no approval, odd ones the manager's.
    sqlx::query(
        "create temp table bench_packages as
         select i, pg_temp.uuid7($2 + i) as id, pg_temp.uuid7($2 + i) as group_id, pg_temp.uuid7($2 + i) as resource_id,
                pg_temp.uuid7($2 + i) as member_role, pg_temp.uuid7($2 + i) as owner_role, pg_temp.uuid7($2 + i) as policy_id
         from generate_series(0, $1 - 1) i",
    )
    .bind(args.packages)
    .bind(base_ms + args.users)
    .execute(&mut *conn)
    .await?;
    let words = "'Windows 11 Testing','Finance Reports','Sales CRM','Design Tools','Build Servers','HR Portal','Data Lake','Support Desk'";
    let statements = [
        "insert into groups (tenant_id, id, display_name, description, created_at, updated_at)
         select $1, group_id, 'Group ' || i, '', now(), now() from bench_packages".to_string(),
        "insert into resources (tenant_id, id, catalog_id, kind, group_id, display_name, description, added_by_tenant_admin, created_at, updated_at)
         select $1, resource_id, $2, 'group', group_id, 'Group ' || i, '', true, now(), now() from bench_packages".to_string(),
        "insert into resource_roles (tenant_id, id, resource_id, display_name, group_relation, created_at)
         select $1, member_role, resource_id, 'Member', 'member', now() from bench_packages
         union all select $1, owner_role, resource_id, 'Owner', 'owner', now() from bench_packages".to_string(),
        format!("insert into access_packages (tenant_id, id, catalog_id, display_name, description, hidden, created_at, updated_at)
         select $1, id, $2, (array[{words}])[1 + i % 8] || ' ' || i, 'Access package number ' || i || ' for benchmarking.', false, now(), now()
         from bench_packages"),
        "insert into access_package_roles (tenant_id, package_id, resource_role_id, created_at)
         select $1, id, member_role, now() from bench_packages".to_string(),
        "insert into policies (tenant_id, id, package_id, display_name, settings, created_at, updated_at)
         select $1, policy_id, id, 'Employees', case when i % 2 = 0 then $2::jsonb else $3::jsonb end, now(), now() from bench_packages".to_string(),
    ];
    let direct = json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterDays", "days": 365}});
    let staged = json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterDays", "days": 365},
                        "approval": {"stages": [{"approvers": [{"type": "manager"}], "timeoutDays": 14}]}});
    for sql in statements {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(t);
        if sql.contains("$3::jsonb") {
            q = q.bind(&direct).bind(&staged);
        } else if sql.contains("$2") {
            q = q.bind(catalog);
        }
        q.execute(&mut *conn)
            .await
            .with_context(|| sql.chars().take(40).collect::<String>())?;
    }
    // Assignments: user u holds packages (u + k × step) mod P for k < per_user.
    let per_user = (args.assignments / args.users).max(1);
    let step = (args.packages / (per_user + 1)).max(1);
    sqlx::query(
        "create temp table bench_assignments as
         select u.i as ui, u.id as user_id, k, p.id as package_id, p.policy_id, p.group_id, p.member_role,
                pg_temp.uuid7($4 + u.i * $1 + k) as id, pg_temp.uuid7($4 + u.i * $1 + k) as request_id
         from bench_users u cross join generate_series(0, $1 - 1) k
         join bench_packages p on p.i = (u.i + k * $2) % $3
         where u.i * $1 + k < $5",
    )
    .bind(per_user)
    .bind(step)
    .bind(args.packages)
    .bind(base_ms + args.users + args.packages)
    .bind(args.assignments)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id, target_user_id,
             assignment_id, answers, schedule_start, created_at, updated_at, completed_at)
         select $1, request_id, 'adminAdd', 'delivered', package_id, policy_id, null, user_id, id, '[]', now(), now(), now(), now()
         from bench_assignments;
         ",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("requests")?;
    sqlx::query(
        "insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at, request_id, created_at, updated_at)
         select $1, id, package_id, policy_id, user_id, 'delivered', now(), now() + interval '365 days', request_id, now(), now()
         from bench_assignments",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("assignments")?;

    sqlx::query(
        "insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, updated_at)
         select $1, id, member_role, 'delivered', now() from bench_assignments",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("grants")?;
    sqlx::query(
        "insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at)
         select $1, group_id, user_id, id, now() from bench_assignments",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("memberships")?;

    // Tokens: requesters are non-managers of the first blocks; their managers too.
    let per_client = 8usize;
    let wanted = args.clients * per_client;
    let mut requesters = Vec::new();
    let mut managers = std::collections::HashMap::new();
    let mut token_rows: Vec<(Uuid, Vec<u8>)> = Vec::new();
    let user_ids: Vec<Uuid> = sqlx::query_scalar("select id from bench_users order by i")
        .fetch_all(&mut *conn)
        .await?;
    let mut i: i64 = 0;
    while requesters.len() < wanted && i < args.users {
        let token = format!("ptc_bench{}", Uuid::new_v4().simple());
        let hash = portico::services::tokens::hash(&token);
        let uid = user_ids[usize::try_from(i)?];
        token_rows.push((uid, hash));
        if i % BLOCK == 0 {
            managers.insert(i / BLOCK, token);
        } else {
            requesters.push((i, token));
        }
        i += 1;
    }
    let (ids, hashes): (Vec<Uuid>, Vec<Vec<u8>>) = token_rows.into_iter().unzip();
    sqlx::query(
        "insert into api_tokens (tenant_id, id, user_id, name, token_hash, created_at)
         select $1, gen_random_uuid(), u, 'bench', h, now() from unnest($2::uuid[], $3::bytea[]) as x(u, h)",
    )
    .bind(t)
    .bind(&ids)
    .bind(&hashes)
    .execute(&mut *conn)
    .await?;
    let package_ids: Vec<Uuid> = sqlx::query_scalar("select id from bench_packages order by i")
        .fetch_all(&mut *conn)
        .await?;
    // Browser sessions for the portal pages: one per requester.
    let mut sessions = Vec::new();
    let (mut session_users, mut session_hashes) = (Vec::new(), Vec::new());
    for (i, _) in &requesters {
        let token = Uuid::new_v4().simple().to_string();
        session_hashes.push(portico::services::links::hash(&token));
        session_users.push(user_ids[usize::try_from(*i)?]);
        sessions.push(token);
    }
    sqlx::query(
        "insert into sessions (tenant_id, id, user_id, token_hash, csrf_token, method, created_at, last_seen_at, expires_at)
         select $1, gen_random_uuid(), u, h, md5(random()::text), 'dev', now(), now(), now() + interval '1 day'
         from unnest($2::uuid[], $3::bytea[]) as x(u, h)",
    )
    .bind(t)
    .bind(&session_users)
    .bind(&session_hashes)
    .execute(&mut *conn)
    .await?;
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await?;
    Ok(Data {
        sessions,
        tenant: t,
        requesters,
        managers,
        user_ids,
        package_ids,
    })
}

/// Latencies (µs) of one scenario, from every client.
struct Samples {
    latencies: Vec<u64>,
    elapsed: Duration,
}

impl Samples {
    fn row(mut self, name: &str, ceiling: Option<f64>) -> Row {
        self.latencies.sort_unstable();
        let pct = |p: f64| {
            if self.latencies.is_empty() {
                return 0.0;
            }
            let idx = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies[idx] as f64 / 1000.0
        };
        Row {
            name: name.into(),
            throughput: self.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            p50: pct(0.50),
            p95: pct(0.95),
            p99: pct(0.99),
            ceiling,
        }
    }
}

/// One unit of work: returns Ok(()) when the server answered as expected.
type Work = Box<
    dyn FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>
        + Send,
>;

/// Runs `clients` workers for `seconds` (or until every worker's work runs out).
async fn drive(workers: Vec<Work>, seconds: u64) -> anyhow::Result<Samples> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut handles = Vec::new();
    for mut work in workers {
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                match work().await {
                    Ok(()) => lat.push(t0.elapsed().as_micros() as u64),
                    Err(e) if e.to_string() == "exhausted" => break,
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await??);
    }
    Ok(Samples {
        latencies,
        elapsed: started.elapsed(),
    })
}

fn exhausted() -> anyhow::Error {
    anyhow::anyhow!("exhausted")
}

async fn expect_status(res: reqwest::Response, want: u16) -> anyhow::Result<Value> {
    let status = res.status().as_u16();
    let text = res.text().await?;
    if status != want {
        bail!(
            "expected {want}, got {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[allow(clippy::too_many_arguments)]
async fn run_scenarios(
    args: &Args,
    pool: &PgPool,
    client: &reqwest::Client,
    base: &str,
    data: &Data,
    mail: &sink::Sink,
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let per_user = (args.assignments / args.users).max(1);
    let step = (args.packages / (per_user + 1)).max(1);
    // Packages a user does not hold: user u holds u + k × step (mod P), so the offsets
    // strictly between 0 and step are free; each scenario takes one parity.
    let free_packages = |user: i64, parity: i64| -> Vec<Uuid> {
        (1..step)
            .map(|o| (user + o) % args.packages)
            .filter(|p| p % 2 == parity)
            .filter_map(|p| data.package_ids.get(usize::try_from(p).ok()?).copied())
            .collect()
    };
    let chunks: Vec<Vec<(i64, String)>> = data
        .requesters
        .chunks(data.requesters.len().div_ceil(args.clients).max(1))
        .map(|c| c.to_vec())
        .collect();

    // 1. Submit, no approval (delivered in the submitting transaction).
    let mut workers: Vec<Work> = Vec::new();
    for chunk in chunks.clone() {
        let client = client.clone();
        let base = base.to_string();
        let free = chunk
            .iter()
            .flat_map(|(u, tok)| {
                free_packages(*u, 0)
                    .into_iter()
                    .map(move |p| (p, tok.clone()))
            })
            .collect::<Vec<_>>();
        let free = Arc::new(std::sync::Mutex::new(free.into_iter()));
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let next = free.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let (package, token) = next.ok_or_else(exhausted)?;
                let res = client
                    .post(format!("{base}/api/v1/assignmentRequests"))
                    .bearer_auth(&token)
                    .json(&json!({"requestType": "userAdd", "accessPackageId": package}))
                    .send()
                    .await?;
                let body = expect_status(res, 201).await?;
                if body["state"] != "delivered" {
                    bail!("not delivered: {body}");
                }
                Ok(())
            })
        }));
    }
    let submit_ceiling = ceiling(pool, data, args, Ceiling::Submit).await?;
    report.push(
        drive(workers, args.seconds)
            .await?
            .row("submit (no approval)", Some(submit_ceiling)),
    );

    // 2. Submit, one approval stage (answer: pendingApproval); keeps the ids for step 3.
    let pending = Arc::new(std::sync::Mutex::new(Vec::<(String, i64)>::new()));
    let mut workers: Vec<Work> = Vec::new();
    for chunk in chunks.clone() {
        let client = client.clone();
        let base = base.to_string();
        let free = chunk
            .iter()
            .flat_map(|(u, tok)| {
                free_packages(*u, 1)
                    .into_iter()
                    .map(move |p| (p, tok.clone(), *u))
            })
            .collect::<Vec<_>>();
        let free = Arc::new(std::sync::Mutex::new(free.into_iter()));
        let pending = pending.clone();
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let pending = pending.clone();
            let next = free.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let (package, token, user) = next.ok_or_else(exhausted)?;
                let res = client
                    .post(format!("{base}/api/v1/assignmentRequests"))
                    .bearer_auth(&token)
                    .json(&json!({"requestType": "userAdd", "accessPackageId": package}))
                    .send()
                    .await?;
                let body = expect_status(res, 201).await?;
                if body["state"] != "pendingApproval" {
                    bail!("not pending: {body}");
                }
                if let (Some(id), Ok(mut p)) = (body["id"].as_str(), pending.lock()) {
                    p.push((id.to_string(), user));
                }
                Ok(())
            })
        }));
    }
    report.push(
        drive(workers, args.seconds)
            .await?
            .row("submit (one approval stage)", None),
    );

    // 3. Approve through the emailed link: the managers' approval emails reach the SMTP
    //    sink; half of their Approve links are followed like a person would: open the
    //    page (GET, which decides nothing), then send its confirmation form (POST with
    //    the page's CSRF cookie and field). One operation is both requests.
    drain_emails(pool, Duration::from_secs(300)).await?;
    let mut links = mail.take_approve_links();
    links.truncate(links.len() / 2);
    let chunk_size = links.len().div_ceil(args.clients).max(1);
    let mut workers: Vec<Work> = Vec::new();
    for chunk in links.chunks(chunk_size) {
        let client = client.clone();
        let base = base.to_string();
        let owned: Vec<String> = chunk.to_vec();
        let items = Arc::new(std::sync::Mutex::new(owned.into_iter()));
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let next = items.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let url = next.ok_or_else(exhausted)?;
                approve_by_link(&client, &base, &url).await
            })
        }));
    }
    report.push(
        drive(workers, args.seconds)
            .await?
            .row("approve (emailed link form)", None),
    );

    // 4. Approve through the API: each request still pending, by the requester's manager.
    let all_pending: Vec<(String, i64)> =
        pending.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    let ids: Vec<Uuid> = all_pending
        .iter()
        .filter_map(|(id, _)| id.parse().ok())
        .collect();
    let still: std::collections::HashSet<Uuid> = sqlx::query_scalar(
        "select id from assignment_requests where tenant_id = $1 and id = any($2) and state = 'pendingApproval'",
    )
    .bind(data.tenant)
    .bind(&ids)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let to_approve: Vec<(String, String)> = all_pending
        .iter()
        .filter(|(id, _)| id.parse().is_ok_and(|u: Uuid| still.contains(&u)))
        .filter_map(|(id, user)| Some((id.clone(), data.managers.get(&(user / BLOCK))?.clone())))
        .collect();
    let mut workers: Vec<Work> = Vec::new();
    for chunk in to_approve.chunks(to_approve.len().div_ceil(args.clients).max(1)) {
        let client = client.clone();
        let base = base.to_string();
        let owned: Vec<(String, String)> = chunk.to_vec();
        let items = Arc::new(std::sync::Mutex::new(owned.into_iter()));
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let next = items.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let (id, token) = next.ok_or_else(exhausted)?;
                let res = client
                    .post(format!("{base}/api/v1/assignmentRequests/{id}/decision"))
                    .bearer_auth(&token)
                    .json(&json!({"decision": "approve"}))
                    .send()
                    .await?;
                let body = expect_status(res, 200).await?;
                if body["state"] != "delivered" {
                    bail!("not delivered: {body}");
                }
                Ok(())
            })
        }));
    }
    let approve_ceiling = ceiling(pool, data, args, Ceiling::Approve).await?;
    report.push(
        drive(workers, args.seconds.max(30))
            .await?
            .row("approve (API)", Some(approve_ceiling)),
    );

    // The read scenarios run without the emails of the writes above being sent beside them.
    drain_emails(pool, Duration::from_secs(600)).await?;

    // 5. List my requests. 6. Search the package list.
    for (name, paths) in [
        (
            "list my requests (API)",
            &["/api/v1/assignmentRequests?mine=true&limit=20"][..],
        ),
        (
            "search packages (API)",
            &[
                "/api/v1/accessPackages?search=windows&limit=20",
                "/api/v1/accessPackages?search=finance&limit=20",
                "/api/v1/accessPackages?search=crm&limit=20",
                "/api/v1/accessPackages?search=portal&limit=20",
            ][..],
        ),
    ] {
        let workers = api_reads(&chunks, client, base, paths);
        report.push(drive(workers, args.seconds).await?.row(name, None));
    }

    // 7. The catalog page of My Access (HTML), browsing and searching: saturated by all
    //    clients, and at a browsing load of a few people at once (its latency).
    for (clients, name) in [
        (args.clients, "catalog page (HTML)".to_string()),
        (
            BROWSING_CLIENTS.min(args.clients),
            format!(
                "catalog page, {} clients",
                BROWSING_CLIENTS.min(args.clients)
            ),
        ),
    ] {
        let mut workers: Vec<Work> = Vec::new();
        for c in 0..clients {
            let client = client.clone();
            let base = base.to_string();
            let cookie = format!(
                "portico_session={}",
                data.sessions[c % data.sessions.len().max(1)]
            );
            let mut n = 0usize;
            workers.push(Box::new(move || {
                let client = client.clone();
                let base = base.clone();
                let cookie = cookie.clone();
                let query = ["", "?q=windows", "?q=finance", "?q=crm 42"][n % 4];
                n += 1;
                Box::pin(async move {
                    let res = client
                        .get(format!("{base}/t/{TENANT}/packages{query}"))
                        .header("cookie", cookie)
                        .send()
                        .await?;
                    let status = res.status().as_u16();
                    let text = res.text().await?;
                    if status != 200 || !text.contains("<html") {
                        bail!("catalog page answered {status}");
                    }
                    Ok(())
                })
            }));
        }
        report.push(drive(workers, args.seconds).await?.row(&name, None));
    }

    // 8. Email delivery: K emails queued at once (access-delivered notices of existing
    //    requests); time until the SMTP sink has accepted all of them.
    drain_emails(pool, Duration::from_secs(600)).await?;
    let before = mail.received();
    let k = sqlx::query(
        "insert into outbox (tenant_id, id, kind, payload, next_attempt_at, created_at)
         select tenant_id, gen_random_uuid(), 'email',
                jsonb_build_object('to', target_user_id, 'notice', jsonb_build_object('template', 'accessDelivered', 'requestId', id)),
                now(), now()
         from assignment_requests where tenant_id = $1 and state = 'delivered' order by id limit $2",
    )
    .bind(data.tenant)
    .bind(args.emails)
    .execute(pool)
    .await?
    .rows_affected();
    let t0 = Instant::now();
    while mail.received() < before + k {
        if t0.elapsed() > Duration::from_secs(600) {
            bail!(
                "the emails were not delivered within 10 minutes ({} of {k})",
                mail.received() - before
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    report.push(Row {
        name: format!("emails ({k} queued, SMTP)"),
        throughput: k as f64 / took.as_secs_f64(),
        p50: took.as_secs_f64() * 1000.0,
        p95: took.as_secs_f64() * 1000.0,
        p99: took.as_secs_f64() * 1000.0,
        ceiling: None,
    });

    // 9. Expiry: K assignments end at the same moment; time until all are revoked.
    let k = args.expiring.min(args.assignments);
    let ends_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    sqlx::query(
        "update assignments set end_at = $3 where tenant_id = $1 and id in (
             select id from assignments where tenant_id = $1 and state = 'delivered' order by id limit $2)",
    )
    .bind(data.tenant)
    .bind(k)
    .bind(ends_at)
    .execute(pool)
    .await?;
    let wait = (ends_at - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let t0 = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar(
            "select count(*) from assignments where tenant_id = $1 and end_at = $2 and state <> 'expired'",
        )
        .bind(data.tenant)
        .bind(ends_at)
        .fetch_one(pool)
        .await?;
        if left == 0 {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("expiry did not finish within 10 minutes ({left} left)");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    report.push(Row {
        name: format!("expiry ({k} at once)"),
        throughput: k as f64 / took.as_secs_f64(),
        p50: took.as_secs_f64() * 1000.0,
        p95: took.as_secs_f64() * 1000.0,
        p99: took.as_secs_f64() * 1000.0,
        ceiling: None,
    });
    Ok(())
}

/// Workers that each cycle through their requesters' tokens, GETting `paths` in turn.
fn api_reads(
    chunks: &[Vec<(i64, String)>],
    client: &reqwest::Client,
    base: &str,
    paths: &'static [&'static str],
) -> Vec<Work> {
    let mut workers: Vec<Work> = Vec::new();
    for chunk in chunks.iter().cloned() {
        let client = client.clone();
        let base = base.to_string();
        let mut n = 0usize;
        workers.push(Box::new(move || {
            let client = client.clone();
            let url = format!("{base}{}", paths[n % paths.len()]);
            let token = chunk[n % chunk.len()].1.clone();
            n += 1;
            Box::pin(async move {
                let res = client.get(url).bearer_auth(&token).send().await?;
                expect_status(res, 200).await?;
                Ok(())
            })
        }));
    }
    workers
}

/// Waits until no email is waiting in the outbox.
async fn drain_emails(pool: &PgPool, limit: Duration) -> anyhow::Result<()> {
    let t0 = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar(
            "select count(*) from outbox where kind = 'email' and state = 'pending'",
        )
        .fetch_one(pool)
        .await?;
        if left == 0 {
            return Ok(());
        }
        if t0.elapsed() > limit {
            bail!("{left} emails still queued after {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens an emailed Approve link and sends its confirmation form.
async fn approve_by_link(client: &reqwest::Client, base: &str, url: &str) -> anyhow::Result<()> {
    let page = client.get(url).send().await?;
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|c| c.starts_with("portico_csrf="))
        })
        .map(str::to_string)
        .context("the link page set no CSRF cookie")?;
    let status = page.status().as_u16();
    let html = page.text().await?;
    if status != 200 {
        bail!("link page answered {status}");
    }
    let field = "name=\"csrf_token\" value=\"";
    let csrf = html
        .split_once(field)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| value.to_string())
        .context("the link page has no CSRF field")?;
    let res = client
        .post(url)
        .header("cookie", cookie)
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={csrf}&justification="))
        .send()
        .await?;
    let status = res.status().as_u16();
    let html = res.text().await?;
    if status != 200 || !html.contains("Decision recorded") {
        bail!("link form answered {status}");
    }
    Ok(())
}

/// Which writes a ceiling measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ceiling {
    /// A no-approval submission: the delivery's rows.
    Submit,
    /// An approval that completes the last stage: the decision's bookkeeping, then the
    /// same delivery rows.
    Approve,
}

/// The database ceiling: the rows a scenario writes, issued directly (no HTTP, no
/// reads beyond the lock) by `clients` connections for up to 5 seconds.
async fn ceiling(pool: &PgPool, data: &Data, args: &Args, kind: Ceiling) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(args.seconds.min(5));
    let started = Instant::now();
    let tenant = data.tenant;
    let clients = args.clients;
    let mut handles = Vec::new();
    for c in 0..clients {
        let pool = pool.clone();
        let users = data.user_ids.clone();
        let packages = data.package_ids.clone();
        handles.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut i = c;
            while Instant::now() < deadline {
                let user = users[users.len() - 1 - i % users.len()];
                let package = packages[(i * 7) % packages.len()];
                i += clients;
                let mut tx = pool.begin().await?;
                sqlx::query("select 1 from users where tenant_id = $1 and id = $2 for update")
                    .bind(tenant)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                if kind == Ceiling::Approve {
                    decision_writes(&mut tx, tenant, user).await?;
                }
                delivery_writes(&mut tx, tenant, user, package).await?;
                tx.commit().await?;
                n += 1;
            }
            Ok::<_, anyhow::Error>(n)
        }));
    }
    let mut total = 0u64;
    for h in handles {
        total += h.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Request, assignment, grant, membership, two audit events and an email row.
async fn delivery_writes(
    tx: &mut PgConnection,
    tenant: Uuid,
    user: Uuid,
    package: Uuid,
) -> anyhow::Result<()> {
    let request = Uuid::now_v7();
    let assignment = Uuid::now_v7();
    sqlx::query("insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id, target_user_id, answers, created_at, updated_at)
                 select $1, $2, 'userAdd', 'delivered', $3, p.id, $4, $4, '[]', now(), now() from policies p where p.tenant_id = $1 and p.package_id = $3")
        .bind(tenant).bind(request).bind(package).bind(user).execute(&mut *tx).await?;
    sqlx::query("insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, request_id, created_at, updated_at)
                 select $1, $2, $3, policy_id, $4, 'removed', now(), $5, now(), now() from assignment_requests where tenant_id = $1 and id = $5")
        .bind(tenant).bind(assignment).bind(package).bind(user).bind(request).execute(&mut *tx).await?;
    sqlx::query("insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, updated_at)
                 select $1, $2, resource_role_id, 'delivered', now() from access_package_roles where tenant_id = $1 and package_id = $3")
        .bind(tenant).bind(assignment).bind(package).execute(&mut *tx).await?;
    sqlx::query("insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at)
                 select $1, r.group_id, $3, $2, now() from access_package_roles p join resource_roles rr on rr.tenant_id = p.tenant_id and rr.id = p.resource_role_id
                 join resources r on r.tenant_id = rr.tenant_id and r.id = rr.resource_id where p.tenant_id = $1 and p.package_id = $4")
        .bind(tenant).bind(assignment).bind(user).bind(package).execute(&mut *tx).await?;
    sqlx::query("insert into audit_events (tenant_id, id, at, actor_type, actor_id, action, target_type, target_id, details)
                 values ($1, $2, now(), 'user', $3, 'assignmentRequest.created', 'assignmentRequest', $4, '{}'), ($1, $5, now(), 'system', null, 'assignment.created', 'assignment', $6, '{}')")
        .bind(tenant).bind(Uuid::now_v7()).bind(user).bind(request).bind(Uuid::now_v7()).bind(assignment).execute(&mut *tx).await?;
    sqlx::query("insert into outbox (tenant_id, id, kind, payload, next_attempt_at, created_at, state) values ($1, $2, 'email', '{}', now(), now(), 'done')")
        .bind(tenant).bind(Uuid::now_v7()).execute(&mut *tx).await?;
    Ok(())
}

/// Lock the user's latest request, record decision audit events, touch a row.
async fn decision_writes(tx: &mut PgConnection, tenant: Uuid, user: Uuid) -> anyhow::Result<()> {
    sqlx::query("select id from assignment_requests where tenant_id = $1 and target_user_id = $2 order by id desc limit 1 for update")
        .bind(tenant).bind(user).execute(&mut *tx).await?;
    sqlx::query("insert into audit_events (tenant_id, id, at, actor_type, actor_id, action, target_type, target_id, details)
                 values ($1, $2, now(), 'user', $3, 'assignmentRequest.decided', 'assignmentRequest', $3, '{}'),
                        ($1, $4, now(), 'user', $3, 'assignmentRequest.approved', 'assignmentRequest', $3, '{}')")
        .bind(tenant).bind(Uuid::now_v7()).bind(user).bind(Uuid::now_v7()).execute(&mut *tx).await?;
    sqlx::query("update users set updated_at = now() where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
