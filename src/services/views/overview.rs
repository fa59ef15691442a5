//! The requester portal's home page: the caller's counts and their access ending soon.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use super::names::{Names, Wanted};
use crate::db;
use crate::db::assignments::AssignmentRow;
pub use crate::db::attention::{Attention, OLD_REQUEST_DAYS};
use crate::db::portal::Counts;
use crate::services::{Caller, ServiceResult};

/// The portal's home page: counts, open requests and access ending soon.
pub struct Overview {
    pub counts: Counts,
    pub ending_soon: Vec<AssignmentRow>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn overview(
    pool: &PgPool,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<Overview> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let counts = db::portal::counts(&mut conn, tenant, caller.user_id(), now).await?;
    let soon = now + Duration::days(30);
    let ending_soon: Vec<AssignmentRow> =
        db::assignments::active_of_user(&mut conn, tenant, caller.user_id())
            .await?
            .into_iter()
            .filter(|a| a.end_at.is_some_and(|e| e <= soon))
            .collect();
    let mut wanted = Wanted::default();
    for a in &ending_soon {
        wanted.package(a.package_id.0);
    }
    let names = wanted.resolve(&mut conn, tenant).await?;
    Ok(Overview {
        counts,
        ending_soon,
        names,
    })
}

/// What needs the admin's attention, within the catalogs they manage (tenant admins:
/// everything, deliveries and connectors included).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn attention(
    pool: &PgPool,
    caller: &Caller,
    now: DateTime<Utc>,
) -> ServiceResult<Attention> {
    let mut conn = pool.acquire().await?;
    let tenant = caller.tenant_id();
    if caller.roles.is_tenant_admin() {
        return Ok(db::attention::counts(&mut conn, tenant, None, now).await?);
    }
    let managed = crate::services::reports::overseen_catalogs(caller);
    if managed.is_empty() {
        return Ok(Attention::default());
    }
    Ok(db::attention::counts(&mut conn, tenant, Some(&managed), now).await?)
}
