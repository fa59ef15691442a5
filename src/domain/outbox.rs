//! The outbox (ARCHITECTURE.md): what a row delivers and where its delivery stands.

use super::string_enum;

string_enum!(
    /// What an outbox row delivers.
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] OutboxKind {
        Email = "email",
        Webhook = "webhook",
        Scim = "scim",
        /// A grant or revoke in an LDAP or Active Directory group.
        Ldap = "ldap",
        /// A Slack Web API call: a direct message to an approver, its update with the
        /// outcome, or a reply only the clicking person sees.
        Slack = "slack",
        /// An Adaptive Card posted to the tenant's Teams webhook.
        Teams = "teams",
        /// A signed call to a custom extension (INTEGRATIONS.md §4).
        Extension = "extension",
    }
);

string_enum!(
    /// Where an outbox row's delivery stands: waiting (or retrying), done, failed for
    /// good, or replaced by a later row of its sequence before it was sent.
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] OutboxState {
        Pending = "pending",
        Done = "done",
        Failed = "failed",
        Superseded = "superseded",
    }
);
