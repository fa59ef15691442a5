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
}

/// Which relation of a user to a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Member,
    Owner,
}

/// A user with every source of their membership (`None` = direct).
#[derive(Clone, Debug, FromRow)]
pub struct MemberRow {
    pub user_id: UserId,
    pub sources: Vec<Option<Uuid>>,
}
