//! Delivers LDAP connector calls from the outbox: the rows are claimed, retried and
//! settled exactly as webhook and SCIM calls are (`webhooks`); this file holds what a
//! call to an LDAP server does (`connectors::ldap`): the person found by the
//! connector's user filter joins or leaves the group named by the role's DN. A grant
//! already in place, or a revoke of a member already gone, succeeds.

use chrono::{DateTime, Utc};

use super::webhooks::{self, Call};
use crate::connectors::ldap::{LdapConnector, Outcome};
use crate::domain::assignment::GrantCall;
use crate::domain::connector::Connector;
use crate::domain::outbox::OutboxKind;
use crate::services;
use crate::services::delivery::CallTarget;
use crate::state::AppState;

pub const BATCH: usize = webhooks::BATCH;

#[tracing::instrument(skip_all)]
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    webhooks::run_kind(state, OutboxKind::Ldap, now).await
}

/// Makes one grant or revoke call to the LDAP server of `connector`, bound with
/// `bind_password`; the error is the call's, to record and retry.
pub(super) async fn call(
    state: &AppState,
    call: &Call,
    target: &CallTarget,
    connector: &Connector,
    bind_password: &str,
) -> Result<(), String> {
    let config = match services::catalogs::ldap_config(connector, bind_password) {
        Some(Ok(config)) => config,
        Some(Err(message)) => return Err(message),
        None => return Err("the resource's connector is not an LDAP connector".into()),
    };
    let ldap = LdapConnector::new(state.settings().webhook_allow_private);
    let group = target.role_value.as_str();
    let result = match call.kind {
        GrantCall::Grant => ldap.grant(&config, &target.user_email, group).await,
        GrantCall::Revoke => ldap.revoke(&config, &target.user_email, group).await,
    };
    match result {
        Ok(Outcome::Applied | Outcome::AlreadyInPlace) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
