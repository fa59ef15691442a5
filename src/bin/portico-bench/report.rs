//! The report: one row per scenario (throughput, latency percentiles, the database
//! ceiling, the ratio to the run's `pgbench`), the targets each met or missed,
//! printed as a table and, when asked, written as JSON.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::pgbench::Pgbench;
use crate::scenarios::statements::Counted;
use crate::{Args, BROWSING_CLIENTS};

/// Server RSS the whole run must stay under.
const RSS_LIMIT_MB: f64 = 150.0;

/// A target a scenario is held to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// ops/s at least this multiple of pgbench's tps in the same run.
    Ratio(f64),
    /// p99 latency below this many milliseconds.
    P99Ms(f64),
    /// At least this many items per second.
    Rate(f64),
    /// Done in under this many seconds (rows whose p99 is the whole duration).
    Seconds(f64),
}

impl Target {
    /// The targets of the scenario named `name`.
    pub(crate) fn of(name: &str) -> Vec<Target> {
        let browsing = format!("{BROWSING_CLIENTS} clients");
        match name {
            "submit (no approval)" => vec![Target::Ratio(0.6), Target::P99Ms(50.0)],
            "submit (one approval stage)" => vec![Target::Ratio(0.6)],
            "approve (API)" => vec![Target::Ratio(0.5)],
            "approve (emailed link form)" => vec![Target::Ratio(0.3)],
            n if (n.starts_with("catalog page") && n.contains(&browsing))
                || n.starts_with(&format!("catalog ×{BROWSING_CLIENTS}:")) =>
            {
                vec![Target::P99Ms(20.0)]
            }
            n if n.starts_with("expiry") && !n.starts_with("expiry emails") => {
                vec![Target::Rate(10_000.0)]
            }
            n if n.starts_with("review start") || n.starts_with("review apply") => {
                vec![Target::Seconds(10.0)]
            }
            _ => Vec::new(),
        }
    }

    /// What the target asks, what the row reached, and whether that meets it.
    fn judge(self, row: &Row, pgbench: Option<Pgbench>) -> (String, String, Option<bool>) {
        match self {
            Target::Ratio(r) => match pgbench {
                Some(pg) => {
                    let got = row.throughput / pg.tps;
                    (
                        format!("≥ {r:.2} × pgbench"),
                        format!("{got:.2} ×"),
                        Some(got >= r),
                    )
                }
                None => (format!("≥ {r:.2} × pgbench"), "no pgbench".into(), None),
            },
            Target::P99Ms(ms) => (
                format!("p99 < {ms:.0} ms"),
                format!("{:.1} ms", row.p99),
                Some(row.p99 < ms),
            ),
            Target::Rate(n) => (
                format!("≥ {n:.0}/s"),
                format!("{:.0}/s", row.throughput),
                Some(row.throughput >= n),
            ),
            Target::Seconds(s) => (
                format!("< {s:.0} s"),
                format!("{:.1} s", row.p99 / 1000.0),
                Some(row.p99 / 1000.0 < s),
            ),
        }
    }
}

/// Every target of the report's rows (and the RSS limit): scenario, target, reached, met.
fn verdicts(
    report: &[Row],
    pgbench: Option<Pgbench>,
    peak_rss_mb: f64,
) -> Vec<(String, String, String, Option<bool>)> {
    let mut out: Vec<_> = report
        .iter()
        .flat_map(|r| {
            Target::of(&r.name).into_iter().map(move |t| {
                let (want, got, met) = t.judge(r, pgbench);
                (r.name.clone(), want, got, met)
            })
        })
        .collect();
    out.push((
        "server peak RSS".into(),
        format!("< {RSS_LIMIT_MB:.0} MB"),
        format!("{peak_rss_mb:.1} MB"),
        Some(peak_rss_mb < RSS_LIMIT_MB),
    ));
    out
}

fn met_text(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "-",
    }
}

pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) throughput: f64,
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    pub(crate) ceiling: Option<f64>,
}

