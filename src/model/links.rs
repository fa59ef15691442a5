//! Records kept in `links`: what `db::links` reads and writes and services hand out.

use crate::domain::ids::{RequestId, TenantId, UserId};
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct ApprovalLink {
    pub tenant_id: TenantId,
    pub id: uuid::Uuid,
    pub token_hash: Vec<u8>,
    pub request_id: RequestId,
    pub stage_index: i32,
    pub approver_id: UserId,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
