//! States in words: the coloured badge of a request, stage, decision, assignment,
//! grant or catalog state, the kind of a request, and what a request's state means
//! right after a decision.

use super::fields::field_label;
use crate::domain::request::{RequestState, RequestType};

/// A coloured status label.
#[derive(Clone, Debug)]
pub struct Badge {
    pub label: String,
    /// A CSS modifier: `ok`, `warn`, `bad` or `neutral`.
    pub tone: &'static str,
}

impl Badge {
    /// The badge of a request, assignment, grant or stage state.
    pub fn state(state: impl AsRef<str>) -> Self {
        let state = state.as_ref();
        let tone = match state {
            "delivered" | "approved" | "approve" | "active" | "enabled" => "ok",
            "pendingApproval" | "pending" | "submitted" | "scheduled" | "delivering"
            | "partiallyDelivered" | "waitingForCallback" | "waiting" => "warn",
            "denied" | "deny" | "deliveryFailed" | "failed" | "disabled" | "deactivated" => "bad",
            _ => "neutral",
        };
        Self {
            label: state_label(state),
            tone,
        }
    }

    pub fn neutral(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            tone: "neutral",
        }
    }
}

/// `pendingApproval` → "Pending approval".
pub fn state_label(state: impl AsRef<str>) -> String {
    field_label(state.as_ref())
}

/// The kind of a request as the requester portal names it.
pub fn request_kind(kind: RequestType) -> &'static str {
    if kind.is_add() {
        "Access"
    } else if kind.is_update() {
        "Extension"
    } else {
        "Removal"
    }
}

/// A request state in words, after a decision.
pub fn request_outcome(state: RequestState) -> &'static str {
    match state {
        RequestState::PendingApproval => "waiting for the next approval stage",
        RequestState::WaitingForCallback => "approved; waiting for an outside system to confirm",
        RequestState::Scheduled => "approved; access starts at the requested time",
        RequestState::Delivering => "approved; access is being delivered",
        RequestState::Delivered => "approved and delivered",
        RequestState::PartiallyDelivered => {
            "approved; part of the access could not be delivered yet"
        }
        RequestState::DeliveryFailed => "approved, but the access could not be delivered",
        RequestState::Denied => "denied",
        RequestState::Canceled => "canceled",
        RequestState::Expired => "expired",
        RequestState::Submitted => "being processed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_words_with_a_tone() {
        assert_eq!(state_label("pendingApproval"), "Pending approval");
        let b = Badge::state("deliveryFailed");
        assert_eq!((b.label.as_str(), b.tone), ("Delivery failed", "bad"));
        assert_eq!(Badge::state("expired").tone, "neutral");
        assert_eq!(request_kind(RequestType::AdminUpdate), "Extension");
    }
}
