//! The approval-stage rules: who approves a stage, and when its decisions settle it.

use uuid::Uuid;

use super::Decision;
use crate::domain::policy::{DecisionRule, MAX_ALL_APPROVERS};

/// Where the approvers of a stage came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApproverSource {
    Approvers,
    Fallback,
    TenantAdmins,
    Nobody,
}

/// The approvers of a stage: the primary list, else the fallback list, else the tenant
/// admins; never the target user, never twice.
pub fn select_approvers(
    primary: &[Uuid],
    fallback: &[Uuid],
    admins: &[Uuid],
    target: Uuid,
) -> (Vec<Uuid>, ApproverSource) {
    let clean = |list: &[Uuid]| {
        let mut out: Vec<Uuid> = Vec::new();
        for id in list {
            if *id != target && !out.contains(id) {
                out.push(*id);
            }
        }
        out
    };
    for (list, source) in [
        (primary, ApproverSource::Approvers),
        (fallback, ApproverSource::Fallback),
        (admins, ApproverSource::TenantAdmins),
    ] {
        let chosen = clean(list);
        if !chosen.is_empty() {
            return (chosen, source);
        }
    }
    (Vec::new(), ApproverSource::Nobody)
}

/// The result of the decisions recorded so far on a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageOutcome {
    Pending,
    Approved,
    Denied,
}

/// Any deny ends the stage; `anyOne` needs one approval. `all` needs the approval of
/// every approver who is not an alternate, or of one alternate: alternates are the
/// approvers an escalation added to an `all` stage, and one alternate's approval stands
/// in for every approver who has not decided.
pub fn stage_outcome(
    rule: DecisionRule,
    approvers: &[Uuid],
    alternates: &[Uuid],
    decisions: &[(Uuid, Decision)],
) -> StageOutcome {
    if decisions.iter().any(|(_, d)| *d == Decision::Deny) {
        return StageOutcome::Denied;
    }
    let approved = |id: &Uuid| {
        decisions
            .iter()
            .any(|(a, d)| a == id && *d == Decision::Approve)
    };
    let mut required = approvers
        .iter()
        .filter(|a| !alternates.contains(a))
        .peekable();
    match rule {
        DecisionRule::AnyOne if decisions.iter().any(|(_, d)| *d == Decision::Approve) => {
            StageOutcome::Approved
        }
        DecisionRule::All
            if alternates
                .iter()
                .any(|a| approvers.contains(a) && approved(a)) =>
        {
            StageOutcome::Approved
        }
        DecisionRule::All if required.peek().is_some() && required.all(approved) => {
            StageOutcome::Approved
        }
        _ => StageOutcome::Pending,
    }
}

/// The rule a stage keeps once its required approvers are counted: an `all` stage whose
/// required approvers exceed [`MAX_ALL_APPROVERS`] is read as `anyOne`, so it can
/// always be decided.
pub fn capped_rule(rule: DecisionRule, required: usize) -> DecisionRule {
    if rule == DecisionRule::All && required > MAX_ALL_APPROVERS {
        DecisionRule::AnyOne
    } else {
        rule
    }
}
