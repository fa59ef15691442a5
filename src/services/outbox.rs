//! What the outbox holds for a tenant: tenant admins see queued, sent and failed
//! deliveries (emails and connector calls), most usefully the permanent failures.

use sqlx::PgPool;

use super::{Caller, ServiceResult};
use crate::db::outbox::OutboxRow;
use crate::db::{self, Page, PageRequest};
use crate::domain::DomainError;

pub const STATES: [&str; 4] = ["pending", "done", "failed", "superseded"];
pub const KINDS: [&str; 2] = ["email", "webhook"];

pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    state: Option<&str>,
    kind: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<OutboxRow>> {
    if !caller.roles.is_tenant_admin() {
        return Err(DomainError::forbidden("Only tenant admins can see the outbox.").into());
    }
    if let Some(s) = state
        && !STATES.contains(&s)
    {
        return Err(DomainError::field(
            "state",
            format!("unknown state '{s}'; use one of {}", STATES.join(", ")),
        )
        .into());
    }
    if let Some(k) = kind
        && !KINDS.contains(&k)
    {
        return Err(DomainError::field(
            "kind",
            format!("unknown kind '{k}'; use one of {}", KINDS.join(", ")),
        )
        .into());
    }
    let mut conn = pool.acquire().await?;
    Ok(db::outbox::list(&mut conn, caller.tenant_id(), state, kind, page).await?)
}
