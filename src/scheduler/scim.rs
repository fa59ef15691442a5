//! Delivers SCIM connector calls from the outbox: the rows are claimed, retried and
//! settled exactly as webhook calls are (`webhooks`); this file holds what a call to a
//! SCIM target does (`connectors::scim`) and when a revoke also deactivates.

use chrono::{DateTime, Utc};

use super::webhooks::{self, Call};
use crate::connectors::scim::{Person, ScimTarget};
use crate::domain::assignment::GrantCall;
use crate::domain::ids::TenantId;
use crate::domain::outbox::OutboxKind;
use crate::services::delivery::{self, CallTarget};
use crate::state::AppState;

pub const BATCH: usize = webhooks::BATCH;

#[tracing::instrument(skip_all)]
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    webhooks::run_kind(state, OutboxKind::Scim, now).await
}

/// Makes one grant or revoke call to the SCIM target at `base_url`. The outer error is
/// Portico's own (the database); the inner one is the call's, to record and retry.
pub(super) async fn call(
    state: &AppState,
    tenant: TenantId,
    call: &Call,
    target: &CallTarget,
    base_url: &str,
    token: &str,
    deactivate_on_last_revoke: bool,
) -> anyhow::Result<Result<(), String>> {
    let scim = ScimTarget::new(state.http(), base_url, token);
    let group = target.role_value.as_str();
    let id = target.user_id.to_string();
    let person = Person {
        id: &id,
        email: &target.user_email,
        display_name: &target.user_display_name,
    };
    Ok(match call.kind {
        GrantCall::Grant => scim.grant(person, group).await,
        GrantCall::Revoke => {
            // The revoked grant itself is `revoking`, so only other grants count.
            let deactivate = deactivate_on_last_revoke
                && !delivery::holds_grant_on_resource(
                    state.pool(),
                    tenant,
                    target.user_id,
                    target.resource_id,
                )
                .await?;
            scim.revoke(person, group, deactivate).await
        }
    })
}
