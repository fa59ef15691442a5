//! A person's own settings, which anyone signed in may change for themselves and only
//! for themselves (the caller is the target; no id is taken): the time zone they read
//! and type times in. Admins change other people through `services::users`.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::audit::{Entry, Trail};
use super::{Caller, ServiceError, ServiceResult, validated};
use crate::db;
use crate::db::users::User;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::{DomainError, FieldErrors};

/// Sets the caller's own time zone (an IANA name; `None` or "" is the tenant's),
/// audited as a change of their user.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn set_time_zone(
    pool: &PgPool,
    caller: &Caller,
    zone: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    let mut errors = FieldErrors::new();
    let zone = match zone.as_deref().map(str::trim).filter(|z| !z.is_empty()) {
        None => None,
        Some(z) => errors
            .check("timeZone", crate::time_text::parse_zone(z))
            .map(|z| z.name().to_string()),
    };
    validated(errors)?;
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let mut user = db::users::lock(&mut tx, tenant, caller.user_id())
        .await?
        .ok_or(ServiceError::Domain(DomainError::NotFound("user")))?;
    if user.time_zone == zone {
        return Ok(user);
    }
    let before = std::mem::replace(&mut user.time_zone, zone);
    user.updated_at = now;
    db::users::update(&mut tx, &user).await?;
    let mut trail = Trail::default();
    trail.add(
        tenant,
        caller.actor(),
        Entry::new(
            AuditAction::UserUpdated,
            Target::User(user.id),
            json!({"before": {"timeZone": before}, "after": {"timeZone": user.time_zone}}),
        ),
        now,
    );
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(user)
}
