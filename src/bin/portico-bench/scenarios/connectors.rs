//! Grants delivered through connectors: the same run of direct assignments once to a
//! resource with a webhook connector (a receiver in this process that answers 204 at
//! once, so the row shows Portico's own cost of a connector call) and once to a
//! resource with a SCIM connector whose target is a real SCIM 2.0 service provider on
//! this machine: Portico's own SCIM server, in a tenant of its own (`conntarget`) with
//! the target group created through it. Each grant there is a user lookup, a user
//! creation, a group lookup and a PATCH of the group, as against any SCIM application.
//!
//! Each row: grants delivered per second from the first submission to the last
//! delivery, and the latency of each grant from its queued call to its delivery (the
//! outbox row's `created_at` to `completed_at`). The SCIM row's name carries its ratio
//! to the webhook row of the same run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::load::expect_status;
use crate::report::Row;
use crate::seed::Data;

const TARGET_SLUG: &str = "conntarget";
const TARGET_GROUP: &str = "Bench members";

/// Runs both connector rows; `grants` direct assignments each, `clients` at a time.
pub(super) async fn run(
    pool: &PgPool,
    http: &reqwest::Client,
    base: &str,
    data: &Data,
    grants: usize,
    clients: usize,
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let admin = admin_token(pool, data.tenant).await?;
    let api = Api {
        http: http.clone(),
        base: base.to_string(),
        token: admin,
    };
    let catalog = api
        .post(
            "/api/v1/catalogs",
            json!({"displayName": "Connected applications"}),
        )
        .await?;
    let catalog = id_of(&catalog)?;

    let receiver = start_receiver().await?;
    let webhook = api
        .package(
            catalog,
            "Bench webhook application",
            json!({"type": "webhook", "url": format!("http://{receiver}/grants"),
                   "secret": "bench-webhook-secret-0123456789"}),
            "member",
        )
        .await?;
    let scim_token = scim_target(pool, http, base).await?;
    let scim = api
        .package(
            catalog,
            "Bench SCIM application",
            json!({"type": "scim", "baseUrl": format!("{base}/scim/v2/{TARGET_SLUG}"),
                   "token": scim_token, "deactivateOnLastRevoke": true}),
            TARGET_GROUP,
        )
        .await?;

    // Distinct people for each row, none of whom holds either package.
    let people: Vec<Uuid> = data.user_ids.iter().rev().copied().collect();
    let (first, second) = people.split_at(grants.min(people.len() / 2));
    let second = &second[..first.len()];
    let hook = deliver(pool, &api, data.tenant, webhook, first, clients, "webhook").await?;
    let target = deliver(pool, &api, data.tenant, scim, second, clients, "scim").await?;
    let members = target_members(pool).await?;
    if members != i64::try_from(second.len())? {
        bail!(
            "the SCIM target's group has {members} members after {} grants",
            second.len()
        );
    }
    let ratio = target.throughput / hook.throughput.max(f64::MIN_POSITIVE);
    report.push(Row {
        name: format!("connector grants: webhook ({} grants)", first.len()),
        ..hook
    });
    report.push(Row {
        name: format!(
            "connector grants: SCIM ({} grants, {ratio:.2} x webhook)",
            second.len()
        ),
        ..target
    });
    Ok(())
}

/// The tenant admin's API token, made for the run.
pub(super) async fn admin_token(pool: &PgPool, tenant: Uuid) -> anyhow::Result<String> {
    let token = format!("ptc_benchadmin{}", Uuid::new_v4().simple());
    sqlx::query(
        "insert into api_tokens (tenant_id, id, user_id, name, token_hash, created_at)
         select $1, gen_random_uuid(), u.id, 'bench admin', $2, now()
         from users u where u.tenant_id = $1 and u.email = 'admin@bench.test'",
    )
    .bind(tenant)
    .bind(portico::services::tokens::hash(&token))
    .execute(pool)
    .await?;
    Ok(token)
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        expect_status(res, 201)
            .await
            .with_context(|| format!("POST {path}"))
    }

    /// A package of one role of an application delivered by `connector`, with a policy
    /// for direct assignment.
    async fn package(
        &self,
        catalog: Uuid,
        name: &str,
        connector: Value,
        role: &str,
    ) -> anyhow::Result<Uuid> {
        let resource = self
            .post(
                &format!("/api/v1/catalogs/{catalog}/resources"),
                json!({"kind": "application", "displayName": name,
                       "roles": [{"displayName": "Member", "connectorValue": role}],
                       "connector": connector}),
            )
            .await?;
        let role = resource["roles"][0]["id"]
            .as_str()
            .context("the resource's role")?
            .to_string();
        let package = self
            .post(
                "/api/v1/accessPackages",
                json!({"catalogId": catalog, "displayName": name, "resourceRoleIds": [role]}),
            )
            .await?;
        let package = id_of(&package)?;
        self.post(
            &format!("/api/v1/accessPackages/{package}/policies"),
            json!({"displayName": "Assigned by admins", "requestors": {"scope": "none"},
                   "requireJustification": false, "approval": {"stages": []},
                   "expiration": {"type": "never"}}),
        )
        .await?;
        Ok(package)
    }
}

