//! The scenarios, run in order against one server: `requests` (submitting and
//! approving access requests), `reads` (API lists and the catalog page),
//! `background` (email delivery and expiry, done by the server's scheduler),
//! `connectors` (grants delivered by webhook and by SCIM), `reports` (every assignment
//! as CSV), `review` (an access review of many assignments started and applied by the
//! scheduler) and, in a tenant of its own,
//! `scim_sync` (a directory's first SCIM sync) and `bulk` (one call assigning a
//! package to 10,000 people).

mod background;
pub(crate) mod bulk;
mod connectors;
mod reads;
pub(crate) mod replicas;
mod reports;
mod requests;
mod reviews;
pub(crate) mod scim_sync;
pub(crate) mod statements;

use std::time::{Duration, Instant};

use anyhow::bail;
use sqlx::PgPool;
use uuid::Uuid;

use crate::report::Row;
use crate::seed::Data;
use crate::{Args, Only, sink};

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_scenarios(
    args: &Args,
    pool: &PgPool,
    client: &reqwest::Client,
    base: &str,
    data: &Data,
    mail: &sink::Sink,
    server_pid: u32,
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let chunks: Vec<Vec<(i64, String)>> = data
        .requesters
        .chunks(data.requesters.len().div_ceil(args.clients).max(1))
        .map(|c| c.to_vec())
        .collect();

    if args.only.runs(Only::Requests) {
        requests::run(args, pool, client, base, data, mail, &chunks, report).await?;
    }

    // The read scenarios run without the emails of the writes above being sent beside them.
    drain_emails(pool, Duration::from_secs(600)).await?;

    if args.only.runs(Only::Reads) {
        reads::run(args, client, base, data, &chunks, report).await?;
    }
    if args.only.runs(Only::Background) {
        background::run(args, pool, data, mail, report).await?;
    }
    if args.only == Only::All {
        connectors::run(
            pool,
            client,
            base,
            data,
            args.connector_grants,
            args.clients,
            report,
        )
        .await?;
        reports::run(pool, client, base, data, server_pid, report).await?;
    }
    // Last: the emails of its removals are still being sent when it ends.
    if args.only.runs(Only::Review) {
        reviews::run(pool, data, args.review_assignments, report).await?;
    }
    Ok(())
}

/// Submits a `userAdd` request for `package` as the bearer of `token` and checks that it
/// is answered 201 in `state`; the answer.
pub(crate) async fn submit(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    package: Uuid,
    state: &str,
) -> anyhow::Result<serde_json::Value> {
    let res = client
        .post(format!("{base}/api/v1/assignmentRequests"))
        .bearer_auth(token)
        .json(&serde_json::json!({"requestType": "userAdd", "accessPackageId": package}))
        .send()
        .await?;
    let body = crate::load::expect_status(res, 201).await?;
    if body["state"] != state {
        bail!("not {state}: {body}");
    }
    Ok(body)
}

/// Approves request `id` through the API as the bearer of `token` (its last stage's
/// approver) and checks that it is answered 200 and `delivered`.
pub(crate) async fn approve(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
) -> anyhow::Result<()> {
    let res = client
        .post(format!("{base}/api/v1/assignmentRequests/{id}/decision"))
        .bearer_auth(token)
        .json(&serde_json::json!({"decision": "approve"}))
        .send()
        .await?;
    let body = crate::load::expect_status(res, 200).await?;
    if body["state"] != "delivered" {
        bail!("not delivered: {body}");
    }
    Ok(())
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

/// `n` (token, package, user index) pairs of requesters and packages of `parity` that
/// the requester neither holds nor has asked for, at most `per_requester` of each.
pub(crate) async fn free_pairs(
    pool: &PgPool,
    data: &Data,
    parity: usize,
    n: usize,
    per_requester: i64,
) -> anyhow::Result<Vec<(String, Uuid, i64)>> {
    let packages: Vec<Uuid> = data
        .package_ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == parity)
        .map(|(_, p)| *p)
        .collect();
    let mut out = Vec::new();
    // From the end: the load scenarios take their requesters' packages from the start.
    for (u, token) in data.requesters.iter().rev() {
        if out.len() >= n {
            break;
        }
        let Some(user) = usize::try_from(*u).ok().and_then(|i| data.user_ids.get(i)) else {
            continue;
        };
        let free: Vec<Uuid> = sqlx::query_scalar(
            "select p from unnest($3::uuid[]) with ordinality as c(p, k)
             where not exists (select 1 from assignment_requests r
                               where r.tenant_id = $1 and r.target_user_id = $2 and r.package_id = c.p)
               and not exists (select 1 from assignments a
                               where a.tenant_id = $1 and a.target_user_id = $2 and a.package_id = c.p)
             order by k desc limit $4",
        )
        .bind(data.tenant)
        .bind(user)
        .bind(&packages)
        .bind(per_requester)
        .fetch_all(pool)
        .await?;
        out.extend(free.into_iter().map(|p| (token.clone(), p, *u)));
    }
    out.truncate(n);
    if out.len() < n {
        bail!(
            "only {} free requester/package pairs, {n} needed",
            out.len()
        );
    }
    Ok(out)
}
