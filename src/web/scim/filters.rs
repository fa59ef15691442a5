//! `filter` of a list, parsed at the edge (`domain::scim::filter`); the services check
//! that it names only attributes Portico can filter on and run it in SQL.

use super::error::ScimError;
use crate::domain::scim::filter::{self, Filter};

pub fn parse(text: Option<&str>) -> Result<Option<Filter>, ScimError> {
    text.map(|t| filter::parse(t).map_err(|e| ScimError(e.into())))
        .transpose()
}

/// A PATCH body, parsed at the edge (`domain::scim::patch`); `services::scim::patching`
/// turns it into changes.
pub fn parse_patch(
    body: &serde_json::Value,
) -> Result<crate::domain::scim::patch::PatchRequest, ScimError> {
    crate::domain::scim::patch::parse(body).map_err(|e| ScimError(e.into()))
}
