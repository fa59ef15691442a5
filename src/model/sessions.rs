//! Records kept in `sessions`: what `db::sessions` reads and writes and services hand out.

use crate::domain::ids::{TenantId, UserId};
use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct Session {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub csrf_token: String,
    pub method: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, FromRow)]
pub struct SignInLink {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
