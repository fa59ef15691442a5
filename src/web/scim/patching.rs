//! PATCH (RFC 7644 §3.5.2) glue.

use serde_json::Value;

use super::error::ScimError;
use crate::domain::ids::UserId;
use crate::services::scim::ScimResult;
use crate::services::scim::groups::GroupChange;

pub struct Ops;

pub fn parse(_body: &Value) -> Result<Ops, ScimError> {
    Err(ScimError::bad(
        "invalidSyntax",
        "PATCH is not available yet.",
    ))
}

pub fn apply_all(_doc: &mut Value, _ops: &Ops) -> ScimResult<()> {
    Ok(())
}

pub fn needs_members(_ops: &Ops) -> bool {
    false
}

pub fn plan_group(_c: &Value, _m: &[UserId], _ops: &Ops, _base: &str) -> ScimResult<GroupChange> {
    Ok(GroupChange::default())
}
