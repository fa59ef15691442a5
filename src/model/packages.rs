//! Records kept in `packages`: what `db::packages` reads and writes and services hand out.

use crate::domain::ids::{CatalogId, PackageId, PolicyId, TenantId};
use crate::domain::policy::PolicySettings;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::FromRow;
use sqlx::types::Json;

#[derive(Clone, Debug, FromRow, Deserialize)]
pub struct AccessPackage {
    pub tenant_id: TenantId,
    pub id: PackageId,
    pub catalog_id: CatalogId,
    pub display_name: String,
    pub description: String,
    pub hidden: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set once the package is archived: kept for its history, read-only, listed nowhere.
    pub archived_at: Option<DateTime<Utc>>,
    /// Raised by every change; a change made from an older version is refused.
    pub version: i64,
}

#[derive(Clone, Debug, FromRow, Deserialize)]
pub struct Policy {
    pub tenant_id: TenantId,
    pub id: PolicyId,
    pub package_id: PackageId,
    pub display_name: String,
    pub settings: Json<PolicySettings>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Raised by every change; a change made from an older version is refused.
    pub version: i64,
}
