//! What the outbox holds for a tenant: tenant admins see queued, sent and failed
//! deliveries (emails and connector calls), most usefully the permanent failures.

use sqlx::PgPool;

use super::{Caller, ServiceResult};
use crate::db::outbox::OutboxRow;
use crate::db::{self, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::outbox::{OutboxKind, OutboxState};

/// `values` as a list for a message: "a, b, c".
fn one_of<T: Copy + std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
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
    let state = match state {
        None => None,
        Some(s) => Some(OutboxState::parse(s).ok_or_else(|| {
            DomainError::field(
                "state",
                format!(
                    "unknown state '{s}'; use one of {}",
                    one_of(OutboxState::ALL)
                ),
            )
        })?),
    };
    let kind = match kind {
        None => None,
        Some(k) => Some(OutboxKind::parse(k).ok_or_else(|| {
            DomainError::field(
                "kind",
                format!("unknown kind '{k}'; use one of {}", one_of(OutboxKind::ALL)),
            )
        })?),
    };
    let mut conn = pool.acquire().await?;
    Ok(db::outbox::list(&mut conn, caller.tenant_id(), state, kind, page).await?)
}
