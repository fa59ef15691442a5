//! Records kept in `tenants`: what `db::tenants` reads and writes and services hand out.

use crate::domain::ids::TenantId;
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow, serde::Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub display_name: String,
    pub reply_to: Option<String>,
    pub approval_links_require_sign_in: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The IANA time zone its pages, emails and messages show times in.
    pub time_zone: String,
}
