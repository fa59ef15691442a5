//! Work the server's scheduler does in the background: delivering a burst of queued
//! emails, and expiring many assignments that end at the same moment.

use std::time::{Duration, Instant};

use anyhow::bail;
use sqlx::PgPool;

use super::drain_emails;
use crate::report::Row;
use crate::seed::Data;
use crate::{Args, sink};

/// Scenarios 8 and 9.
pub(super) async fn run(
    args: &Args,
    pool: &PgPool,
    data: &Data,
    mail: &sink::Sink,
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
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
    report.push(Row::whole(
        format!("emails ({k} queued, SMTP)"),
        k as f64,
        took,
    ));

    // 9. Expiry: K assignments end at the same moment; the time from their end until
    //    every one is `expired` and every group membership it delivered is gone. The
    //    `accessEnded` emails the expiry queues are sent beside it and reported on a
    //    row of their own (from the same end time until the sink accepted all K).
    let k = args.expiring.min(args.assignments);
    let ends_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "update assignments set end_at = $3 where tenant_id = $1 and id in (
             select id from assignments where tenant_id = $1 and state = 'delivered' order by id limit $2)
         returning id",
    )
    .bind(data.tenant)
    .bind(k)
    .bind(ends_at)
    .fetch_all(pool)
    .await?;
    let k = ids.len() as i64;
    let memberships: i64 = sqlx::query_scalar(
        "select count(*) from group_memberships where tenant_id = $1 and assignment_id = any($2)",
    )
    .bind(data.tenant)
    .bind(&ids)
    .fetch_one(pool)
    .await?;
    let mails_before = mail.received();
    let wait = (ends_at - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let t0 = Instant::now();
    // The active ones are counted through the index of due assignments (cheap while
    // the scheduler works); the memberships once none is left active.
    loop {
        let left: i64 = sqlx::query_scalar(
            "select count(*) from assignments where end_at = $2 and tenant_id = $1
               and state in ('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed')",
        )
        .bind(data.tenant)
        .bind(ends_at)
        .fetch_one(pool)
        .await?;
        let left = if left == 0 {
            sqlx::query_scalar(
                "select count(*) from group_memberships where tenant_id = $1 and assignment_id = any($2)",
            )
            .bind(data.tenant)
            .bind(&ids)
            .fetch_one(pool)
            .await?
        } else {
            left
        };
        if left == 0 {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("expiry did not finish within 10 minutes ({left} left)");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    if memberships < k {
        bail!("only {memberships} of the {k} expiring assignments had a membership to revoke");
    }
    report.push(Row::whole(
        format!("expiry ({k} at once, end to membership revoked)"),
        k as f64,
        took,
    ));
    let want = mails_before + u64::try_from(k)?;
    while mail.received() < want {
        if t0.elapsed() > Duration::from_secs(1800) {
            bail!(
                "the access-ended emails were not sent within 30 minutes ({} of {k})",
                mail.received() - mails_before
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    report.push(Row::whole(
        format!("expiry emails ({k} accessEnded, SMTP)"),
        k as f64,
        took,
    ));
    Ok(())
}
