//! Versions of catalogs, access packages and policies: a change made from an older copy
//! (an API client's `If-Match`, an admin's form opened before someone else's save) is
//! refused with who changed the object since and when, instead of silently overwriting
//! their change.

use crate::db::{self, Conn};
use crate::domain::DomainError;
use crate::domain::audit::{ActorType, Target};
use crate::domain::ids::{TenantId, UserId};
use crate::services::ServiceResult;
use crate::services::views::names::person;
use crate::time_text;

/// Refuses the change when the caller's copy (`expected`) is not the stored `version`;
/// without an expected version the change goes ahead (last write wins, as before).
#[tracing::instrument(skip_all)]
pub async fn check(
    conn: &mut Conn,
    tenant: TenantId,
    target: Target,
    what: &str,
    version: i64,
    expected: Option<i64>,
) -> ServiceResult<()> {
    match expected {
        Some(v) if v != version => Err(stale(conn, tenant, target, what).await?.into()),
        _ => Ok(()),
    }
}

/// The refusal of a change that lost the race to another one: who made that change and
/// when, in words.
#[tracing::instrument(skip_all)]
pub async fn stale(
    conn: &mut Conn,
    tenant: TenantId,
    target: Target,
    what: &str,
) -> ServiceResult<DomainError> {
    let by = match db::audit::last_change(conn, tenant, target).await? {
        Some((ActorType::User | ActorType::Token, Some(id), at)) => {
            let name = db::users::get(conn, tenant, UserId(id))
                .await?
                .map_or_else(|| "someone".to_string(), |u| person(&u));
            format!("by {name} at {}", time_text::when(at))
        }
        Some((ActorType::System, _, at)) => format!("by Portico at {}", time_text::when(at)),
        Some((ActorType::Directory, _, at)) => {
            format!("by your identity provider at {}", time_text::when(at))
        }
        Some((_, None, at)) => format!("by someone at {}", time_text::when(at)),
        None => "by someone".to_string(),
    };
    Ok(DomainError::Stale(format!(
        "This {what} was changed {by} since you opened it; your changes were not saved. Review the current version and make your changes again."
    )))
}
