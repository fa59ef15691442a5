//! `scim-sync`: a directory's first sync over SCIM, as Entra ID and Okta push one. A
//! tenant of its own and a SCIM token; then `--scim-users` users, each looked up by
//! `userName eq` and created with the enterprise extension and a manager among the
//! users before them; then `--scim-groups` groups, each looked up by `displayName
//! eq`, created, and given 20 members in one PATCH. `--scim-clients` clients pull the
//! next user (group) in order, as a provisioning engine's workers do; a user whose
//! manager is still being created waits for them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::Args;
use crate::load::expect_status;
use crate::report::{Row, Samples};

const SLUG: &str = "scimsync";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Members each group is given.
const MEMBERS: usize = 20;
/// Users each manager manages: user i reports to user i / FAN_OUT.
const FAN_OUT: usize = 10;

/// One SCIM client of the tenant.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn send(&self, req: reqwest::RequestBuilder, want: u16) -> anyhow::Result<Value> {
        let res = req
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .send()
            .await?;
        expect_status(res, want).await
    }

    /// `GET {path}?filter=…`: whether it found a resource.
    async fn lookup(&self, path: &str, filter: &str) -> anyhow::Result<bool> {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .query(&[("filter", filter)]);
        let list = self.send(req, 200).await?;
        Ok(list["totalResults"].as_i64().unwrap_or(0) > 0)
    }

    async fn create(&self, path: &str, body: &Value) -> anyhow::Result<String> {
        let req = self.http.post(format!("{}{path}", self.base)).json(body);
        let created = self.send(req, 201).await?;
        created["id"]
            .as_str()
            .map(str::to_string)
            .context("a created resource without id")
    }
}

/// Latencies (µs) of the calls of one kind, from every client.
#[derive(Default)]
struct Calls(std::sync::Mutex<Vec<u64>>);

impl Calls {
    async fn time<T>(&self, call: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
        let t0 = Instant::now();
        let out = call.await?;
        let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
        if let Ok(mut l) = self.0.lock() {
            l.push(us);
        }
        Ok(out)
    }

    fn row(self, name: &str, elapsed: Duration) -> Row {
        Samples {
            latencies: self.0.into_inner().unwrap_or_default(),
            elapsed,
        }
        .row(name, None)
    }
}

fn user_body(i: usize, manager: Option<&str>) -> Value {
    let mut ext =
        json!({"department": format!("Dept {}", i % 40), "employeeNumber": format!("{i}")});
    if let Some(m) = manager {
        ext["manager"] = json!({"value": m});
    }
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": format!("ext-{i}"),
        "userName": format!("person{i}@sync.bench.test"),
        "name": {"givenName": "Person", "familyName": format!("{i}"), "formatted": format!("Person {i}")},
        "displayName": format!("Person {i}"),
        "title": "Engineer",
        "active": true,
        "emails": [{"value": format!("person{i}@sync.bench.test"), "type": "work", "primary": true}],
        ENTERPRISE: ext,
    })
}

/// Runs `clients` workers that each take the next index below `n` until none is left.
async fn in_order<F, Fut>(clients: usize, n: usize, work: F) -> anyhow::Result<Duration>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (next, work) = (next.clone(), work.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                work(i).await.with_context(|| format!("item {i}"))?;
            }
        }));
    }
    for h in handles {
        h.await??;
    }
    Ok(started.elapsed())
}

