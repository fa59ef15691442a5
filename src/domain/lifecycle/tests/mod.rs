//! The lifecycle's transition tables: every accepted event here, every refused one in
//! `refused`, and the quorum rules of stages in `stages`.

use super::*;
use chrono::{Duration, TimeZone};

mod callbacks;
mod refused;
mod stages;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn request(kind: RequestType, state: RequestState, stages: usize) -> Request {
    Request {
        kind,
        state,
        start: None,
        policy_stages: stages,
        holds: Holds::default(),
    }
}

fn stage(index: usize, rule: DecisionRule, approvers: &[u128]) -> Stage {
    Stage {
        index,
        state: StageState::Pending,
        rule,
        approvers: approvers.iter().map(|a| id(*a)).collect(),
        alternates: Vec::new(),
        decisions: Vec::new(),
        require_justification: false,
    }
}

fn decided_by(mut s: Stage, who: u128, decision: Decision) -> Stage {
    s.decisions.push(Decided {
        approver: id(who),
        decision,
        at: now() - Duration::hours(1),
    });
    s
}

fn decide(who: u128, decision: Decision) -> Event {
    Event::Decided {
        approver: id(who),
        decision,
        justification: None,
    }
}

fn actions(t: &Transition) -> Vec<&'static str> {
    t.notes.iter().map(|n| n.action.as_str()).collect()
}

fn refusal_text(r: Refusal) -> String {
    r.explain("Ann").to_string()
}

use Decision::{Approve, Deny};
use DecisionRule::{All, AnyOne};
use RequestState as S;
use RequestType as K;

