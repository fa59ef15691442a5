//! What needs an admin's attention, counted in one statement for the admin overview.

use chrono::{DateTime, Duration, Utc};
use sqlx::FromRow;

use super::{Conn, DbResult};
use crate::domain::ids::{CatalogId, TenantId};

/// Requests waiting for approval longer than this count as old.
pub const OLD_REQUEST_DAYS: i64 = 7;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromRow)]
pub struct Attention {
    /// Requests pending approval for more than `OLD_REQUEST_DAYS` days.
    pub old_requests: i64,
    /// Active assignments ending within seven days.
    pub ending_this_week: i64,
    /// Access reviews in progress, their items, and how many are decided.
    pub reviews_in_progress: i64,
    pub review_items: i64,
    pub review_items_decided: i64,
    /// Emails and connector calls failed for good (tenant-wide; `None` rows for
    /// callers limited to catalogs count 0).
    pub failed_deliveries: i64,
    /// Resources whose connector has a call failed for good.
    pub connectors_in_error: i64,
}

/// The counts for `tenant`, limited to `catalogs` when given (deliveries and connectors
/// are counted only without a limit: they are the tenant admins').
pub async fn counts(
    conn: &mut Conn,
    tenant: TenantId,
    catalogs: Option<&[CatalogId]>,
    now: DateTime<Utc>,
) -> DbResult<Attention> {
    let ids: Option<Vec<uuid::Uuid>> = catalogs.map(|c| c.iter().map(|c| c.0).collect());
    Ok(sqlx::query_as(
        "with pkgs as (
             select id from access_packages
             where tenant_id = $1 and ($2::uuid[] is null or catalog_id = any($2))),
         reviews as (
             select rv.id from access_reviews rv
             where rv.tenant_id = $1 and rv.state = 'inProgress'
               and rv.package_id in (select id from pkgs))
         select
             (select count(*) from assignment_requests r
              where r.tenant_id = $1 and r.state = 'pendingApproval' and r.created_at < $3
                and r.package_id in (select id from pkgs)) as old_requests,
             (select count(*) from assignments a
              where a.tenant_id = $1
                and a.state in ('delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed')
                and a.end_at >= $4 and a.end_at < $5
                and a.package_id in (select id from pkgs)) as ending_this_week,
             (select count(*) from reviews) as reviews_in_progress,
             (select count(*) from access_review_items i
              where i.tenant_id = $1 and i.review_id in (select id from reviews)) as review_items,
             (select count(*) from access_review_items i
              where i.tenant_id = $1 and i.review_id in (select id from reviews)
                and i.decided_at is not null) as review_items_decided,
             (select count(*) from outbox o
              where $2::uuid[] is null and o.tenant_id = $1 and o.state = 'failed') as failed_deliveries,
             (select count(distinct o.payload ->> 'resourceId') from outbox o
              where $2::uuid[] is null and o.tenant_id = $1 and o.state = 'failed'
                and o.kind not in ('email', 'slack', 'teams')) as connectors_in_error",
    )
    .bind(tenant)
    .bind(ids)
    .bind(now - Duration::days(OLD_REQUEST_DAYS))
    .bind(now)
    .bind(now + Duration::days(7))
    .fetch_one(conn)
    .await?)
}
