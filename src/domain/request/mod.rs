//! Assignment requests (DOMAIN.md §6): types, the state machine, eligibility, schedule
//! and answer checks, and the approval-stage rules (who approves, when a stage is
//! decided). Pure functions; the service supplies the facts and `now`. Each concern has
//! its module; this one holds the request's types and states.

mod answers;
mod approval;
mod eligibility;
mod schedule;
#[cfg(test)]
mod tests;

use crate::domain::string_enum;

pub use answers::{Answer, AnswerInput, check_answers, parse_justification};
pub use approval::{ApproverSource, StageOutcome, capped_rule, select_approvers, stage_outcome};
pub use eligibility::{Eligibility, check_eligibility, delivery_refusal};
pub use schedule::{
    EXTENSION_WINDOW_DAYS, end_at_start, end_follows_start, extended_end, extension_window_opens,
    resolve_schedule,
};

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] RequestType {
    UserAdd = "userAdd",
    UserUpdate = "userUpdate",
    UserRemove = "userRemove",
    AdminAdd = "adminAdd",
    AdminUpdate = "adminUpdate",
    AdminRemove = "adminRemove",
    SystemAdd = "systemAdd",
    SystemRemove = "systemRemove",
});

impl RequestType {
    pub fn is_add(self) -> bool {
        matches!(self, Self::UserAdd | Self::AdminAdd | Self::SystemAdd)
    }

    pub fn is_update(self) -> bool {
        matches!(self, Self::UserUpdate | Self::AdminUpdate)
    }

    pub fn is_remove(self) -> bool {
        matches!(
            self,
            Self::UserRemove | Self::AdminRemove | Self::SystemRemove
        )
    }

    /// Made by the target user themself.
    pub fn is_self_service(self) -> bool {
        matches!(self, Self::UserAdd | Self::UserUpdate | Self::UserRemove)
    }
}

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] RequestState {
    Submitted = "submitted",
    PendingApproval = "pendingApproval",
    /// A custom extension holds the request until its callback resumes it (or its
    /// timeout applies).
    WaitingForCallback = "waitingForCallback",
    Scheduled = "scheduled",
    Delivering = "delivering",
    Delivered = "delivered",
    PartiallyDelivered = "partiallyDelivered",
    DeliveryFailed = "deliveryFailed",
    Denied = "denied",
    Canceled = "canceled",
    Expired = "expired",
});

impl RequestState {
    /// Not decided yet: still cancelable, blocks an identical request.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Submitted | Self::PendingApproval | Self::WaitingForCallback | Self::Scheduled
        )
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered
                | Self::PartiallyDelivered
                | Self::DeliveryFailed
                | Self::Denied
                | Self::Canceled
                | Self::Expired
        )
    }
}

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] StageState {
    Pending = "pending",
    Approved = "approved",
    Denied = "denied",
    Expired = "expired",
    Canceled = "canceled",
});

string_enum!(#[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] Decision {
    Approve = "approve",
    Deny = "deny",
});
