//! The approval-stage rules: who approves a stage, and when its decisions settle it.

use uuid::Uuid;

use super::Decision;
use crate::domain::policy::DecisionRule;

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

/// Any deny ends the stage; `anyOne` needs one approval, `all` every approver's.
pub fn stage_outcome(
    rule: DecisionRule,
    approvers: &[Uuid],
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
    match rule {
        DecisionRule::AnyOne if decisions.iter().any(|(_, d)| *d == Decision::Approve) => {
            StageOutcome::Approved
        }
        DecisionRule::All if !approvers.is_empty() && approvers.iter().all(approved) => {
            StageOutcome::Approved
        }
        _ => StageOutcome::Pending,
    }
}
