//! Records kept in `custom_extensions` and `request_callbacks`: what `db::extensions`
//! reads and writes and services hand out.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use crate::domain::extension::{CallbackOutcome, CallbackState, ExtensionBehavior, ExtensionStage};
use crate::domain::ids::{CallbackId, CatalogId, ExtensionId, RequestId, TenantId};

/// A custom extension of a catalog. `secret` is sealed (crypto.rs); services clear it
/// before an extension leaves them.
#[derive(Clone, Debug, FromRow)]
pub struct ExtensionRow {
    pub tenant_id: TenantId,
    pub id: ExtensionId,
    pub catalog_id: CatalogId,
    pub display_name: String,
    pub url: String,
    pub secret: String,
    pub behavior: ExtensionBehavior,
    pub timeout_minutes: i32,
    pub on_timeout: CallbackOutcome,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A hold on a request by a waiting extension.
#[derive(Clone, Debug, FromRow)]
pub struct CallbackRow {
    pub tenant_id: TenantId,
    pub id: CallbackId,
    pub request_id: RequestId,
    pub extension_id: ExtensionId,
    pub stage: ExtensionStage,
    pub token_hash: Vec<u8>,
    pub on_timeout: CallbackOutcome,
    pub state: CallbackState,
    pub outcome: Option<CallbackOutcome>,
    pub message: Option<String>,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}
