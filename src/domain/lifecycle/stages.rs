//! The approval stages of the lifecycle: a stage opening (over the approver cap it is
//! read as `anyOne`), an approver's decision, approvers leaving an open stage, and what
//! an approved stage leads to.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Action, Ask, Note, Refusal, Request, Stage, StageChange, Tell, Then, Told, Transition,
    approved, conflict,
};
use crate::domain::error::{DomainError, FieldErrors};
use crate::domain::policy::{DecisionRule, MAX_ALL_APPROVERS};
use crate::domain::request::{
    ApproverSource, Decision, RequestState, StageOutcome, StageState, capped_rule,
    parse_justification, stage_outcome,
};

pub(super) fn stage_opened(
    request: &Request,
    index: usize,
    rule: DecisionRule,
    approvers: Vec<Uuid>,
    source: ApproverSource,
    due_at: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    if !matches!(
        request.state,
        RequestState::Submitted | RequestState::PendingApproval | RequestState::WaitingForCallback
    ) {
        return Err(conflict(format!(
            "This request is {}; no approval stage can open.",
            request.state
        )));
    }
    if index >= request.policy_stages {
        return Err(conflict(format!(
            "The policy has {} approval stages; stage {} does not exist.",
            request.policy_stages,
            index + 1
        )));
    }
    let mut t = Transition::to(RequestState::PendingApproval).note(
        Action::StageOpened,
        true,
        json!({"stage": index, "approverIds": approvers, "approverSource": format!("{source:?}"), "dueAt": due_at}),
    );
    let capped = capped_rule(rule, approvers.len());
    if capped != rule {
        t = t.note(Action::StageRelaxed, true, relaxed(index, approvers.len()));
        t.stage = Some(StageChange {
            index,
            rule: Some(capped),
            ..StageChange::default()
        });
    }
    Ok(t.tell(Tell::Approvers {
        stage: index,
        who: approvers,
        reason: Ask::Opened,
    }))
}

/// The audit details of an `all` stage read as `anyOne` because its required approvers
/// exceed the cap.
fn relaxed(index: usize, required: usize) -> Value {
    json!({
        "stage": index,
        "decisionRule": "anyOne",
        "requiredApprovers": required,
        "maxAllApprovers": MAX_ALL_APPROVERS,
        "reason": format!(
            "Approval stage {} requires every approver, but {required} people would be required (at most {MAX_ALL_APPROVERS}); one approval now settles it.",
            index + 1
        ),
    })
}

/// Approvers who can no longer decide leave the open stage. Their recorded decisions
/// stay; `added` join when nobody would be left; an `all` stage over the cap is read as
/// `anyOne`; and a stage whose remaining approvers have all approved is settled.
pub(super) fn approvers_left(
    request: &Request,
    stages: &[Stage],
    left: Vec<Uuid>,
    added: Vec<Uuid>,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    let stage = open_stage(request, stages)?;
    let removed: Vec<Uuid> = stage
        .approvers
        .iter()
        .filter(|a| left.contains(a))
        .copied()
        .collect();
    let mut approvers: Vec<Uuid> = stage
        .approvers
        .iter()
        .filter(|a| !removed.contains(a))
        .copied()
        .collect();
    let added: Vec<Uuid> =
        added
            .into_iter()
            .filter(|a| !left.contains(a))
            .fold(Vec::new(), |mut acc, id| {
                if !approvers.contains(&id) && !acc.contains(&id) {
                    acc.push(id);
                }
                acc
            });
    approvers.extend(added.iter().copied());
    let alternates: Vec<Uuid> = stage
        .alternates
        .iter()
        .filter(|a| !removed.contains(a))
        .copied()
        .collect();
    let required = approvers.iter().filter(|a| !alternates.contains(a)).count();
    let rule = capped_rule(stage.rule, required);
    let mut notes = vec![Note {
        action: Action::ApproverLeft,
        by_system: true,
        details: json!({"stage": stage.index, "leftApproverIds": removed, "addedApproverIds": added, "reason": "approverInactive"}),
    }];
    if rule != stage.rule {
        notes.push(Note {
            action: Action::StageRelaxed,
            by_system: true,
            details: relaxed(stage.index, required),
        });
    }
    let decisions: Vec<(Uuid, Decision)> = stage
        .decisions
        .iter()
        .map(|d| (d.approver, d.decision))
        .collect();
    let mut change = StageChange {
        index: stage.index,
        added_approvers: added.clone(),
        removed_approvers: removed,
        rule: (rule != stage.rule).then_some(rule),
        ..StageChange::default()
    };
    let mut t = match stage_outcome(rule, &approvers, &alternates, &decisions) {
        StageOutcome::Approved => {
            change.state = Some(StageState::Approved);
            settled(request, stage.index, now, notes, true)
        }
        // A deny closes the stage when it is recorded; none can be waiting here.
        StageOutcome::Pending | StageOutcome::Denied => {
            let mut t = Transition::to(request.state);
            t.notes = notes;
            t
        }
    };
    if !added.is_empty() && change.state.is_none() {
        t = t.tell(Tell::Approvers {
            stage: stage.index,
            who: added,
            reason: Ask::Opened,
        });
    }
    t.stage = Some(change);
    Ok(t)
}

