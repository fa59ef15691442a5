//! The assignments report over the whole generated tenant (a million rows by default)
//! as CSV through the API, read as it streams: rows per second, the time to the first
//! byte and to the last, and the server's resident memory during the download against
//! before it (the report is read through a cursor a chunk at a time, so it should not
//! grow with the row count).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::PgPool;

use crate::report::Row;
use crate::seed::Data;
use crate::server::rss_mb;

pub(super) async fn run(
    pool: &PgPool,
    http: &reqwest::Client,
    base: &str,
    data: &Data,
    server_pid: u32,
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let token = super::connectors::admin_token(pool, data.tenant).await?;
    let expected: i64 = sqlx::query_scalar("select count(*) from assignments where tenant_id = $1")
        .bind(data.tenant)
        .fetch_one(pool)
        .await?;
    let before = rss_mb(server_pid);
    let peak = Arc::new(AtomicU64::new(before.to_bits()));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let now = rss_mb(server_pid);
                if now > f64::from_bits(peak.load(Ordering::Relaxed)) {
                    peak.store(now.to_bits(), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let mut res = http
        .get(format!("{base}/api/v1/reports/assignments?format=csv"))
        .bearer_auth(&token)
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("the report answered {}", res.status());
    }
    let mut first_byte = None;
    let (mut lines, mut bytes) = (0_i64, 0_u64);
    while let Some(chunk) = res.chunk().await.context("reading the report")? {
        first_byte.get_or_insert_with(|| started.elapsed());
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as i64;
    }
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let rows = lines - 1;
    if rows != expected {
        bail!("the report has {rows} rows, the tenant {expected} assignments");
    }
    let peak = f64::from_bits(peak.load(Ordering::Relaxed));
    println!(
        "report: {rows} assignments, {:.0} MB of CSV in {:.1} s; first byte after {:.0} ms; server RSS {before:.0} MB before, at most {peak:.0} MB during",
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        first_byte.unwrap_or_default().as_secs_f64() * 1000.0,
    );
    report.push(Row {
        name: format!("report: {rows} assignments as CSV (RSS {before:.0} -> {peak:.0} MB)"),
        throughput: rows as f64 / took.as_secs_f64(),
        p50: first_byte.unwrap_or_default().as_secs_f64() * 1000.0,
        p95: took.as_secs_f64() * 1000.0,
        p99: took.as_secs_f64() * 1000.0,
        ceiling: None,
    });
    Ok(())
}