fn id_of(v: &Value) -> anyhow::Result<Uuid> {
    Ok(v["id"].as_str().context("an id")?.parse()?)
}

/// Assigns `package` to each of `people` (`clients` at a time) and waits until every
/// call of `kind` is delivered; the row's throughput and the calls' queue latencies.
async fn deliver(
    pool: &PgPool,
    api: &Api,
    tenant: Uuid,
    package: Uuid,
    people: &[Uuid],
    clients: usize,
    kind: &str,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let since = chrono::Utc::now();
    let queue: Vec<Uuid> = people.to_vec();
    let next = Arc::new(std::sync::Mutex::new(queue.into_iter()));
    let api = Arc::new(Api {
        http: api.http.clone(),
        base: api.base.clone(),
        token: api.token.clone(),
    });
    let mut handles = Vec::new();
    for _ in 0..clients.max(1) {
        let (next, api) = (next.clone(), api.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let person = next.lock().ok().and_then(|mut it| it.next());
                let Some(person) = person else {
                    return Ok::<_, anyhow::Error>(());
                };
                api.post(
                    "/api/v1/assignmentRequests",
                    json!({"requestType": "adminAdd", "accessPackageId": package,
                           "targetUserId": person}),
                )
                .await?;
            }
        }));
    }
    for h in handles {
        h.await??;
    }
    let n = i64::try_from(people.len())?;
    loop {
        let (done, failed): (i64, i64) = sqlx::query_as(
            "select count(*) filter (where state = 'done'), count(*) filter (where state = 'failed')
             from outbox where tenant_id = $1 and kind = $2 and created_at >= $3",
        )
        .bind(tenant)
        .bind(kind)
        .bind(since)
        .fetch_one(pool)
        .await?;
        if failed > 0 {
            let error = last_error(pool, tenant, kind, since).await?;
            bail!("{failed} {kind} grants failed: {error}");
        }
        if done >= n {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            let error = last_error(pool, tenant, kind, since).await?;
            bail!("{done} of {n} {kind} grants delivered within 10 minutes (last error: {error})");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let (p50, p95, p99): (f64, f64, f64) = sqlx::query_as(
        "select percentile_cont(0.5) within group (order by ms),
                percentile_cont(0.95) within group (order by ms),
                percentile_cont(0.99) within group (order by ms)
         from (select extract(epoch from completed_at - created_at) * 1000 as ms
               from outbox where tenant_id = $1 and kind = $2 and created_at >= $3) d",
    )
    .bind(tenant)
    .bind(kind)
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(Row {
        name: String::new(),
        throughput: n as f64 / took.as_secs_f64(),
        p50,
        p95,
        p99,
        ceiling: None,
    })
}

/// An error one of the run's calls of `kind` recorded ("" when none did).
async fn last_error(
    pool: &PgPool,
    tenant: Uuid,
    kind: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    let error: Option<String> = sqlx::query_scalar(
        "select last_error from outbox where tenant_id = $1 and kind = $2 and created_at >= $3
           and last_error is not null limit 1",
    )
    .bind(tenant)
    .bind(kind)
    .bind(since)
    .fetch_optional(pool)
    .await?
    .flatten();
    Ok(error.unwrap_or_default())
}

/// The SCIM target: a tenant of its own holding the target group, and its SCIM token.
async fn scim_target(pool: &PgPool, http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let now = chrono::Utc::now();
    let input = portico::services::tenants::NewTenant {
        slug: portico::domain::values::Slug::parse(TARGET_SLUG).map_err(invalid)?,
        display_name: portico::domain::values::DisplayName::parse("Connector target")
            .map_err(invalid)?,
        admin_email: portico::domain::values::EmailAddress::parse("admin@target.bench.test")
            .map_err(invalid)?,
    };
    portico::services::tenants::create(pool, input, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, token) =
        portico::services::scim::tokens::create_for_tenant(pool, TARGET_SLUG, Some("bench"), now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let res = http
        .post(format!("{base}/scim/v2/{TARGET_SLUG}/Groups"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .json(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                      "displayName": TARGET_GROUP}),
        )
        .send()
        .await?;
    expect_status(res, 201).await.context("the target group")?;
    Ok(token)
}

/// Members of the target group in the target tenant.
async fn target_members(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from group_memberships m
         join groups g on g.tenant_id = m.tenant_id and g.id = m.group_id
         join tenants t on t.id = g.tenant_id
         where t.slug = $1 and g.display_name = $2",
    )
    .bind(TARGET_SLUG)
    .bind(TARGET_GROUP)
    .fetch_one(pool)
    .await?)
}

/// A webhook receiver answering 204 to every call; its address.
async fn start_receiver() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(|| async { axum::http::StatusCode::NO_CONTENT });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

fn invalid(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}
