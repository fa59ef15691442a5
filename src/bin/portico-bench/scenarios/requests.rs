//! Submitting and approving access requests: without approval, with one approval
//! stage, approved through the emailed link's form, and approved through the API.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::PgPool;
use uuid::Uuid;

use super::{approve, drain_emails, submit};
use crate::ceiling::{Ceiling, ceiling};
use crate::load::{Work, drive, exhausted};
use crate::report::Row;
use crate::seed::Data;
use crate::{Args, BLOCK, sink};

/// Scenarios 1 to 4.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    args: &Args,
    pool: &PgPool,
    client: &reqwest::Client,
    base: &str,
    data: &Data,
    mail: &sink::Sink,
    chunks: &[Vec<(i64, String)>],
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let per_user = (args.assignments / args.users).max(1);
    let step = (args.packages / (per_user + 1)).max(1);
    // Packages a user does not hold: user u holds u + k × step (mod P), so the offsets
    // strictly between 0 and step are free; each scenario takes one parity.
    let free_packages = |user: i64, parity: i64| -> Vec<Uuid> {
        (1..step)
            .map(|o| (user + o) % args.packages)
            .filter(|p| p % 2 == parity)
            .filter_map(|p| data.package_ids.get(usize::try_from(p).ok()?).copied())
            .collect()
    };

    // 1. Submit, no approval (delivered in the submitting transaction).
    let mut workers: Vec<Work> = Vec::new();
    for chunk in chunks {
        let client = client.clone();
        let base = base.to_string();
        let free = chunk
            .iter()
            .flat_map(|(u, tok)| {
                free_packages(*u, 0)
                    .into_iter()
                    .map(move |p| (p, tok.clone()))
            })
            .collect::<Vec<_>>();
        let free = Arc::new(std::sync::Mutex::new(free.into_iter()));
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let next = free.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let (package, token) = next.ok_or_else(exhausted)?;
                submit(&client, &base, &token, package, "delivered").await?;
                Ok(())
            })
        }));
    }
    let submit_ceiling = ceiling(pool, data, args, Ceiling::Submit).await?;
    report.push(
        drive(workers, args.seconds)
            .await?
            .row("submit (no approval)", Some(submit_ceiling)),
    );

    // 2. Submit, one approval stage (answer: pendingApproval); keeps the ids for step 3.
    let pending = Arc::new(std::sync::Mutex::new(Vec::<(String, i64)>::new()));
    let mut workers: Vec<Work> = Vec::new();
    for chunk in chunks {
        let client = client.clone();
        let base = base.to_string();
        let free = chunk
            .iter()
            .flat_map(|(u, tok)| {
                free_packages(*u, 1)
                    .into_iter()
                    .map(move |p| (p, tok.clone(), *u))
            })
            .collect::<Vec<_>>();
        let free = Arc::new(std::sync::Mutex::new(free.into_iter()));
        let pending = pending.clone();
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let pending = pending.clone();
            let next = free.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let (package, token, user) = next.ok_or_else(exhausted)?;
                let body = submit(&client, &base, &token, package, "pendingApproval").await?;
                if let (Some(id), Ok(mut p)) = (body["id"].as_str(), pending.lock()) {
                    p.push((id.to_string(), user));
                }
                Ok(())
            })
        }));
    }
    report.push(
        drive(workers, args.seconds)
            .await?
            .row("submit (one approval stage)", None),
    );

    // 3. Approve through the emailed link: the managers' approval emails reach the SMTP
    //    sink; half of their Approve links are followed like a person would: open the
    //    page (GET, which decides nothing), then send its confirmation form (POST with
    //    the page's CSRF cookie and field). One operation is both requests.
    drain_emails(pool, Duration::from_secs(300)).await?;
    let mut links = mail.take_approve_links();
    links.truncate(links.len() / 2);
    let chunk_size = links.len().div_ceil(args.clients).max(1);
    let mut workers: Vec<Work> = Vec::new();
    for chunk in links.chunks(chunk_size) {
        let client = client.clone();
        let base = base.to_string();
        let owned: Vec<String> = chunk.to_vec();
        let items = Arc::new(std::sync::Mutex::new(owned.into_iter()));
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let next = items.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let url = next.ok_or_else(exhausted)?;
                approve_by_link(&client, &base, &url).await
            })
        }));
    }
    report.push(
        drive(workers, args.seconds)
            .await?
            .row("approve (emailed link form)", None),
    );

    // 4. Approve through the API: each request still pending, by the requester's manager.
    let all_pending: Vec<(String, i64)> =
        pending.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    let ids: Vec<Uuid> = all_pending
        .iter()
        .filter_map(|(id, _)| id.parse().ok())
        .collect();
    let still: std::collections::HashSet<Uuid> = sqlx::query_scalar(
        "select id from assignment_requests where tenant_id = $1 and id = any($2) and state = 'pendingApproval'",
    )
    .bind(data.tenant)
    .bind(&ids)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let to_approve: Vec<(String, String)> = all_pending
        .iter()
        .filter(|(id, _)| id.parse().is_ok_and(|u: Uuid| still.contains(&u)))
        .filter_map(|(id, user)| Some((id.clone(), data.managers.get(&(user / BLOCK))?.clone())))
        .collect();
    let mut workers: Vec<Work> = Vec::new();
    for chunk in to_approve.chunks(to_approve.len().div_ceil(args.clients).max(1)) {
        let client = client.clone();
        let base = base.to_string();
        let owned: Vec<(String, String)> = chunk.to_vec();
        let items = Arc::new(std::sync::Mutex::new(owned.into_iter()));
        workers.push(Box::new(move || {
            let client = client.clone();
            let base = base.clone();
            let next = items.lock().ok().and_then(|mut it| it.next());
            Box::pin(async move {
                let (id, token) = next.ok_or_else(exhausted)?;
                approve(&client, &base, &token, &id.to_string()).await
            })
        }));
    }
    let approve_ceiling = ceiling(pool, data, args, Ceiling::Approve).await?;
    report.push(
        drive(workers, args.seconds.max(30))
            .await?
            .row("approve (API)", Some(approve_ceiling)),
    );
    Ok(())
}

/// Opens an emailed Approve link and sends its confirmation form.
pub(super) async fn approve_by_link(
    client: &reqwest::Client,
    base: &str,
    url: &str,
) -> anyhow::Result<()> {
    let page = client.get(url).send().await?;
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|c| c.starts_with("portico_csrf="))
        })
        .map(str::to_string)
        .context("the link page set no CSRF cookie")?;
    let status = page.status().as_u16();
    let html = page.text().await?;
    if status != 200 {
        bail!("link page answered {status}");
    }
    let field = "name=\"csrf_token\" value=\"";
    let csrf = html
        .split_once(field)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| value.to_string())
        .context("the link page has no CSRF field")?;
    let res = client
        .post(url)
        .header("cookie", cookie)
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={csrf}&justification="))
        .send()
        .await?;
    let status = res.status().as_u16();
    let html = res.text().await?;
    if status != 200 || !html.contains("Decision recorded") {
        bail!("link form answered {status}");
    }
    Ok(())
}
