//! Records kept in `chat_settings` and `chat_messages`.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::chat::ChatMessageState;
use crate::domain::ids::{RequestId, TenantId, UserId};

/// A tenant's chat settings as stored; every secret is sealed.
#[derive(Clone, Debug, FromRow)]
pub struct ChatSettingsRow {
    pub tenant_id: TenantId,
    pub slack_bot_token: Option<String>,
    pub slack_signing_secret: Option<String>,
    pub teams_webhook_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The Slack message to one approver of one stage.
#[derive(Clone, Debug, FromRow)]
pub struct ChatMessage {
    pub tenant_id: TenantId,
    pub id: Uuid,
    pub request_id: RequestId,
    pub stage_index: i32,
    pub approver_id: UserId,
    pub state: ChatMessageState,
    pub slack_user_id: Option<String>,
    pub channel: Option<String>,
    pub ts: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