/// Every accepted transition: (what, request, stages, event, new state, stage
/// state, then, audit actions, notices).
#[test]
fn accepted_transitions() {
    let pending = S::PendingApproval;
    let one = || vec![stage(0, AnyOne, &[1, 2])];
    let all = || vec![stage(0, All, &[1, 2])];
    let mut future = request(K::UserAdd, S::Submitted, 0);
    future.start = Some(now() + Duration::days(2));
    let mut scheduled_later = request(K::UserAdd, S::PendingApproval, 1);
    scheduled_later.start = Some(now() + Duration::days(2));
    let no_extension_approval = Event::Submitted {
        extension_requires_approval: false,
    };
    let with_extension_approval = Event::Submitted {
        extension_requires_approval: true,
    };
    type Row = (
        &'static str,
        Request,
        Vec<Stage>,
        Event,
        RequestState,
        Option<StageState>,
        Then,
        Vec<&'static str>,
        Vec<Tell>,
    );
    let rows: Vec<Row> = vec![
        (
            "a user's add with stages opens stage 1 and tells the requestor, its target",
            request(K::UserAdd, S::Submitted, 2),
            vec![],
            no_extension_approval.clone(),
            S::Submitted,
            None,
            Then::OpenStage(0),
            vec![],
            vec![Tell::Target(Told::Submitted)],
        ),
        (
            "a user's add without stages is delivered",
            request(K::UserAdd, S::Submitted, 0),
            vec![],
            no_extension_approval.clone(),
            S::Submitted,
            None,
            Then::Deliver,
            vec![],
            vec![],
        ),
        (
            "an admin's add skips the stages",
            request(K::AdminAdd, S::Submitted, 2),
            vec![],
            no_extension_approval.clone(),
            S::Submitted,
            None,
            Then::Deliver,
            vec![],
            vec![],
        ),
        (
            "an add starting later waits for its start",
            future,
            vec![],
            no_extension_approval.clone(),
            S::Scheduled,
            None,
            Then::Nothing,
            vec!["assignmentRequest.scheduled"],
            vec![],
        ),
        (
            "a user's extension needing approval opens stage 1, silently",
            request(K::UserUpdate, S::Submitted, 1),
            vec![],
            with_extension_approval.clone(),
            S::Submitted,
            None,
            Then::OpenStage(0),
            vec![],
            vec![],
        ),
        (
            "a user's extension without approval is applied",
            request(K::UserUpdate, S::Submitted, 1),
            vec![],
            no_extension_approval.clone(),
            S::Submitted,
            None,
            Then::Extend,
            vec![],
            vec![],
        ),
        (
            "an admin's extension is applied even when approval is required",
            request(K::AdminUpdate, S::Submitted, 1),
            vec![],
            with_extension_approval,
            S::Submitted,
            None,
            Then::Extend,
            vec![],
            vec![],
        ),
        (
            "an opened stage asks its approvers",
            request(K::UserAdd, S::Submitted, 1),
            vec![],
            Event::StageOpened {
                index: 0,
                rule: AnyOne,
                approvers: vec![id(1)],
                source: ApproverSource::Approvers,
                due_at: now() + Duration::days(14),
            },
            pending,
            None,
            Then::Nothing,
            vec!["assignmentRequest.stageOpened"],
            vec![Tell::Approvers {
                stage: 0,
                who: vec![id(1)],
                reason: Ask::Opened,
            }],
        ),
        (
            "one approval decides an anyOne stage; the last stage delivers",
            request(K::UserAdd, pending, 1),
            one(),
            decide(1, Approve),
            pending,
            Some(StageState::Approved),
            Then::Deliver,
            vec!["assignmentRequest.decided", "assignmentRequest.approved"],
            vec![Tell::Decided {
                stage: 0,
                who: vec![id(2)],
                by: id(1),
            }],
        ),
        (
            "an approval with a later start schedules it and tells the requestor",
            scheduled_later.clone(),
            one(),
            decide(1, Approve),
            S::Scheduled,
            Some(StageState::Approved),
            Then::Nothing,
            vec![
                "assignmentRequest.decided",
                "assignmentRequest.approved",
                "assignmentRequest.scheduled",
            ],
            vec![
                Tell::Requestor(Told::Approved),
                Tell::Decided {
                    stage: 0,
                    who: vec![id(2)],
                    by: id(1),
                },
            ],
        ),
        (
            "an approved stage before the last opens the next",
            request(K::UserAdd, pending, 2),
            one(),
            decide(2, Approve),
            pending,
            Some(StageState::Approved),
            Then::OpenStage(1),
            vec!["assignmentRequest.decided"],
            vec![Tell::Decided {
                stage: 0,
                who: vec![id(1)],
                by: id(2),
            }],
        ),
        (
            "an approved extension is applied",
            request(K::UserUpdate, pending, 1),
            one(),
            decide(1, Approve),
            pending,
            Some(StageState::Approved),
            Then::Extend,
            vec!["assignmentRequest.decided", "assignmentRequest.approved"],
            vec![Tell::Decided {
                stage: 0,
                who: vec![id(2)],
                by: id(1),
            }],
        ),
        (
            "a deny ends the request and tells the requestor and the other approvers",
            request(K::UserAdd, pending, 2),
            one(),
            decide(1, Deny),
            S::Denied,
            Some(StageState::Denied),
            Then::Nothing,
            vec!["assignmentRequest.decided", "assignmentRequest.denied"],
            vec![
                Tell::Requestor(Told::Denied),
                Tell::Decided {
                    stage: 0,
                    who: vec![id(2)],
                    by: id(1),
                },
            ],
        ),
        (
            "an all stage waits for every approver",
            request(K::UserAdd, pending, 1),
            all(),
            decide(1, Approve),
            pending,
            None,
            Then::Nothing,
            vec!["assignmentRequest.decided"],
            vec![],
        ),
        (
            "the last approval of an all stage decides it",
            request(K::UserAdd, pending, 1),
            vec![decided_by(stage(0, All, &[1, 2]), 1, Approve)],
            decide(2, Approve),
            pending,
            Some(StageState::Approved),
            Then::Deliver,
            vec!["assignmentRequest.decided", "assignmentRequest.approved"],
            vec![],
        ),
        (
            "one deny decides an all stage",
            request(K::UserAdd, pending, 1),
            vec![decided_by(stage(0, All, &[1, 2]), 1, Approve)],
            decide(2, Deny),
            S::Denied,
            Some(StageState::Denied),
            Then::Nothing,
            vec!["assignmentRequest.decided", "assignmentRequest.denied"],
            vec![Tell::Requestor(Told::Denied)],
        ),
        (
            "a stage that times out expires the request",
            request(K::UserAdd, pending, 1),
            one(),
            Event::StageTimedOut,
            S::Expired,
            Some(StageState::Expired),
            Then::Nothing,
            vec!["assignmentRequest.expired"],
            vec![Tell::Requestor(Told::Expired)],
        ),
        (
            "escalation adds approvers not already on the stage and asks them",
            request(K::UserAdd, pending, 1),
            one(),
            Event::Escalated {
                added: vec![id(2), id(3), id(3)],
            },
            pending,
            None,
            Then::Nothing,
            vec!["assignmentRequest.escalated"],
            vec![Tell::Approvers {
                stage: 0,
                who: vec![id(3)],
                reason: Ask::Escalated,
            }],
        ),
        (
            "an approver who leaves while others remain changes nothing else",
            request(K::UserAdd, pending, 1),
            all(),
            Event::ApproversLeft {
                left: vec![id(2)],
                added: vec![],
            },
            pending,
            None,
            Then::Nothing,
            vec!["assignmentRequest.approverLeft"],
            vec![],
        ),
        (
            "the silent approver of an all stage leaves after the other approved: approved",
            request(K::UserAdd, pending, 1),
            vec![decided_by(stage(0, All, &[1, 2]), 1, Approve)],
            Event::ApproversLeft {
                left: vec![id(2)],
                added: vec![],
            },
            pending,
            Some(StageState::Approved),
            Then::Deliver,
            vec![
                "assignmentRequest.approverLeft",
                "assignmentRequest.approved",
            ],
            vec![],
        ),
        (
            "the silent approver of an all stage 1 of 2 leaves: stage 2 opens",
            request(K::UserAdd, pending, 2),
            vec![decided_by(stage(0, All, &[1, 2]), 1, Approve)],
            Event::ApproversLeft {
                left: vec![id(2)],
                added: vec![],
            },
            pending,
            Some(StageState::Approved),
            Then::OpenStage(1),
            vec!["assignmentRequest.approverLeft"],
            vec![],
        ),
        (
            "the last approver leaves: those taking over join and are asked",
            request(K::UserAdd, pending, 1),
            vec![stage(0, All, &[1])],
            Event::ApproversLeft {
                left: vec![id(1)],
                added: vec![id(7), id(8)],
            },
            pending,
            None,
            Then::Nothing,
            vec!["assignmentRequest.approverLeft"],
            vec![Tell::Approvers {
                stage: 0,
                who: vec![id(7), id(8)],
                reason: Ask::Opened,
            }],
        ),
        (
            "an all stage opening over the cap is read as anyOne, with an audit event",
            request(K::UserAdd, S::Submitted, 1),
            vec![],
            Event::StageOpened {
                index: 0,
                rule: All,
                approvers: vec![id(9)],
                source: ApproverSource::Approvers,
                due_at: now(),
            },
            pending,
            None,
            Then::Nothing,
            vec!["assignmentRequest.stageOpened"],
            vec![Tell::Approvers {
                stage: 0,
                who: vec![id(9)],
                reason: Ask::Opened,
            }],
        ),
        (
            "a pending request is canceled with its open stage",
            request(K::UserAdd, pending, 1),
            one(),
            Event::Canceled,
            S::Canceled,
            Some(StageState::Canceled),
            Then::Nothing,
            vec!["assignmentRequest.canceled"],
            vec![Tell::Requestor(Told::Canceled)],
        ),
        (
            "a scheduled request is canceled",
            request(K::UserAdd, S::Scheduled, 0),
            vec![],
            Event::Canceled,
            S::Canceled,
            None,
            Then::Nothing,
            vec!["assignmentRequest.canceled"],
            vec![Tell::Requestor(Told::Canceled)],
        ),
        (
            "delivery refused at the recheck fails and tells the requestor",
            request(K::UserAdd, S::Scheduled, 0),
            vec![],
            Event::DeliveryRefused {
                reason: "the target user is deactivated".into(),
            },
            S::DeliveryFailed,
            None,
            Then::Nothing,
            vec!["assignmentRequest.deliveryFailed"],
            vec![Tell::Requestor(Told::DeliveryFailed)],
        ),
        (
            "a delivered assignment tells the target",
            request(K::UserAdd, S::Submitted, 0),
            vec![],
            Event::Delivered {
                assignment: id(7),
                state: S::Delivered,
                refusals: vec![],
            },
            S::Delivered,
            None,
            Then::Nothing,
            vec!["assignmentRequest.delivered"],
            vec![Tell::Target(Told::Delivered)],
        ),
        (
            "connector grants after an approval leave it delivering; the requestor hears of the approval",
            request(K::UserAdd, pending, 1),
            vec![],
            Event::Delivered {
                assignment: id(7),
                state: S::Delivering,
                refusals: vec![],
            },
            S::Delivering,
            None,
            Then::Nothing,
            vec!["assignmentRequest.delivering"],
            vec![Tell::Requestor(Told::Approved)],
        ),
        (
            "connector grants at a scheduled start leave it delivering, nobody told yet",
            request(K::UserAdd, S::Scheduled, 1),
            vec![],
            Event::Delivered {
                assignment: id(7),
                state: S::Delivering,
                refusals: vec![],
            },
            S::Delivering,
            None,
            Then::Nothing,
            vec!["assignmentRequest.delivering"],
            vec![],
        ),
        (
            "refused roles make it partially delivered",
            request(K::UserAdd, S::Scheduled, 0),
            vec![],
            Event::Delivered {
                assignment: id(7),
                state: S::PartiallyDelivered,
                refusals: vec!["a privileged group".into()],
            },
            S::PartiallyDelivered,
            None,
            Then::Nothing,
            vec!["assignmentRequest.partiallyDelivered"],
            vec![Tell::Target(Told::DeliveryFailed)],
        ),
        (
            "grants settling later move a delivering request",
            request(K::UserAdd, S::Delivering, 0),
            vec![],
            Event::GrantsSettled {
                state: S::Delivered,
            },
            S::Delivered,
            None,
            Then::Nothing,
            vec!["assignmentRequest.stateChanged"],
            vec![Tell::Target(Told::Delivered)],
        ),
        (
            "grants settling to the same state change nothing",
            request(K::UserAdd, S::Delivered, 0),
            vec![],
            Event::GrantsSettled {
                state: S::Delivered,
            },
            S::Delivered,
            None,
            Then::Nothing,
            vec![],
            vec![],
        ),
        (
            "grants of a request not in delivery change nothing",
            request(K::UserAdd, S::Canceled, 0),
            vec![],
            Event::GrantsSettled {
                state: S::Delivered,
            },
            S::Canceled,
            None,
            Then::Nothing,
            vec![],
            vec![],
        ),
        (
            "an approved extension is delivered and its requestor told",
            request(K::UserUpdate, pending, 1),
            vec![],
            Event::Extended {
                assignment_live: true,
                end: Some(now()),
            },
            S::Delivered,
            None,
            Then::Nothing,
            vec!["assignmentRequest.delivered"],
            vec![Tell::Requestor(Told::Approved)],
        ),
        (
            "an extension of an ended assignment fails",
            request(K::UserUpdate, S::Submitted, 0),
            vec![],
            Event::Extended {
                assignment_live: false,
                end: None,
            },
            S::DeliveryFailed,
            None,
            Then::Nothing,
            vec!["assignmentRequest.deliveryFailed"],
            vec![],
        ),
    ];
    for (what, req, stages, event, state, stage_state, then, audit, tell) in rows {
        let t = step(&req, &stages, event, now())
            .unwrap_or_else(|r| panic!("{what}: refused: {}", refusal_text(r)));
        assert_eq!(t.state, state, "{what}: state");
        assert_eq!(
            t.stage.as_ref().and_then(|s| s.state),
            stage_state,
            "{what}: stage"
        );
        assert_eq!(t.then, then, "{what}: then");
        assert_eq!(actions(&t), audit, "{what}: audit");
        assert_eq!(t.tell, tell, "{what}: notices");
        let completes = state.is_final() && t.changes(req.state);
        assert_eq!(t.completed, completes, "{what}: completion");
    }
}
