//! The admin portal's audit log: events with the names of their actors and targets as
//! they were written (older events: as they are now).

use sqlx::PgPool;

use crate::db::{Page, PageRequest};
pub use crate::model::audit::AuditEvent as Event;
use crate::services::audit::FilterInput;
use crate::services::{Caller, ServiceResult, audit};

/// A page of the audit log.
#[derive(Debug)]
pub struct AuditPage {
    pub events: Page<Event>,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn audit_page(
    pool: &PgPool,
    caller: &Caller,
    filter: &FilterInput,
    page: PageRequest,
) -> ServiceResult<AuditPage> {
    let events = audit::list(pool, caller, filter, page).await?;
    Ok(AuditPage { events })
}
