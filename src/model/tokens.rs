//! Records kept in `tokens`: what `db::tokens` reads and writes and services hand out.

use crate::domain::ids::{TenantId, TokenId, UserId};
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct ApiToken {
    pub tenant_id: TenantId,
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}
