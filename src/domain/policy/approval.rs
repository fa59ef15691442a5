//! Approval: up to three stages in series, each with its approvers, fallback approvers,
//! decision rule, timeout and optional escalation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::error::FieldErrors;
use crate::domain::string_enum;

pub const MAX_STAGES: usize = 3;
pub const MAX_ALL_APPROVERS: usize = 25;

fn fourteen() -> i64 {
    14
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApprovalSchema)]
pub struct Approval {
    /// 0 to 3 stages in series.
    #[serde(default)]
    pub stages: Vec<Stage>,
}

string_enum!(
    /// How a stage's approvals decide it. No default: a rule that cannot be read is an
    /// error, never the weakest rule.
    //
    // The schema reads the values' names from `rename_all`: the macro hands each
    // variant's own `rename` to the derive in a form it does not see (a test checks
    // that both agree).
    #[derive(ToSchema)]
    #[serde(rename_all = "camelCase")]
    #[schema(
        as = DecisionSchema,
        description = "How a stage's approvals decide it: anyOne (the first decision wins) or all (every resolved approver must approve)."
    )]
    DecisionRule {
        /// The first decision wins (Entra's rule).
        AnyOne = "anyOne",
        /// Every resolved approver must approve.
        All = "all",
    }
);

/// A stage without a `decision` in its settings: the first decision wins.
fn any_one() -> DecisionRule {
    DecisionRule::AnyOne
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApproverTypeSchema)]
pub enum ApproverKind {
    Manager,
    SecondLevelManager,
    User,
    Group,
    ResourceOwners,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = ApproverSchema)]
pub struct ApproverRef {
    #[serde(rename = "type")]
    pub kind: ApproverKind,
    /// For `user` and `group` approvers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EscalationSchema)]
pub struct Escalation {
    /// At least 1 and less than the stage's timeoutDays.
    pub after_days: i64,
    pub approvers: Vec<ApproverRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StageSchema)]
pub struct Stage {
    pub approvers: Vec<ApproverRef>,
    /// Used when the approvers resolve to nobody. Default [].
    #[serde(default)]
    pub fallback_approvers: Vec<ApproverRef>,
    /// Default anyOne.
    #[serde(default = "any_one")]
    pub decision: DecisionRule,
    /// 1–14, default 14.
    #[serde(default = "fourteen")]
    #[schema(minimum = 1, maximum = 14, default = 14)]
    pub timeout_days: i64,
    /// Approvers must justify their decision. Default false.
    #[serde(default)]
    pub require_justification: bool,
    #[serde(default)]
    pub escalation: Option<Escalation>,
}

impl Approval {
    /// The number of stages, and each stage's approvers, timeout and escalation.
    pub(super) fn check(&self, e: &mut FieldErrors) {
        let stages = &self.stages;
        if stages.len() > MAX_STAGES {
            e.add(
                "approval.stages",
                format!(
                    "at most {MAX_STAGES} approval stages are allowed (there are {})",
                    stages.len()
                ),
            );
        }
        for (s, stage) in stages.iter().enumerate() {
            let at = |f: &str| format!("approval.stages[{s}].{f}");
            if stage.approvers.is_empty() {
                e.add(at("approvers"), "each stage needs at least one approver");
            }
            check_approvers(e, &at("approvers"), &stage.approvers);
            check_approvers(e, &at("fallbackApprovers"), &stage.fallback_approvers);
            if !(1..=14).contains(&stage.timeout_days) {
                e.add(at("timeoutDays"), "a stage times out after 1 to 14 days");
            }
            if let Some(esc) = &stage.escalation {
                if esc.after_days < 1 || esc.after_days >= stage.timeout_days {
                    e.add(
                        at("escalation.afterDays"),
                        format!(
                            "escalation must come after at least 1 day and before the stage times out ({} days)",
                            stage.timeout_days
                        ),
                    );
                }
                if esc.approvers.is_empty() {
                    e.add(
                        at("escalation.approvers"),
                        "name the alternate approvers to add on escalation",
                    );
                }
                check_approvers(e, &at("escalation.approvers"), &esc.approvers);
            }
        }
    }
}

fn check_approvers(e: &mut FieldErrors, path: &str, list: &[ApproverRef]) {
    for (i, a) in list.iter().enumerate() {
        let needs_id = matches!(a.kind, ApproverKind::User | ApproverKind::Group);
        if needs_id && a.id.is_none() {
            e.add(
                format!("{path}[{i}].id"),
                "user and group approvers need an id",
            );
        }
        if !needs_id && a.id.is_some() {
            e.add(
                format!("{path}[{i}].id"),
                "only user and group approvers take an id",
            );
        }
    }
}
