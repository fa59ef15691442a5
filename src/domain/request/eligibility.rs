//! Whether a user-made or admin-made add request may be made at all.

use crate::domain::error::DomainError;

/// Facts about a user-made add request, gathered by the service.
#[derive(Clone, Debug, Default)]
pub struct Eligibility {
    pub target_active: bool,
    pub in_scope: bool,
    pub catalog_enabled: bool,
    pub requests_enabled: bool,
    pub has_active_assignment: bool,
    pub has_open_request: bool,
    /// A description of the conflicting access, when separation of duties forbids it.
    pub incompatible_with: Option<String>,
}

/// DOMAIN.md §6: 403 when the user may not request at all, 409 when the state of
/// things blocks the request. Admin-made requests skip the scope and switches.
pub fn check_eligibility(facts: &Eligibility, by_admin: bool) -> Result<(), DomainError> {
    if !facts.target_active {
        return Err(DomainError::conflict("The target user is deactivated."));
    }
    if !by_admin {
        if !facts.in_scope {
            return Err(DomainError::forbidden(
                "You are not among the people this policy lets request this access package.",
            ));
        }
        if !facts.catalog_enabled {
            return Err(DomainError::conflict(
                "The catalog of this access package is disabled, so it cannot be requested now.",
            ));
        }
        if !facts.requests_enabled {
            return Err(DomainError::conflict(
                "Requests are turned off for this policy.",
            ));
        }
    }
    if facts.has_active_assignment {
        return Err(DomainError::conflict(
            "The user already has this access package; extend the existing assignment instead.",
        ));
    }
    if facts.has_open_request {
        return Err(DomainError::conflict(
            "There is already an open request for this access package and user; wait for it or cancel it.",
        ));
    }
    if let Some(conflict) = &facts.incompatible_with {
        return Err(DomainError::conflict(format!(
            "Separation of duties: this access package is incompatible with {conflict}, which the user has."
        )));
    }
    Ok(())
}

/// DOMAIN.md §6: why a decided request may not be delivered now, checked again under the
/// lock on the user when approval (or the schedule) delivers it: everything eligibility
/// asked at submission except the open request (which is this one). Admin-made requests
/// skip the requestor's scope and the switches, as at submission.
pub fn delivery_refusal(facts: &Eligibility, by_admin: bool) -> Option<String> {
    if !facts.target_active {
        return Some("the target user is deactivated".into());
    }
    if !by_admin {
        if !facts.in_scope {
            return Some("the requestor is no longer in the policy's scope of requestors".into());
        }
        if !facts.catalog_enabled {
            return Some("the catalog of this access package is disabled".into());
        }
        if !facts.requests_enabled {
            return Some("requests are turned off for this policy".into());
        }
    }
    if facts.has_active_assignment {
        return Some("the user already has this access package".into());
    }
    facts
        .incompatible_with
        .as_ref()
        .map(|c| format!("separation of duties: incompatible with {c}"))
}
