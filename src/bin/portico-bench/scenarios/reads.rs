//! Reading under load: the requester's own requests and the package search through
//! the API, and the catalog page of My Access as HTML.

use anyhow::bail;

use crate::load::{Work, drive, expect_status};
use crate::report::Row;
use crate::seed::Data;
use crate::{Args, BROWSING_CLIENTS, TENANT};

/// Scenarios 5 to 7.
pub(super) async fn run(
    args: &Args,
    client: &reqwest::Client,
    base: &str,
    data: &Data,
    chunks: &[Vec<(i64, String)>],
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
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
        let workers = api_reads(chunks, client, base, paths);
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
