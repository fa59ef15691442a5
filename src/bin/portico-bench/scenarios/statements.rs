//! Statements and round trips per operation: a second server (no scheduler) reaches
//! PostgreSQL through the counting proxy (`wire`), and each operation is done one at a
//! time, after a warm-up that fills the connection's statement cache. The counts are the
//! server's whole conversation with the database for the operation, token or session
//! check included.

use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use super::requests::approve_by_link;
use super::{approve, drain_emails, free_pairs, submit};
use crate::load::expect_status;
use crate::seed::Data;
use crate::server::{free_port, start_server, wait_ready};
use crate::wire::{self, Tally};
use crate::{Args, BLOCK, TENANT, sink};

/// One operation's counts, averaged over its repetitions.
pub(crate) struct Counted {
    pub(crate) operation: &'static str,
    pub(crate) statements: f64,
    pub(crate) round_trips: f64,
    pub(crate) prepared: f64,
    /// The statements of the last repetition, in order.
    pub(crate) texts: Vec<String>,
}

/// Operations measured (after `WARM_UP` uncounted ones of each).
const TIMES: usize = 10;
const WARM_UP: usize = 3;

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    args: &Args,
    admin: &PgConnectOptions,
    db_url: &str,
    smtp_port: u16,
    pool: &PgPool,
    client: &reqwest::Client,
    data: &Data,
    mail: &sink::Sink,
) -> anyhow::Result<Vec<Counted>> {
    let (proxy_port, counts) =
        wire::start(format!("{}:{}", admin.get_host(), admin.get_port())).await?;
    let mut url = url::Url::parse(db_url)?;
    url.set_port(Some(proxy_port))
        .map_err(|()| anyhow::anyhow!("database URL without a port"))?;
    url.set_host(Some("127.0.0.1"))?;
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("PORTICO_SCHEDULER_ENABLED", "false".to_string()),
        // One connection: its statement cache is warm after the warm-up.
        ("PORTICO_MAX_CONNECTIONS", "1".to_string()),
    ];
    let mut server = start_server(args, url.as_str(), port, smtp_port, &env)?;
    let result = async {
        wait_ready(&base).await?;
        measure(pool, client, &base, data, mail, &counts).await
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    result
}

