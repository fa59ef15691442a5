//! `bulk`: one call of `POST /api/v1/accessPackages/{id}/assignments/bulk` that
//! assigns a package (membership of one directory group) to `--bulk-rows` people
//! (10,000 by default) in a tenant of its own. Every row is checked and written in
//! one transaction; the report gives the call's time and the rows per second.

use std::time::Instant;

use anyhow::{Context, bail};
use portico::db;
use portico::db::catalogs::{Resource, ResourceRole};
use portico::db::packages::{AccessPackage, Policy};
use portico::domain::ids::{
    CatalogId, GroupId, PackageId, PolicyId, ResourceId, ResourceRoleId, TenantId,
};
use portico::domain::policy::PolicySettings;
use serde_json::json;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::Args;
use crate::load::expect_status;
use crate::report::Row;

const SLUG: &str = "bulkbench";
const ADMIN: &str = "admin@bulk.bench.test";

/// A package of tenant `t` that delivers membership of a new group, with one policy
/// that only admins assign under; returns the package.
async fn package(pool: &PgPool, t: TenantId) -> anyhow::Result<PackageId> {
    let now = chrono::Utc::now();
    let mut conn = pool.acquire().await?;
    let catalog: Uuid = sqlx::query_scalar(
        "select id from catalogs where tenant_id = $1 and display_name = 'General'",
    )
    .bind(t)
    .fetch_one(&mut *conn)
    .await?;
    let group = portico::db::groups::Group {
        tenant_id: t,
        id: GroupId::new(),
        display_name: "Bulk".into(),
        description: String::new(),
        created_at: now,
        updated_at: now,
        external_id: None,
        directory_managed: false,
    };
    db::groups::insert(&mut conn, &group).await?;
    let resource = Resource {
        tenant_id: t,
        id: ResourceId::new(),
        catalog_id: CatalogId(catalog),
        kind: "group".into(),
        group_id: Some(group.id),
        display_name: "Bulk group".into(),
        description: String::new(),
        connector: None,
        connector_secret: None,
        added_by_tenant_admin: true,
        created_at: now,
        updated_at: now,
    };
    let role = ResourceRole {
        tenant_id: t,
        id: ResourceRoleId::new(),
        resource_id: resource.id,
        display_name: "Member".into(),
        group_relation: Some("member".into()),
        connector_value: None,
        created_at: now,
    };
    db::catalogs::insert_resource(&mut conn, &resource, std::slice::from_ref(&role)).await?;
    let package = AccessPackage {
        tenant_id: t,
        id: PackageId::new(),
        catalog_id: CatalogId(catalog),
        display_name: "Bulk".into(),
        description: String::new(),
        hidden: false,
        created_at: now,
        updated_at: now,
        archived_at: None,
        version: 1,
    };
    db::packages::insert(&mut conn, &package).await?;
    db::packages::add_role(&mut conn, t, package.id, role.id, now).await?;
    let settings: PolicySettings =
        serde_json::from_value(json!({"requestors": {"scope": "none"}}))?;
    let policy = Policy {
        tenant_id: t,
        id: PolicyId::new(),
        package_id: package.id,
        display_name: "Admin assigned".into(),
        settings: Json(settings),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    db::packages::insert_policy(&mut conn, &policy).await?;
    Ok(package.id)
}

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
        display_name: portico::domain::values::DisplayName::parse("Bulk")
            .map_err(|e| anyhow::anyhow!(e))?,
        admin_email: portico::domain::values::EmailAddress::parse(ADMIN)
            .map_err(|e| anyhow::anyhow!(e))?,
    };
    let (tenant, _) = portico::services::tenants::create(pool, input, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, token) = portico::services::tokens::create(pool, SLUG, ADMIN, Some("bench"), None, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows = args.bulk_rows;
    sqlx::query(
        "insert into users (tenant_id, id, email, display_name, department, job_title, manager_id, kind, active, created_at, updated_at)
         select $1, gen_random_uuid(), 'bulk' || i || '@bulk.bench.test', 'Bulk ' || i, 'Bulk', 'Engineer', null, 'member', true, now(), now()
         from generate_series(1, $2::bigint) i",
    )
    .bind(tenant.id)
    .bind(rows as i64)
    .execute(pool)
    .await?;
    sqlx::query("analyze users").execute(pool).await?;
    let package = package(pool, tenant.id).await?;
    let emails: Vec<String> = (1..=rows)
        .map(|i| format!("bulk{i}@bulk.bench.test"))
        .collect();

    let started = Instant::now();
    let res = http
        .post(format!(
            "{base}/api/v1/accessPackages/{package}/assignments/bulk"
        ))
        .bearer_auth(&token)
        .json(&json!({"emails": emails, "justification": "bench"}))
        .send()
        .await?;
    let answer = expect_status(res, 200).await?;
    let took = started.elapsed();
    let done = answer["done"].as_u64().context("the answer's done count")?;
    if done != rows as u64 {
        bail!("the bulk call did {done} of {rows} rows");
    }
    let assigned: i64 = sqlx::query_scalar(
        "select count(*) from assignments where tenant_id = $1 and state = 'delivered'",
    )
    .bind(tenant.id)
    .fetch_one(pool)
    .await?;
    if assigned != rows as i64 {
        bail!("{assigned} of {rows} assignments were delivered");
    }
    let ms = took.as_secs_f64() * 1000.0;
    println!(
        "bulk: assigned {rows} people in one call in {:.1} s ({:.0} rows/s)",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64()
    );
    report.push(Row {
        name: format!("bulk: assign {rows} in one call (rows/s)"),
        throughput: rows as f64 / took.as_secs_f64(),
        p50: ms,
        p95: ms,
        p99: ms,
        ceiling: None,
    });
    Ok(())
}
