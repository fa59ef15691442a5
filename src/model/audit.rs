//! Records kept in `audit`: what `db::audit` reads and writes and services hand out.

use crate::domain::audit::{ActorType, AuditAction, TargetType};
use crate::domain::ids::{AuditEventId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct AuditEvent {
    pub tenant_id: TenantId,
    pub id: AuditEventId,
    pub at: DateTime<Utc>,
    pub actor_type: ActorType,
    pub actor_id: Option<Uuid>,
    pub actor_token_id: Option<Uuid>,
    pub action: AuditAction,
    pub target_type: TargetType,
    pub target_id: Option<Uuid>,
    pub details: serde_json::Value,
    pub correlation_id: Option<Uuid>,
    /// The actor's name when the event was written (or, for older events, now).
    pub actor_name: Option<String>,
    /// The target's name when the event was written (or, for older events, now).
    pub target_name: Option<String>,
}
