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
    //    clients cycling through every search term, then at a browsing load of a few
    //    people at once, one row per search term (each term's own latency).
    report.push(
        drive(
            catalog_pages(args.clients, client, base, data, CATALOG_QUERIES),
            args.seconds,
        )
        .await?
        .row("catalog page (HTML)", None),
    );
    let browsing = BROWSING_CLIENTS.min(args.clients);
    for (query, term) in CATALOG_QUERIES.iter().zip(CATALOG_TERMS) {
        let workers = catalog_pages(browsing, client, base, data, std::slice::from_ref(query));
        report.push(
            drive(workers, args.seconds)
                .await?
                .row(&format!("catalog ×{browsing}: {term}"), None),
        );
    }
    Ok(())
}

/// The catalog page's queries: no term, the broad `windows` and `finance` (an eighth of
/// the packages each), the rare `crm 42` (15 of 10,000 packages) and a term nothing
/// matches.
const CATALOG_QUERIES: &[&str] = &["", "?q=windows", "?q=finance", "?q=crm%2042", "?q=zzqx"];
/// How each of `CATALOG_QUERIES` is named in the report (as "catalog ×4: windows" at
/// four clients).
const CATALOG_TERMS: [&str; 5] = [
    "no term",
    "windows",
    "finance",
    "crm 42 (rare)",
    "zzqx (no match)",
];

/// `clients` browser sessions, each GETting the catalog page with `queries` in turn.
fn catalog_pages(
    clients: usize,
    client: &reqwest::Client,
    base: &str,
    data: &Data,
    queries: &'static [&'static str],
) -> Vec<Work> {
    let mut workers: Vec<Work> = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let base = base.to_string();
        let cookie = format!(
            "portico_session={}",
            data.sessions[c % data.sessions.len().max(1)]
        );
        let mut n = c;
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let cookie = cookie.clone();
            let query = queries[n % queries.len()];
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
    workers
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
