//! Recurring access reviews: when they start, how often, for how long, by whom, and
//! what happens to people nobody reviewed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::error::FieldErrors;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RecurrenceSchema)]
pub enum Recurrence {
    Weekly,
    Monthly,
    Quarterly,
    SemiAnnual,
    Annual,
}

impl Recurrence {
    /// Shortest length of one period in days (bounds a review's duration).
    pub fn min_days(self) -> i64 {
        match self {
            Self::Weekly => 7,
            Self::Monthly => 28,
            Self::Quarterly => 89,
            Self::SemiAnnual => 181,
            Self::Annual => 365,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReviewerTypeSchema)]
pub enum ReviewerKind {
    #[serde(rename = "self")]
    Myself,
    Manager,
    User,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReviewerSchema)]
pub struct ReviewerRef {
    #[serde(rename = "type")]
    pub kind: ReviewerKind,
    /// For `user` and `group` reviewers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = IfNoResponseSchema)]
pub enum IfNoResponse {
    Keep,
    Remove,
    Recommendation,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReviewSchema)]
pub struct ReviewSettings {
    pub start_date: DateTime<Utc>,
    pub recurrence: Recurrence,
    /// 1 to the length of one recurrence period.
    pub duration_days: i64,
    pub reviewers: Vec<ReviewerRef>,
    #[serde(default)]
    pub fallback_reviewers: Vec<ReviewerRef>,
    pub if_no_response: IfNoResponse,
    #[serde(default)]
    pub auto_apply: bool,
    #[serde(default)]
    pub require_justification: bool,
}

impl ReviewSettings {
    /// The duration against the recurrence, and the reviewers.
    pub(super) fn check(&self, e: &mut FieldErrors) {
        if !(1..=self.recurrence.min_days()).contains(&self.duration_days) {
            e.add(
                "review.durationDays",
                format!(
                    "a review lasts 1 to {} days with this recurrence",
                    self.recurrence.min_days()
                ),
            );
        }
        if self.reviewers.is_empty() {
            e.add("review.reviewers", "name at least one reviewer");
        }
        check_reviewers(e, "review.reviewers", &self.reviewers);
        check_reviewers(e, "review.fallbackReviewers", &self.fallback_reviewers);
    }
}

fn check_reviewers(e: &mut FieldErrors, path: &str, list: &[ReviewerRef]) {
    for (i, r) in list.iter().enumerate() {
        let needs_id = matches!(r.kind, ReviewerKind::User | ReviewerKind::Group);
        if needs_id && r.id.is_none() {
            e.add(
                format!("{path}[{i}].id"),
                "user and group reviewers need an id",
            );
        }
        if !needs_id && r.id.is_some() {
            e.add(
                format!("{path}[{i}].id"),
                "only user and group reviewers take an id",
            );
        }
    }
}
