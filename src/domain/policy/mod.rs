//! Assignment policies (DOMAIN.md §5): who may request, the approval stages, questions,
//! expiration, extension and access reviews, with every limit checked and each problem
//! reported against its field path (`approval.stages[0].timeoutDays`). Each concern has
//! its module; `PolicySettings` gathers them and `validate` checks them all.
//!
//! The types derive `ToSchema`, so the API's OpenAPI description is generated from them;
//! `#[schema(as = ...)]` keeps the component names the API has published all along.

mod approval;
mod expiration;
mod questions;
mod requestors;
mod review;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::FieldErrors;
use super::extension::{StageExtension, check_policy_extensions};

pub use approval::{
    Approval, ApproverKind, ApproverRef, DecisionRule, Escalation, MAX_ALL_APPROVERS, MAX_STAGES,
    Stage,
};
pub use expiration::{Expiration, Extension};
pub use questions::{MAX_QUESTIONS, Question, QuestionKind};
pub use requestors::{PrincipalKind, PrincipalRef, RequestorScope, Requestors};
pub use review::{IfNoResponse, Recurrence, ReviewSettings, ReviewerKind, ReviewerRef};

fn yes() -> bool {
    true
}

/// Everything a policy says besides its name; stored as one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicySettings {
    /// Default "".
    #[serde(default)]
    pub description: String,
    pub requestors: Requestors,
    /// Default true.
    #[serde(default = "yes")]
    pub requests_enabled: bool,
    /// Default false.
    #[serde(default)]
    pub require_justification: bool,
    #[serde(default)]
    pub approval: Approval,
    #[serde(default)]
    pub questions: Vec<Question>,
    /// Default {"type": "never"}.
    #[serde(default)]
    pub expiration: Expiration,
    /// Default false.
    #[serde(default)]
    pub allow_custom_schedule: bool,
    #[serde(default)]
    pub extension: Extension,
    #[serde(default)]
    pub review: Option<ReviewSettings>,
    /// The custom extension called at each stage of a request's life (at most one
    /// per stage). Default [].
    #[serde(default)]
    pub custom_extensions: Vec<StageExtension>,
}

impl PolicySettings {
    /// Whether anyone can request under this policy: requests are on and its scope is
    /// not `none` (admins assigning directly need neither).
    pub fn takes_requests(&self) -> bool {
        self.requests_enabled && self.requestors.scope != RequestorScope::None
    }

    /// Whether a user may request under this policy: its requestor scope, with guests
    /// only in `allUsers` and only where the catalog is externally visible.
    pub fn admits(
        &self,
        user: Uuid,
        is_guest: bool,
        user_groups: &[Uuid],
        externally_visible: bool,
    ) -> bool {
        match self.requestors.scope {
            RequestorScope::None => false,
            RequestorScope::AllMembers => !is_guest,
            RequestorScope::AllUsers => !is_guest || externally_visible,
            RequestorScope::Specific => self.requestors.principals.iter().any(|p| match p.kind {
                PrincipalKind::User => p.id == user,
                PrincipalKind::Group => user_groups.contains(&p.id),
            }),
        }
    }

    /// Every user and group id the policy names, with the field that names it, so the
    /// caller can check they exist in the tenant.
    pub fn referenced_principals(&self) -> Vec<(String, PrincipalKind, Uuid)> {
        let mut refs = Vec::new();
        for (i, p) in self.requestors.principals.iter().enumerate() {
            refs.push((format!("requestors.principals[{i}].id"), p.kind, p.id));
        }
        let approver = |refs: &mut Vec<_>, path: String, a: &ApproverRef| {
            let kind = match a.kind {
                ApproverKind::User => PrincipalKind::User,
                ApproverKind::Group => PrincipalKind::Group,
                _ => return,
            };
            if let Some(id) = a.id {
                refs.push((path, kind, id));
            }
        };
        for (s, stage) in self.approval.stages.iter().enumerate() {
            for (i, a) in stage.approvers.iter().enumerate() {
                approver(
                    &mut refs,
                    format!("approval.stages[{s}].approvers[{i}].id"),
                    a,
                );
            }
            for (i, a) in stage.fallback_approvers.iter().enumerate() {
                approver(
                    &mut refs,
                    format!("approval.stages[{s}].fallbackApprovers[{i}].id"),
                    a,
                );
            }
            if let Some(e) = &stage.escalation {
                for (i, a) in e.approvers.iter().enumerate() {
                    approver(
                        &mut refs,
                        format!("approval.stages[{s}].escalation.approvers[{i}].id"),
                        a,
                    );
                }
            }
        }
        if let Some(review) = &self.review {
            let lists = [
                ("reviewers", &review.reviewers),
                ("fallbackReviewers", &review.fallback_reviewers),
            ];
            for (name, list) in lists {
                for (i, r) in list.iter().enumerate() {
                    let kind = match r.kind {
                        ReviewerKind::User => PrincipalKind::User,
                        ReviewerKind::Group => PrincipalKind::Group,
                        _ => continue,
                    };
                    if let Some(id) = r.id {
                        refs.push((format!("review.{name}[{i}].id"), kind, id));
                    }
                }
            }
        }
        refs
    }

    /// Groups whose members decide under this policy: approvers, fallback and
    /// escalation approvers of every stage, reviewers and fallback reviewers (not
    /// requestors, who only ask).
    pub fn decider_groups(&self) -> Vec<Uuid> {
        let approvers = self.approval.stages.iter().flat_map(|s| {
            s.approvers
                .iter()
                .chain(&s.fallback_approvers)
                .chain(s.escalation.iter().flat_map(|e| &e.approvers))
        });
        let reviewers = self
            .review
            .iter()
            .flat_map(|r| r.reviewers.iter().chain(&r.fallback_reviewers));
        approvers
            .filter(|a| a.kind == ApproverKind::Group)
            .filter_map(|a| a.id)
            .chain(
                reviewers
                    .filter(|r| r.kind == ReviewerKind::Group)
                    .filter_map(|r| r.id),
            )
            .collect()
    }

    /// Gives questions without an id a new one (ids are kept across PUTs).
    pub fn assign_question_ids(&mut self) {
        for q in &mut self.questions {
            if q.id.is_none() {
                q.id = Some(Uuid::now_v7());
            }
        }
    }

    /// Checks every limit of DOMAIN.md §5. `previous` is the stored version on an
    /// update: an `onDate` that was already accepted stays acceptable unchanged.
    pub fn validate(&self, now: DateTime<Utc>, previous: Option<&PolicySettings>) -> FieldErrors {
        let mut e = FieldErrors::new();
        if self.description.chars().count() > 4000 {
            e.add("description", "at most 4000 characters are allowed");
        }
        self.requestors.check(&mut e);
        self.approval.check(&mut e);
        questions::check_questions(&self.questions, &mut e);
        self.expiration
            .check(now, previous.map(|p| &p.expiration), &mut e);
        self.extension
            .check(&self.expiration, self.approval.stages.len(), &mut e);
        if let Some(r) = &self.review {
            r.check(&mut e);
        }
        check_policy_extensions(&self.custom_extensions, &mut e);
        e
    }
}

#[cfg(test)]
mod tests;
