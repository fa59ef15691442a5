//! Records kept in `catalogs`: what `db::catalogs` reads and writes and services hand out.

use crate::domain::connector::Connector;
use crate::domain::ids::{CatalogId, GroupId, ResourceId, ResourceRoleId, TenantId};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct Catalog {
    pub tenant_id: TenantId,
    pub id: CatalogId,
    pub display_name: String,
    pub description: String,
    pub enabled: bool,
    pub externally_visible: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Raised by every change; a change made from an older version is refused.
    pub version: i64,
}

#[derive(Clone, Debug, FromRow, Deserialize)]
pub struct Resource {
    pub tenant_id: TenantId,
    pub id: ResourceId,
    pub catalog_id: CatalogId,
    pub kind: String,
    pub group_id: Option<GroupId>,
    pub display_name: String,
    pub description: String,
    /// How grants reach the target system; `None` when they are only recorded.
    #[sqlx(json(nullable))]
    pub connector: Option<Connector>,
    /// The connector's secret, sealed (`services::catalogs::connector_secret_context`).
    pub connector_secret: Option<String>,
    /// A tenant admin added it: only then may delivery put people into a group that
    /// holds a role or approves for another catalog.
    pub added_by_tenant_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, FromRow, Deserialize)]
pub struct ResourceRole {
    pub tenant_id: TenantId,
    pub id: ResourceRoleId,
    pub resource_id: ResourceId,
    pub display_name: String,
    /// `member` / `owner` for group resources.
    pub group_relation: Option<String>,
    /// What the role means in the target of the resource's connector (its name unless
    /// given); `None` for group resources.
    pub connector_value: Option<String>,
    pub created_at: DateTime<Utc>,
}
