//! The report: one row per scenario (throughput, latency percentiles, the database
//! ceiling), printed as a table and, when asked, written as JSON.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Args;

pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) throughput: f64,
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    pub(crate) ceiling: Option<f64>,
}

/// Latencies (µs) of one scenario, from every client.
pub(crate) struct Samples {
    pub(crate) latencies: Vec<u64>,
    pub(crate) elapsed: Duration,
}

impl Samples {
    pub(crate) fn row(mut self, name: &str, ceiling: Option<f64>) -> Row {
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

/// Prints the report's table and totals.
pub(crate) fn print(report: &[Row], peak_rss_mb: f64, generation: Duration) {
    println!();
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>9} {:>12} {:>8}",
        "scenario", "ops/s", "p50 ms", "p95 ms", "p99 ms", "ceiling/s", "ratio"
    );
    for r in report {
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
}

/// Writes the report as JSON to `path`.
pub(crate) fn write_json(
    path: &Path,
    report: &[Row],
    peak_rss_mb: f64,
    generation: Duration,
    args: &Args,
) -> anyhow::Result<()> {
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
    Ok(())
}
