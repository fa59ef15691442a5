//! Who may request under a policy: a scope, and for `specific` the users and groups.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::error::FieldErrors;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RequestorScopeSchema)]
pub enum RequestorScope {
    None,
    Specific,
    AllMembers,
    AllUsers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PrincipalTypeSchema)]
pub enum PrincipalKind {
    User,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = PrincipalSchema)]
pub struct PrincipalRef {
    #[serde(rename = "type")]
    pub kind: PrincipalKind,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RequestorsSchema)]
pub struct Requestors {
    pub scope: RequestorScope,
    /// Users and groups who may request (scope `specific` only).
    #[serde(default)]
    pub principals: Vec<PrincipalRef>,
    /// When a change to this policy leaves a holder who requested their access outside
    /// the scope, their assignment is removed (reason `policyChanged`); so is it when
    /// the holder leaves the scope (a group it names, or becoming a guest: reason
    /// `outOfScope`). Access an admin assigned directly is kept.
    #[serde(default)]
    pub remove_when_out_of_scope: bool,
}

impl Requestors {
    /// Principals go with the scope `specific`, and only with it.
    pub(super) fn check(&self, e: &mut FieldErrors) {
        if self.scope == RequestorScope::Specific && self.principals.is_empty() {
            e.add(
                "requestors.principals",
                "name at least one user or group who may request (or choose another scope)",
            );
        }
        if self.scope != RequestorScope::Specific && !self.principals.is_empty() {
            e.add(
                "requestors.principals",
                "principals are only used with the scope 'specific'",
            );
        }
    }
}
