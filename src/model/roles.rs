//! Records kept in `roles`: what `db::roles` reads and writes and services hand out.

use crate::domain::authz::Role;
use crate::domain::ids::{CatalogId, GroupId, RoleAssignmentId, TenantId, UserId};
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct RoleAssignment {
    pub tenant_id: TenantId,
    pub id: RoleAssignmentId,
    pub role: Role,
    pub user_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    pub catalog_id: Option<CatalogId>,
    pub created_at: DateTime<Utc>,
}
