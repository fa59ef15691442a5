//! Records kept in `groups`: what `db::groups` reads and writes and services hand out.

use crate::domain::ids::{GroupId, TenantId, UserId};
use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct Group {
    pub tenant_id: TenantId,
    pub id: GroupId,
    pub display_name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The directory's own key for the group (SCIM `externalId`).
    pub external_id: Option<String>,
    /// Created or touched by the tenant's directory (SCIM).
    pub directory_managed: bool,
}

/// Which relation of a user to a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Member,
    Owner,
}

/// A user with every source of their membership (`None` = direct); `directory` when
/// the tenant's directory (SCIM) also made them a member.
#[derive(Clone, Debug, FromRow)]
pub struct MemberRow {
    pub user_id: UserId,
    pub sources: Vec<Option<Uuid>>,
    pub directory: bool,
}
