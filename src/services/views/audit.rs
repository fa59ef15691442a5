//! The admin portal's audit log, with the names of its actors.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::names::{Names, Wanted};
use crate::db::audit::AuditEvent;
use crate::db::{Page, PageRequest};
use crate::services::{Caller, ServiceResult, audit};

/// The audit log with the names of its actors.
#[derive(Debug)]
pub struct AuditPage {
    pub events: Page<AuditEvent>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn audit_page(
    pool: &PgPool,
    caller: &Caller,
    target: Option<Uuid>,
    after: Option<DateTime<Utc>>,
    page: PageRequest,
) -> ServiceResult<AuditPage> {
    let events = audit::list(pool, caller, target, after, page).await?;
    let mut wanted = Wanted::default();
    for e in &events.items {
        if let Some(a) = e.actor_id {
            wanted.user(a);
        }
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(AuditPage { events, names })
}
