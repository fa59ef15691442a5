//! Who may request under a policy: a scope, and for `specific` the users and groups.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::error::FieldErrors;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestorScope {
    None,
    Specific,
    AllMembers,
    AllUsers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrincipalKind {
    User,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRef {
    #[serde(rename = "type")]
    pub kind: PrincipalKind,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requestors {
    pub scope: RequestorScope,
    #[serde(default)]
    pub principals: Vec<PrincipalRef>,
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