/// Stage `index` was approved: open the next stage, or the request is approved.
fn settled(
    request: &Request,
    index: usize,
    now: DateTime<Utc>,
    mut notes: Vec<Note>,
    by_system: bool,
) -> Transition {
    let next = index + 1;
    if next < request.policy_stages {
        let mut t = Transition::to(request.state);
        t.notes = notes;
        t.then = Then::OpenStage(next);
        t
    } else {
        notes.push(Note {
            action: Action::Approved,
            by_system,
            details: json!({}),
        });
        let t = approved(request, now, notes);
        // Access that waits for its start: the requestor learns it was approved.
        if t.state == RequestState::Scheduled {
            t.tell(Tell::Requestor(Told::Approved))
        } else {
            t
        }
    }
}

pub(super) fn decided(
    request: &Request,
    stages: &[Stage],
    approver: Uuid,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    let stage = match open_stage(request, stages) {
        Ok(stage) => stage,
        Err(refusal) => return Err(decided_before(stages).unwrap_or(refusal)),
    };
    if !stage.approvers.contains(&approver) {
        return Err(Refusal::Rule(DomainError::forbidden(
            "You are not an approver of the current stage of this request.",
        )));
    }
    if stage.decisions.iter().any(|d| d.approver == approver) {
        return Err(conflict(
            "You already decided this stage; the other approvers' decisions are awaited.",
        ));
    }
    let mut errors = FieldErrors::new();
    let justification = parse_justification(
        justification.as_deref(),
        stage.require_justification,
        "justification",
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Refusal::Rule(DomainError::Validation(errors)));
    }
    let mut change = StageChange {
        index: stage.index,
        decision: Some((approver, decision, justification.clone())),
        ..StageChange::default()
    };
    let decided_note = Note {
        action: Action::Decided,
        by_system: false,
        details: json!({"stage": stage.index, "decision": decision.as_str(), "justification": justification}),
    };
    let mut decisions: Vec<(Uuid, Decision)> = stage
        .decisions
        .iter()
        .map(|d| (d.approver, d.decision))
        .collect();
    decisions.push((approver, decision));
    let outcome = stage_outcome(stage.rule, &stage.approvers, &stage.alternates, &decisions);
    let mut t = match outcome {
        StageOutcome::Pending => {
            let mut t = Transition::to(request.state);
            t.notes.push(decided_note);
            t
        }
        StageOutcome::Denied => {
            change.state = Some(StageState::Denied);
            let mut t = Transition::to(RequestState::Denied);
            t.notes.push(decided_note);
            t.note(Action::Denied, false, json!({"stage": stage.index}))
                .tell(Tell::Requestor(Told::Denied))
        }
        StageOutcome::Approved => {
            change.state = Some(StageState::Approved);
            settled(request, stage.index, now, vec![decided_note], false)
        }
    };
    if outcome != StageOutcome::Pending {
        let waiting: Vec<Uuid> = stage
            .approvers
            .iter()
            .filter(|a| **a != approver && !stage.decisions.iter().any(|d| d.approver == **a))
            .copied()
            .collect();
        if !waiting.is_empty() {
            t = t.tell(Tell::Decided {
                stage: stage.index,
                who: waiting,
                by: approver,
            });
        }
    }
    t.stage = Some(change);
    Ok(t)
}

/// The stage that is open for decisions.
pub(super) fn open_stage<'a>(request: &Request, stages: &'a [Stage]) -> Result<&'a Stage, Refusal> {
    stages
        .last()
        .filter(|s| {
            s.state == StageState::Pending && request.state == RequestState::PendingApproval
        })
        .ok_or_else(|| {
            conflict(format!(
                "This request is {} and can no longer be decided.",
                request.state
            ))
        })
}

/// The decision that closed the last stage, for telling a late approver who decided.
fn decided_before(stages: &[Stage]) -> Option<Refusal> {
    let s = stages.last()?;
    let d = match s.state {
        StageState::Denied => s.decisions.iter().find(|d| d.decision == Decision::Deny),
        StageState::Approved if s.rule == DecisionRule::AnyOne => {
            s.decisions.iter().find(|d| d.decision == Decision::Approve)
        }
        StageState::Approved => s.decisions.last(),
        _ => None,
    }?;
    Some(Refusal::AlreadyDecided {
        approver: d.approver,
        decision: d.decision,
        at: d.at,
    })
}

/// `added` without the approvers already on the stage, each once.
pub(super) fn new_approvers(stage: &Stage, added: Vec<Uuid>) -> Vec<Uuid> {
    added.into_iter().fold(Vec::new(), |mut acc, id| {
        if !stage.approvers.contains(&id) && !acc.contains(&id) {
            acc.push(id);
        }
        acc
    })
}
