//! Assignments (DOMAIN.md §7): the states of an assignment and of each of its grants,
//! why an assignment ended, and what a connector call settles.

use super::request::RequestState;
use super::string_enum;

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] AssignmentState {
    Delivering = "delivering",
    Delivered = "delivered",
    PartiallyDelivered = "partiallyDelivered",
    DeliveryFailed = "deliveryFailed",
    Expired = "expired",
    Removed = "removed",
});

impl AssignmentState {
    /// Gives access: not ended (expired or removed).
    pub fn is_active(self) -> bool {
        self.delivery().is_some()
    }

    /// Active but not fully delivered, so some grant may have failed and can be
    /// retried.
    pub fn may_reprocess(self) -> bool {
        self.is_active() && self != Self::Delivered
    }
}

string_enum!(
    /// Why an assignment was removed (an expired one has no reason). Separation of
    /// duties is enforced before access starts (request, admin assignment, delivery),
    /// so no assignment is removed for it; `policyChanged` comes from a policy change
    /// with its `removeWhenOutOfScope` switch, `outOfScope` from a change of the person
    /// under that switch (they left a group the policy names, or became a guest).
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] RemovalReason {
        Admin = "admin",
        User = "user",
        Review = "review",
        UserDeactivated = "userDeactivated",
        PolicyChanged = "policyChanged",
        OutOfScope = "outOfScope",
    }
);

string_enum!(
    /// How far delivery of an assignment's roles got: the state of the active
    /// assignment and of the request that created it.
    Delivery {
        Delivering = "delivering",
        Delivered = "delivered",
        PartiallyDelivered = "partiallyDelivered",
        DeliveryFailed = "deliveryFailed",
    }
);

impl Delivery {
    /// Some grants still on their way → delivering; none failed → delivered; some
    /// failed → partially delivered while any applied, else delivery failed.
    pub fn of(pending: bool, delivered: usize, failed: usize) -> Self {
        if pending {
            Self::Delivering
        } else if failed == 0 {
            Self::Delivered
        } else if delivered > 0 {
            Self::PartiallyDelivered
        } else {
            Self::DeliveryFailed
        }
    }
}

/// The delivery states are variants of the same names in the states of an assignment
/// and of a request.
macro_rules! carries_delivery {
    ($($name:ident),*) => {$(
        impl From<Delivery> for $name {
            fn from(d: Delivery) -> Self {
                match d {
                    Delivery::Delivering => Self::Delivering,
                    Delivery::Delivered => Self::Delivered,
                    Delivery::PartiallyDelivered => Self::PartiallyDelivered,
                    Delivery::DeliveryFailed => Self::DeliveryFailed,
                }
            }
        }

        impl $name {
            /// Where delivery stands; `None` in a state that is not a delivery state.
            pub fn delivery(self) -> Option<Delivery> {
                match self {
                    Self::Delivering => Some(Delivery::Delivering),
                    Self::Delivered => Some(Delivery::Delivered),
                    Self::PartiallyDelivered => Some(Delivery::PartiallyDelivered),
                    Self::DeliveryFailed => Some(Delivery::DeliveryFailed),
                    _ => None,
                }
            }
        }
    )*};
}
carries_delivery!(AssignmentState, RequestState);

string_enum!(
    /// The state of one resource role of an assignment.
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] GrantState {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
        Revoking = "revoking",
        Revoked = "revoked",
    }
);

impl GrantState {
    /// Part of the assignment's access: not taken back or being taken back.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Revoking | Self::Revoked)
    }
}

string_enum!(
    /// What a connector call asks for.
    GrantCall {
        Grant = "grant",
        Revoke = "revoke",
    }
);

impl GrantCall {
    /// The state of the grant while the call is on its way.
    pub fn awaiting(self) -> GrantState {
        match self {
            Self::Grant => GrantState::Pending,
            Self::Revoke => GrantState::Revoking,
        }
    }

    /// The state of the grant once the call succeeded, or failed for good.
    pub fn settled(self, ok: bool) -> GrantState {
        match (self, ok) {
            (Self::Grant, true) => GrantState::Delivered,
            (Self::Revoke, true) => GrantState::Revoked,
            (_, false) => GrantState::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_delivery_states_are_active_and_they_match_the_request_states() {
        let active: Vec<AssignmentState> = AssignmentState::ALL
            .iter()
            .copied()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(
            active,
            Delivery::ALL
                .iter()
                .map(|d| AssignmentState::from(*d))
                .collect::<Vec<_>>()
        );
        for d in Delivery::ALL {
            assert_eq!(AssignmentState::from(*d).as_str(), d.as_str());
            assert_eq!(RequestState::from(*d).as_str(), d.as_str());
            assert_eq!(AssignmentState::from(*d).delivery(), Some(*d));
            assert_eq!(RequestState::from(*d).delivery(), Some(*d));
        }
        assert_eq!(RequestState::PendingApproval.delivery(), None);
        assert!(!AssignmentState::Expired.is_active());
        assert!(!AssignmentState::Removed.is_active());
    }

    #[test]
    fn only_assignments_not_fully_delivered_are_reprocessed() {
        let reprocessable: Vec<AssignmentState> = AssignmentState::ALL
            .iter()
            .copied()
            .filter(|s| s.may_reprocess())
            .collect();
        assert_eq!(
            reprocessable,
            [
                AssignmentState::Delivering,
                AssignmentState::PartiallyDelivered,
                AssignmentState::DeliveryFailed
            ]
        );
    }

    #[test]
    fn the_delivery_follows_the_grants() {
        assert_eq!(Delivery::of(true, 0, 1), Delivery::Delivering);
        assert_eq!(Delivery::of(false, 2, 0), Delivery::Delivered);
        assert_eq!(Delivery::of(false, 0, 0), Delivery::Delivered);
        assert_eq!(Delivery::of(false, 1, 1), Delivery::PartiallyDelivered);
        assert_eq!(Delivery::of(false, 0, 2), Delivery::DeliveryFailed);
    }

    #[test]
    fn a_call_settles_its_grant() {
        assert_eq!(GrantCall::Grant.awaiting(), GrantState::Pending);
        assert_eq!(GrantCall::Revoke.awaiting(), GrantState::Revoking);
        assert_eq!(GrantCall::Grant.settled(true), GrantState::Delivered);
        assert_eq!(GrantCall::Revoke.settled(true), GrantState::Revoked);
        assert_eq!(GrantCall::Grant.settled(false), GrantState::Failed);
        assert_eq!(GrantCall::Revoke.settled(false), GrantState::Failed);
        let live: Vec<GrantState> = GrantState::ALL
            .iter()
            .copied()
            .filter(|s| s.is_live())
            .collect();
        assert_eq!(
            live,
            [
                GrantState::Pending,
                GrantState::Delivered,
                GrantState::Failed
            ]
        );
    }
}
