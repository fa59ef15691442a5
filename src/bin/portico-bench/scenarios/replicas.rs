//! Two replicas behind one address: a second `portico serve` on the same database, its
//! scheduler running too. Requests are submitted through both in turn; then many
//! assignments end at once while both schedulers run. The checks: every approval email
//! arrives exactly once (no request's email lost, none sent twice), every ended
//! assignment is expired exactly once (one `systemRemove` request each, its membership
//! gone) and the emails queued are the emails received.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use sqlx::PgPool;
use uuid::Uuid;

use super::{drain_emails, free_pairs, submit};
use crate::load::{Work, drive, exhausted};
use crate::report::Row;
use crate::seed::Data;
use crate::server::{free_port, start_server, wait_ready};
use crate::{Args, sink};

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    args: &Args,
    pool: &PgPool,
    client: &reqwest::Client,
    first: &str,
    db_url: &str,
    smtp_port: u16,
    data: &Data,
    mail: &sink::Sink,
    report: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let port = free_port()?;
    let second = format!("http://127.0.0.1:{port}");
    let mut replica = start_server(args, db_url, port, smtp_port, &[])?;
    let result = async {
        wait_ready(&second).await?;
        measure(
            args,
            pool,
            client,
            [first, &second],
            data,
            mail,
            report,
            notes,
        )
        .await
    }
    .await;
    let _ = replica.kill();
    let _ = replica.wait();
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    pool: &PgPool,
    client: &reqwest::Client,
    bases: [&str; 2],
    data: &Data,
    mail: &sink::Sink,
    report: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    drain_emails(pool, Duration::from_secs(600)).await?;
    let _ = mail.take_approve_links();
    let doubled_before = mail.doubled_links();

    // Submissions with one approval stage, each client on one replica.
    let wanted = usize::try_from(args.seconds)? * 400;
    let per_requester = i64::try_from(wanted.div_ceil(data.requesters.len().max(1)))? + 1;
    let pairs = free_pairs(pool, data, 1, wanted.min(20_000), per_requester).await?;
    let mut workers: Vec<Work> = Vec::new();
    let per = pairs.len().div_ceil(args.clients).max(1);
    for (c, chunk) in pairs.chunks(per).enumerate() {
        let client = client.clone();
        let base = bases[c % 2].to_string();
        let owned: Vec<(String, Uuid, i64)> = chunk.to_vec();
        let items = Arc::new(std::sync::Mutex::new(owned.into_iter()));
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let next = items.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let (token, package, _) = next.ok_or_else(exhausted)?;
                submit(&client, &base, &token, package, "pendingApproval").await?;
                Ok(())
            })
        }));
    }
    let started = chrono::Utc::now();
    let samples = drive(workers, args.seconds).await?;
    let submitted = samples.latencies.len();
    report.push(samples.row("submit, two replicas (one approval stage)", None));

    // Both schedulers send the approval emails: each exactly once.
    drain_emails(pool, Duration::from_secs(600)).await?;
    let links = mail.take_approve_links().len();
    let doubled = mail.doubled_links() - doubled_before;
    let stages: i64 = sqlx::query_scalar(
        "select count(*) from assignment_requests where tenant_id = $1 and created_at >= $2
           and state = 'pendingApproval'",
    )
    .bind(data.tenant)
    .bind(started)
    .fetch_one(pool)
    .await?;
    notes.push(format!(
        "two replicas: {submitted} requests submitted, {stages} pending, {links} approval emails received, {doubled} received twice"
    ));
    if doubled > 0 || i64::try_from(links)? != stages {
        bail!(
            "two replicas: {links} approval emails for {stages} pending requests, {doubled} twice"
        );
    }

    // Many assignments end at once; both schedulers expire them.
    let k = args.expiring.min(args.assignments) / 2;
    let ends_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "update assignments set end_at = $3 where tenant_id = $1 and id in (
             select id from assignments where tenant_id = $1 and state = 'delivered'
             order by id desc limit $2)
         returning id",
    )
    .bind(data.tenant)
    .bind(k)
    .bind(ends_at)
    .fetch_all(pool)
    .await?;
    let received_before = mail.received();
    tokio::time::sleep((ends_at - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    let t0 = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar(
            "select count(*) from assignments where tenant_id = $1 and id = any($2) and state <> 'expired'",
        )
        .bind(data.tenant)
        .bind(&ids)
        .fetch_one(pool)
        .await?;
        if left == 0 {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("two replicas: expiry did not finish within 10 minutes ({left} left)");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    let n = ids.len();
    report.push(Row::whole(
        format!("expiry, two replicas ({n} at once)"),
        n as f64,
        took,
    ));
    // Each expired once: one systemRemove request each, no membership left.
    let (removals, twice, memberships): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from assignment_requests r where r.tenant_id = $1
                   and r.assignment_id = any($2) and r.request_type = 'systemRemove'),
                (select count(*) from (select r.assignment_id from assignment_requests r
                   where r.tenant_id = $1 and r.assignment_id = any($2) and r.request_type = 'systemRemove'
                   group by r.assignment_id having count(*) > 1) d),
                (select count(*) from group_memberships m where m.tenant_id = $1 and m.assignment_id = any($2))",
    )
    .bind(data.tenant)
    .bind(&ids)
    .fetch_one(pool)
    .await?;
    drain_emails(pool, Duration::from_secs(600)).await?;
    // The emails queued by the expiries (and nothing else was queued meanwhile).
    let queued: i64 = sqlx::query_scalar(
        "select count(*) from outbox where tenant_id = $1 and kind = 'email' and created_at >= $2",
    )
    .bind(data.tenant)
    .bind(ends_at)
    .fetch_one(pool)
    .await?;
    let received = mail.received() - received_before;
    notes.push(format!(
        "two replicas: {n} assignments expired, {removals} removal requests ({twice} assignments twice), {memberships} memberships left; {queued} emails queued, {received} received"
    ));
    if removals != i64::try_from(n)? || twice > 0 || memberships > 0 {
        bail!("two replicas: expiry was not done exactly once per assignment");
    }
    if u64::try_from(queued)? != received {
        bail!("two replicas: {queued} emails queued, {received} received");
    }
    Ok(())
}
