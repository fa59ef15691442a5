//! Records kept in `users`: what `db::users` reads and writes and services hand out.

use crate::domain::ids::{TenantId, UserId};
use crate::domain::values::UserKind;
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow, serde::Deserialize)]
pub struct User {
    pub tenant_id: TenantId,
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub manager_id: Option<UserId>,
    pub kind: UserKind,
    pub active: bool,
    pub external_id: Option<String>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Created or touched by the tenant's directory (SCIM): it owns the attributes it
    /// pushes, which the admin portal then shows read-only.
    pub directory_managed: bool,
    /// The IANA time zone this person reads times in; `None` is the tenant's.
    pub time_zone: Option<String>,
}

impl User {
    pub fn is_guest(&self) -> bool {
        self.kind == UserKind::Guest
    }
}
