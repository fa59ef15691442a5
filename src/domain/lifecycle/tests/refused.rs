//! Refused transitions, with the words the person gets, and when a request completes.

use super::*;

/// Every refused transition, with the words the person gets.
#[test]
fn refused_transitions() {
    let pending = S::PendingApproval;
    let one = || vec![stage(0, AnyOne, &[1, 2])];
    let mut justified = stage(0, AnyOne, &[1]);
    justified.require_justification = true;
    let mut closed = decided_by(stage(0, AnyOne, &[1, 2]), 2, Approve);
    closed.state = StageState::Approved;
    let rows: Vec<(&'static str, Request, Vec<Stage>, Event, &'static str)> = vec![
        (
            "a removal never goes through the machine's submission",
            request(K::UserRemove, S::Submitted, 1),
            vec![],
            Event::Submitted {
                extension_requires_approval: false,
            },
            "does not go through approval",
        ),
        (
            "a request is submitted once",
            request(K::UserAdd, pending, 1),
            vec![],
            Event::Submitted {
                extension_requires_approval: false,
            },
            "submitted before",
        ),
        (
            "a non-approver cannot decide",
            request(K::UserAdd, pending, 1),
            one(),
            decide(9, Approve),
            "not an approver of the current stage",
        ),
        (
            "an approver decides once",
            request(K::UserAdd, pending, 1),
            vec![decided_by(stage(0, All, &[1, 2]), 1, Approve)],
            decide(1, Deny),
            "already decided this stage",
        ),
        (
            "a stage requiring a justification refuses a decision without one",
            request(K::UserAdd, pending, 1),
            vec![justified],
            decide(1, Approve),
            "the input is not valid",
        ),
        (
            "a late approver is told who decided",
            request(K::UserAdd, S::Delivered, 1),
            vec![closed],
            decide(1, Deny),
            "already approved by Ann",
        ),
        (
            "a canceled request cannot be decided",
            request(K::UserAdd, S::Canceled, 1),
            vec![],
            decide(1, Approve),
            "is canceled and can no longer be decided",
        ),
        (
            "a delivered request cannot be canceled",
            request(K::UserAdd, S::Delivered, 0),
            vec![],
            Event::Canceled,
            "already delivered",
        ),
        (
            "a denied request cannot time out",
            request(K::UserAdd, S::Denied, 1),
            vec![],
            Event::StageTimedOut,
            "can no longer be decided",
        ),
        (
            "an expired request is not escalated",
            request(K::UserAdd, S::Expired, 1),
            vec![],
            Event::Escalated { added: vec![id(3)] },
            "can no longer be decided",
        ),
        (
            "no stage opens past the policy's last",
            request(K::UserAdd, pending, 1),
            vec![],
            Event::StageOpened {
                index: 1,
                rule: AnyOne,
                approvers: vec![id(1)],
                source: ApproverSource::Approvers,
                due_at: now(),
            },
            "stage 2 does not exist",
        ),
        (
            "a denied request is never delivered",
            request(K::UserAdd, S::Denied, 1),
            vec![],
            Event::Delivered {
                assignment: id(7),
                state: S::Delivered,
                refusals: vec![],
            },
            "not waiting for delivery",
        ),
        (
            "a new assignment does not start expired",
            request(K::UserAdd, S::Submitted, 0),
            vec![],
            Event::Delivered {
                assignment: id(7),
                state: S::Expired,
                refusals: vec![],
            },
            "cannot start as expired",
        ),
        (
            "only extensions extend",
            request(K::UserAdd, S::Submitted, 0),
            vec![],
            Event::Extended {
                assignment_live: true,
                end: Some(now()),
            },
            "Only an extension request",
        ),
    ];
    for (what, req, stages, event, words) in rows {
        match step(&req, &stages, event, now()) {
            Ok(t) => panic!("{what}: accepted as {}", t.state),
            Err(r) => {
                let text = refusal_text(r);
                assert!(text.contains(words), "{what}: {text}");
            }
        }
    }
}

#[test]
fn completion_follows_final_states() {
    let t = step(
        &request(K::UserAdd, S::Submitted, 0),
        &[],
        Event::Delivered {
            assignment: id(7),
            state: S::Delivering,
            refusals: vec![],
        },
        now(),
    )
    .unwrap_or_else(|r| panic!("{}", refusal_text(r)));
    assert!(!t.completed);
    let t = step(
        &request(K::UserAdd, S::PendingApproval, 1),
        &[stage(0, AnyOne, &[1])],
        decide(1, Deny),
        now(),
    )
    .unwrap_or_else(|r| panic!("{}", refusal_text(r)));
    assert!(t.completed);
    let change = t.stage.unwrap_or_default();
    assert_eq!(change.decision, Some((id(1), Deny, None)));
}
