//! People and groups as the portals' forms name them: a user by email address, a group
//! by its exact (case-insensitive) display name.

use sqlx::PgPool;

use super::roles::Principal;
use super::{Caller, ServiceResult};
use crate::db::users::User;
use crate::db::{self, Conn, PageRequest};
use crate::domain::DomainError;
use crate::domain::ids::TenantId;

/// A user by email, or a group by exact (case-insensitive) display name; a field error
/// on `field` when there is none (or several groups of that name).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub(crate) async fn resolve_principal(
    pool: &PgPool,
    caller: &Caller,
    raw: &str,
    field: &str,
) -> ServiceResult<Principal> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            DomainError::field(field, "enter a user's email address or a group's name").into(),
        );
    }
    let mut conn = pool.acquire().await?;
    let tenant = caller.tenant_id();
    if raw.contains('@') {
        return match db::users::by_email(&mut conn, tenant, raw).await? {
            Some(u) => Ok(Principal::User(u.id)),
            None => Err(DomainError::field(
                field,
                format!("there is no user with the email address {raw}"),
            )
            .into()),
        };
    }
    let found = db::groups::list(&mut conn, tenant, Some(raw), PageRequest::first(50)).await?;
    let exact: Vec<_> = found
        .items
        .into_iter()
        .filter(|g| g.display_name.eq_ignore_ascii_case(raw))
        .collect();
    match exact.as_slice() {
        [g] => Ok(Principal::Group(g.id)),
        [] => Err(DomainError::field(field, format!("there is no user or group called '{raw}' (enter a user's email address or a group's exact name)")).into()),
        _ => Err(DomainError::field(field, format!("several groups are called '{raw}'; rename one of them first")).into()),
    }
}

/// The user with that email address; a field error on `field` when there is none.
#[tracing::instrument(skip_all)]
pub(crate) async fn user_by_email(
    conn: &mut Conn,
    tenant: TenantId,
    raw: &str,
    field: &str,
) -> ServiceResult<User> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(DomainError::field(field, "enter the person's email address").into());
    }
    db::users::by_email(conn, tenant, raw)
        .await?
        .ok_or_else(|| {
            DomainError::field(
                field,
                format!("there is no user with the email address {raw}"),
            )
            .into()
        })
}