impl Row {
    /// A row of one piece of work timed whole (`n` items in `took`): its throughput, and
    /// the whole time in every latency column.
    pub(crate) fn whole(name: String, n: f64, took: Duration) -> Row {
        let ms = took.as_secs_f64() * 1000.0;
        Row {
            name,
            throughput: n / took.as_secs_f64(),
            p50: ms,
            p95: ms,
            p99: ms,
            ceiling: None,
        }
    }
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

/// Prints the report's table, the targets and the totals.
pub(crate) fn print(
    report: &[Row],
    counted: &[Counted],
    notes: &[String],
    pgbench: Option<Pgbench>,
    peak_rss_mb: f64,
    generation: Duration,
) {
    println!();
    if let Some(pg) = pgbench {
        println!(
            "pgbench (TPC-B-like, scale {}, -c {} -j 2 -T {}): {:.0} tps, latency {:.2} ms",
            pg.scale, pg.clients, pg.seconds, pg.tps, pg.latency_ms
        );
    }
    println!(
        "{:<36} {:>10} {:>9} {:>9} {:>9} {:>10} {:>8} {:>10}",
        "scenario", "ops/s", "p50 ms", "p95 ms", "p99 ms", "ceiling/s", "ratio", "× pgbench"
    );
    for r in report {
        println!(
            "{:<36} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>10} {:>8} {:>10}",
            r.name,
            r.throughput,
            r.p50,
            r.p95,
            r.p99,
            r.ceiling.map_or("-".into(), |c| format!("{c:.0}")),
            r.ceiling
                .map_or("-".into(), |c| format!("{:.0} %", 100.0 * r.throughput / c)),
            pgbench.map_or("-".into(), |pg| format!("{:.2}", r.throughput / pg.tps)),
        );
    }
    println!("server peak RSS: {peak_rss_mb:.1} MB");
    println!("data generation: {:.1} s", generation.as_secs_f64());
    for n in notes {
        println!("{n}");
    }
    if !counted.is_empty() {
        println!();
        println!(
            "{:<40} {:>11} {:>12} {:>9}",
            "database work per operation", "statements", "round trips", "prepared"
        );
        for c in counted {
            println!(
                "{:<40} {:>11.1} {:>12.1} {:>9.1}",
                c.operation, c.statements, c.round_trips, c.prepared
            );
        }
        for c in counted {
            println!();
            println!("statements of one {}:", c.operation);
            for (i, t) in c.texts.iter().enumerate() {
                println!(
                    "  {:>2}. {}",
                    i + 1,
                    t.chars().take(150).collect::<String>()
                );
            }
        }
    }
    println!();
    println!("{:<36} {:<20} {:>12}", "target of", "asks", "reached");
    for (name, want, got, met) in verdicts(report, pgbench, peak_rss_mb) {
        println!("{name:<36} {want:<20} {got:>12}  {}", met_text(met));
    }
}

/// Writes the report as JSON to `path`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_json(
    path: &Path,
    report: &[Row],
    counted: &[Counted],
    notes: &[String],
    pgbench: Option<Pgbench>,
    peak_rss_mb: f64,
    generation: Duration,
    args: &Args,
) -> anyhow::Result<()> {
    let rows: Vec<Value> = report
        .iter()
        .map(|r| json!({"scenario": r.name, "throughput": r.throughput, "p50Ms": r.p50, "p95Ms": r.p95, "p99Ms": r.p99, "ceiling": r.ceiling,
            "pgbenchRatio": pgbench.map(|pg| r.throughput / pg.tps)}))
        .collect();
    let targets: Vec<Value> = verdicts(report, pgbench, peak_rss_mb)
        .into_iter()
        .map(|(name, want, got, met)| json!({"scenario": name, "target": want, "reached": got, "met": met}))
        .collect();
    let counted: Vec<Value> = counted
        .iter()
        .map(|c| json!({"operation": c.operation, "statements": c.statements, "roundTrips": c.round_trips, "prepared": c.prepared, "statementsOfOne": c.texts}))
        .collect();
    let pgbench = pgbench.map(|pg| json!({"tps": pg.tps, "latencyMs": pg.latency_ms, "clients": pg.clients, "scale": pg.scale, "seconds": pg.seconds}));
    std::fs::write(
        path,
        serde_json::to_string_pretty(
            &json!({"scenarios": rows, "targets": targets, "statementsPerOperation": counted, "checks": notes, "pgbench": pgbench, "peakRssMb": peak_rss_mb, "generationSeconds": generation.as_secs_f64(),
            "users": args.users, "packages": args.packages, "assignments": args.assignments, "clients": args.clients}),
        )?,
    )?;
    Ok(())
}
