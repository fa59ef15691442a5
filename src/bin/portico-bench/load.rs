//! The load generator: workers that each repeat one unit of work against the server
//! until the scenario's time (or their work) runs out, and the answer checks they share.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::Value;

use crate::report::Samples;

/// One unit of work: returns Ok(()) when the server answered as expected.
pub(crate) type Work = Box<
    dyn FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>
        + Send,
>;

/// Runs `clients` workers for `seconds` (or until every worker's work runs out).
pub(crate) async fn drive(workers: Vec<Work>, seconds: u64) -> anyhow::Result<Samples> {
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

pub(crate) fn exhausted() -> anyhow::Error {
    anyhow::anyhow!("exhausted")
}

pub(crate) async fn expect_status(res: reqwest::Response, want: u16) -> anyhow::Result<Value> {
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
