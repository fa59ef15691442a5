//! Deciding in chat (INTEGRATIONS.md §5): the tenant's Slack and Teams settings
//! (`settings`), the messages queued when a stage asks its approvers and the updates
//! queued when a request changes (`queue`), what those messages say (`render`), their
//! delivery from the outbox (`deliver`), and the Approve/Deny clicks Slack sends back
//! (`interact`).
//!
//! Invariants: every secret is sealed at rest, bound to the tenant, and write-only;
//! nothing here talks to Slack or Teams inside a transaction (messages and updates go
//! through the outbox; only the reason form, whose trigger Slack lets live three
//! seconds, is opened while the click is answered); a click decides through the
//! portal's own use case, so the portal's rules (only an approver of the open stage,
//! never the target, once) hold in chat exactly.

pub mod deliver;
pub mod interact;
pub mod queue;
pub mod render;
pub mod settings;

use sqlx::PgPool;

use crate::config::Settings;
use crate::connectors::outbound::Outbound;
use crate::crypto::Keys;
use crate::domain::ids::TenantId;

pub use settings::{ChatView, get, put};

/// What reaching Slack and Teams takes: the pool, the keys that open the tenant's
/// secrets, the outbound client and the settings (Slack's API URL, the base URL that
/// links name).
#[derive(Clone, Copy)]
pub struct ChatContext<'a> {
    pub pool: &'a PgPool,
    pub keys: &'a Keys,
    pub http: &'a Outbound,
    pub settings: &'a Settings,
}

/// What a sealed chat secret is bound to.
fn secret_context(tenant: TenantId, what: &str) -> String {
    format!("chat:{what}:{tenant}")
}

/// Whether a Teams card row lost its one-time link tokens (removed when it was sent or
/// failed for good), so it cannot be sent again.
pub fn links_removed(payload: &serde_json::Value) -> bool {
    payload["approvers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x.get("token").is_none()))
}
