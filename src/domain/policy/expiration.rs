//! How long access lasts, and whether it may be extended.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::error::FieldErrors;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
#[schema(as = ExpirationSchema)]
pub enum Expiration {
    #[default]
    Never,
    /// 1–3660 days.
    AfterDays { days: i64 },
    /// 1–8760 hours.
    AfterHours { hours: i64 },
    /// A time in the future.
    OnDate { date: DateTime<Utc> },
}

impl Expiration {
    /// The end of access that starts at `start`, or `None` when it never ends.
    pub fn end_for(&self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Never => None,
            Self::AfterDays { days } => Some(start + Duration::days(*days)),
            Self::AfterHours { hours } => Some(start + Duration::hours(*hours)),
            Self::OnDate { date } => Some(*date),
        }
    }

    /// The bounds of a length and that an end date is in the future; `previous` is the
    /// stored expiration on an update: an `onDate` already accepted stays acceptable
    /// unchanged.
    pub(super) fn check(
        &self,
        now: DateTime<Utc>,
        previous: Option<&Expiration>,
        e: &mut FieldErrors,
    ) {
        match self {
            Self::Never => {}
            Self::AfterDays { days } if !(1..=3660).contains(days) => {
                e.add("expiration.days", "access can last 1 to 3660 days");
            }
            Self::AfterHours { hours } if !(1..=8760).contains(hours) => {
                e.add("expiration.hours", "access can last 1 to 8760 hours");
            }
            Self::OnDate { date } => {
                let unchanged = previous.is_some_and(|p| p == self);
                if *date <= now && !unchanged {
                    e.add("expiration.date", "the end date must be in the future");
                }
            }
            _ => {}
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ExtensionSchema)]
pub struct Extension {
    #[serde(default)]
    pub allowed: bool,
    #[serde(default)]
    pub require_approval: bool,
}

impl Extension {
    /// Only access that ends can be extended, and an extension that needs approval needs
    /// the policy's approval stages to give it.
    pub(super) fn check(&self, expiration: &Expiration, stages: usize, e: &mut FieldErrors) {
        if self.allowed && *expiration == Expiration::Never {
            e.add(
                "extension.allowed",
                "access that never expires cannot be extended",
            );
        }
        if self.allowed && self.require_approval && stages == 0 {
            e.add(
                "extension.requireApproval",
                "extensions are approved by the policy's approval stages, and it has none; add a stage or let extensions through without approval",
            );
        }
    }
}