async fn measure(
    pool: &PgPool,
    client: &reqwest::Client,
    base: &str,
    data: &Data,
    mail: &sink::Sink,
    counts: &wire::Counts,
) -> anyhow::Result<Vec<Counted>> {
    let n = WARM_UP + TIMES;
    // Even packages need no approval, odd ones one stage (seed.rs).
    let delivered = free_pairs(pool, data, 0, n, 1).await?;
    let staged = free_pairs(pool, data, 1, 2 * n, 1).await?;
    let mut out = Vec::new();

    let mut ops = delivered.iter();
    out.push(
        count(counts, "submit (no approval)", || {
            let (token, package, _) = ops.next().cloned().unwrap_or_default();
            let client = client.clone();
            let base = base.to_string();
            async move {
                submit(&client, &base, &token, package, "delivered").await?;
                Ok(())
            }
        })
        .await?,
    );

    let mut ops = staged.iter();
    out.push(
        count(counts, "submit (one approval stage)", || {
            let (token, package, _) = ops.next().cloned().unwrap_or_default();
            let client = client.clone();
            let base = base.to_string();
            async move {
                submit(&client, &base, &token, package, "pendingApproval").await?;
                Ok(())
            }
        })
        .await?,
    );
    // As many again, uncounted: half are approved through links, half through the API.
    for (token, package, _) in ops {
        submit(client, base, token, *package, "pendingApproval").await?;
    }

    // Half of them through their emailed links (sent by the main server's scheduler:
    // this one has none), the others through the API.
    drain_emails(pool, Duration::from_secs(300)).await?;
    let links: Vec<String> = mail
        .take_approve_links()
        .into_iter()
        .filter_map(|l| {
            let at = l.find("/links/")?;
            Some(format!("{base}{}", &l[at..]))
        })
        .take(n)
        .collect();
    if links.len() < n {
        bail!("only {} approval links arrived, {n} needed", links.len());
    }
    let mut ops = links.iter();
    out.push(
        count(counts, "approve (emailed link: page + form)", || {
            let url = ops.next().cloned().unwrap_or_default();
            let client = client.clone();
            let base = base.to_string();
            async move { approve_by_link(&client, &base, &url).await }
        })
        .await?,
    );

    let still = pending_of(pool, data, &staged).await?;
    if still.len() < n {
        bail!("only {} requests left pending, {n} needed", still.len());
    }
    let mut ops = still.iter();
    out.push(
        count(counts, "approve (API)", || {
            let (id, user) = ops.next().copied().unwrap_or_default();
            let token = data.managers.get(&(user / BLOCK)).cloned();
            let client = client.clone();
            let base = base.to_string();
            async move {
                let token = token.context("no manager token")?;
                approve(&client, &base, &token, &id.to_string()).await
            }
        })
        .await?,
    );

    for (name, query) in [
        ("catalog page (HTML), no search", ""),
        ("catalog page (HTML), search", "?q=crm%2042"),
    ] {
        let cookie = format!(
            "portico_session={}",
            data.sessions.first().context("no session")?
        );
        out.push(
            count(counts, name, || {
                let req = client
                    .get(format!("{base}/t/{TENANT}/packages{query}"))
                    .header("cookie", cookie.clone());
                async move {
                    let res = req.send().await?;
                    if res.status() != 200 {
                        bail!("catalog page answered {}", res.status());
                    }
                    res.text().await?;
                    Ok(())
                }
            })
            .await?,
        );
    }
    let token = data.requesters.first().context("no requester")?.1.clone();
    out.push(
        count(counts, "list my requests (API)", || {
            let req = client
                .get(format!(
                    "{base}/api/v1/assignmentRequests?mine=true&limit=20"
                ))
                .bearer_auth(&token);
            async move {
                expect_status(req.send().await?, 200).await?;
                Ok(())
            }
        })
        .await?,
    );
    Ok(out)
}

/// Does `op` WARM_UP times uncounted, then TIMES times counted, one at a time.
async fn count<F, Fut>(
    counts: &wire::Counts,
    operation: &'static str,
    mut op: F,
) -> anyhow::Result<Counted>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..WARM_UP {
        op().await?;
    }
    // The answer is sent before the server's last bookkeeping ends; let it finish.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = counts.snapshot();
    let mut tally = Tally::default();
    let mut texts = Vec::new();
    for i in 0..TIMES {
        if i + 1 == TIMES {
            counts.record();
        }
        let at = counts.snapshot();
        op().await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let d = counts.snapshot() - at;
        tally.statements += d.statements;
        tally.round_trips += d.round_trips;
        tally.prepared += d.prepared;
        if i + 1 == TIMES {
            texts = counts.take_record();
        }
    }
    debug_assert_eq!(counts.snapshot() - before, tally);
    let per = |v: u64| v as f64 / TIMES as f64;
    Ok(Counted {
        operation,
        statements: per(tally.statements),
        round_trips: per(tally.round_trips),
        prepared: per(tally.prepared),
        texts,
    })
}

/// The requests of `pairs` still pending, with the requester's index (for the manager).
pub(super) async fn pending_of(
    pool: &PgPool,
    data: &Data,
    pairs: &[(String, Uuid, i64)],
) -> anyhow::Result<Vec<(Uuid, i64)>> {
    let mut out = Vec::new();
    for (_, package, u) in pairs {
        let user = usize::try_from(*u)
            .ok()
            .and_then(|i| data.user_ids.get(i))
            .context("requester")?;
        let id: Option<Uuid> = sqlx::query_scalar(
            "select id from assignment_requests where tenant_id = $1 and target_user_id = $2
             and package_id = $3 and state = 'pendingApproval'",
        )
        .bind(data.tenant)
        .bind(user)
        .bind(package)
        .fetch_optional(pool)
        .await?;
        out.extend(id.map(|id| (id, *u)));
    }
    Ok(out)
}