/// The scenario: a tenant and token, then the sync; rows for each kind of call.
pub(crate) async fn run(
    args: &Args,
    pool: &PgPool,
    http: &reqwest::Client,
    base: &str,
    report: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let input = portico::services::tenants::NewTenant {
        slug: portico::domain::values::Slug::parse(SLUG).map_err(|e| anyhow::anyhow!(e))?,
        display_name: portico::domain::values::DisplayName::parse("SCIM sync")
            .map_err(|e| anyhow::anyhow!(e))?,
        admin_email: portico::domain::values::EmailAddress::parse("admin@sync.bench.test")
            .map_err(|e| anyhow::anyhow!(e))?,
    };
    portico::services::tenants::create(pool, input, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, token) =
        portico::services::scim::tokens::create_for_tenant(pool, SLUG, Some("bench"), now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = Client {
        http: http.clone(),
        base: format!("{base}/scim/v2/{SLUG}"),
        token,
    };
    let (users, groups, clients) = (args.scim_users, args.scim_groups, args.scim_clients);
    let started = Instant::now();

    // Users, each after a lookup; user i reports to user i / FAN_OUT.
    let ids: Arc<Vec<OnceLock<String>>> = Arc::new((0..users).map(|_| OnceLock::new()).collect());
    let (user_lookups, user_posts) = (Arc::new(Calls::default()), Arc::new(Calls::default()));
    let users_took = {
        let (client, ids) = (client.clone(), ids.clone());
        let (lookups, posts) = (user_lookups.clone(), user_posts.clone());
        in_order(clients, users, move |i| {
            let (client, ids) = (client.clone(), ids.clone());
            let (lookups, posts) = (lookups.clone(), posts.clone());
            async move {
                let manager = match i {
                    0 => None,
                    _ => Some(wait_for(&ids[i / FAN_OUT]).await?),
                };
                let filter = format!("userName eq \"person{i}@sync.bench.test\"");
                if lookups.time(client.lookup("/Users", &filter)).await? {
                    bail!("person{i} exists before the sync");
                }
                let body = user_body(i, manager.as_deref());
                let id = posts.time(client.create("/Users", &body)).await?;
                let _ = ids[i].set(id);
                Ok(())
            }
        })
        .await?
    };

    // Groups: lookup, create, then one PATCH adding MEMBERS members.
    let (group_lookups, group_posts, group_patches) = (
        Arc::new(Calls::default()),
        Arc::new(Calls::default()),
        Arc::new(Calls::default()),
    );
    let groups_took = {
        let (client, ids) = (client.clone(), ids.clone());
        let (lookups, posts, patches) = (
            group_lookups.clone(),
            group_posts.clone(),
            group_patches.clone(),
        );
        in_order(clients, groups, move |g| {
            let (client, ids) = (client.clone(), ids.clone());
            let (lookups, posts, patches) = (lookups.clone(), posts.clone(), patches.clone());
            async move {
                let name = format!("Sync group {g}");
                if lookups
                    .time(client.lookup("/Groups", &format!("displayName eq \"{name}\"")))
                    .await?
                {
                    bail!("{name} exists before the sync");
                }
                let body = json!({"schemas": [GROUP], "displayName": name, "externalId": format!("grp-{g}")});
                let id = posts.time(client.create("/Groups", &body)).await?;
                let members: Vec<Value> = (0..MEMBERS)
                    .filter_map(|k| ids.get((g * MEMBERS + k * 7) % ids.len().max(1)))
                    .filter_map(OnceLock::get)
                    .map(|id| json!({"value": id}))
                    .collect();
                let ops = json!({"schemas": [PATCH], "Operations": [
                    {"op": "add", "path": "members", "value": members}]});
                let req = client
                    .http
                    .patch(format!("{}/Groups/{id}", client.base))
                    .json(&ops);
                patches.time(client.send(req, 200)).await?;
                Ok(())
            }
        })
        .await?
    };
    let total = started.elapsed();
    check_memberships(pool, groups * MEMBERS.min(users)).await?;

    let take = |c: Arc<Calls>| Arc::try_unwrap(c).unwrap_or_default();
    report.push(take(user_lookups).row("scim: user lookup (GET eq)", users_took));
    report.push(take(user_posts).row("scim: create user (POST)", users_took));
    report.push(take(group_lookups).row("scim: group lookup (GET eq)", groups_took));
    report.push(take(group_posts).row("scim: create group (POST)", groups_took));
    report.push(take(group_patches).row("scim: add 20 members (PATCH)", groups_took));
    println!(
        "scim-sync: {users} users in {:.1} s ({:.0} users/s), {groups} groups in {:.1} s ({:.0} groups/s), whole sync {:.1} s with {clients} clients",
        users_took.as_secs_f64(),
        users as f64 / users_took.as_secs_f64(),
        groups_took.as_secs_f64(),
        groups as f64 / groups_took.as_secs_f64(),
        total.as_secs_f64(),
    );
    Ok(())
}

/// The id of a user another client is creating, once it is there.
async fn wait_for(slot: &OnceLock<String>) -> anyhow::Result<String> {
    for _ in 0..6000 {
        if let Some(id) = slot.get() {
            return Ok(id.clone());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("a manager was not created within 30 s")
}

/// The memberships the PATCHes wrote are all there (the sync did what it said).
async fn check_memberships(pool: &PgPool, want: usize) -> anyhow::Result<()> {
    let found: i64 = sqlx::query_scalar(
        "select count(*) from group_memberships m join tenants t on t.id = m.tenant_id
         where t.slug = $1 and m.from_directory",
    )
    .bind(SLUG)
    .fetch_one(pool)
    .await?;
    if usize::try_from(found).ok() != Some(want) {
        bail!("expected {want} directory memberships after the sync, found {found}");
    }
    Ok(())
}
