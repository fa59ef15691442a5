//! Records kept in `dev_mail`: what `db::dev_mail` reads and writes and services hand out.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct DevMessage {
    pub id: Uuid,
    pub tenant_slug: Option<String>,
    pub message_id: String,
    pub from_name: String,
    pub to_address: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: DateTime<Utc>,
}
