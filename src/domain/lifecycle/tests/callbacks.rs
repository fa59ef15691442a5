//! Custom extensions in the lifecycle: where a request is held, what a callback or a
//! time-out does with it, and which stages each step reaches.

use super::*;
use crate::domain::extension::{CallbackOutcome, ExtensionStage};

use ExtensionStage::{RequestApproved, RequestCreated};

fn held(mut r: Request, created: bool, approved: bool) -> Request {
    r.holds = Holds { created, approved };
    r
}

fn submit(r: &Request) -> Transition {
    step(
        r,
        &[],
        Event::Submitted {
            extension_requires_approval: false,
        },
        now(),
    )
    .unwrap_or_else(|e| panic!("{}", refusal_text(e)))
}

fn resume(
    r: &Request,
    stage: ExtensionStage,
    outcome: CallbackOutcome,
) -> Result<Transition, Refusal> {
    step(
        r,
        &[],
        Event::CallbackResumed {
            stage,
            outcome,
            message: Some("checked".into()),
        },
        now(),
    )
}

#[test]
fn a_submission_reaches_request_created_and_without_holds_goes_on() {
    let t = submit(&request(K::UserAdd, S::Submitted, 1));
    assert_eq!(t.reached, vec![RequestCreated]);
    assert_eq!(t.then, Then::OpenStage(0));
    assert_eq!(t.holds_at, None);
    // Without approval the request is approved at once: both stages are reached.
    let t = submit(&request(K::UserAdd, S::Submitted, 0));
    assert_eq!(t.reached, vec![RequestCreated, RequestApproved]);
    assert_eq!(t.then, Then::Deliver);
}

#[test]
fn a_hold_at_request_created_waits_before_any_stage_opens() {
    let t = submit(&held(request(K::UserAdd, S::Submitted, 1), true, false));
    assert_eq!(t.state, S::WaitingForCallback);
    assert_eq!(t.then, Then::Nothing);
    assert_eq!(t.holds_at, Some(RequestCreated));
    assert_eq!(t.reached, vec![RequestCreated]);
    assert_eq!(actions(&t), vec!["assignmentRequest.waitingForCallback"]);
    assert!(!t.completed);
    assert_eq!(t.tell, vec![Tell::Target(Told::Submitted)]);
}

#[test]
fn continue_at_request_created_proceeds_as_a_submission() {
    let waiting = held(request(K::UserAdd, S::WaitingForCallback, 1), true, false);
    let t = resume(&waiting, RequestCreated, CallbackOutcome::Continue).expect("resumed");
    assert_eq!(t.then, Then::OpenStage(0));
    assert_eq!(
        t.state,
        S::WaitingForCallback,
        "the opening stage moves it on"
    );
    assert_eq!(actions(&t), vec!["assignmentRequest.callbackResumed"]);
    assert!(t.tell.is_empty(), "the submission was told before");
    // The stage opens from the waiting state.
    let opened = step(
        &waiting,
        &[],
        Event::StageOpened {
            index: 0,
            rule: AnyOne,
            approvers: vec![id(1)],
            source: crate::domain::request::ApproverSource::Approvers,
            due_at: now(),
        },
        now(),
    )
    .expect("opened");
    assert_eq!(opened.state, S::PendingApproval);
    // Without approval stages it is approved, reaching (and possibly held at) the next.
    let no_stages = held(request(K::UserAdd, S::WaitingForCallback, 0), true, false);
    let t = resume(&no_stages, RequestCreated, CallbackOutcome::Continue).expect("resumed");
    assert_eq!(t.then, Then::Deliver);
    assert_eq!(t.reached, vec![RequestApproved]);
    let both = held(request(K::UserAdd, S::WaitingForCallback, 0), true, true);
    let t = resume(&both, RequestCreated, CallbackOutcome::Continue).expect("resumed");
    assert_eq!(t.holds_at, Some(RequestApproved));
    assert_eq!(t.state, S::WaitingForCallback);
}

#[test]
fn deny_ends_the_request_as_denied_with_the_message() {
    let waiting = held(request(K::UserAdd, S::WaitingForCallback, 1), true, false);
    let t = resume(&waiting, RequestCreated, CallbackOutcome::Deny).expect("resumed");
    assert_eq!(t.state, S::Denied);
    assert!(t.completed);
    assert_eq!(
        actions(&t),
        vec![
            "assignmentRequest.callbackResumed",
            "assignmentRequest.denied"
        ]
    );
    assert_eq!(t.notes[0].details["message"], "checked");
    assert_eq!(t.tell, vec![Tell::Requestor(Told::Denied)]);
}

#[test]
fn a_hold_at_request_approved_waits_after_the_last_stage() {
    let r = held(request(K::UserAdd, S::PendingApproval, 1), false, true);
    let t = step(&r, &[stage(0, AnyOne, &[1])], decide(1, Approve), now()).expect("decided");
    assert_eq!(t.state, S::WaitingForCallback);
    assert_eq!(t.holds_at, Some(RequestApproved));
    assert_eq!(t.reached, vec![RequestApproved]);
    assert_eq!(t.then, Then::Nothing);
    // Continue delivers as an approval would have; the stage is not reached twice.
    let waiting = held(request(K::UserAdd, S::WaitingForCallback, 1), false, true);
    let t = resume(&waiting, RequestApproved, CallbackOutcome::Continue).expect("resumed");
    assert_eq!(t.then, Then::Deliver);
    assert!(t.reached.is_empty());
    // A start in the future is scheduled after the hold.
    let mut later = waiting.clone();
    later.start = Some(now() + Duration::days(3));
    let t = resume(&later, RequestApproved, CallbackOutcome::Continue).expect("resumed");
    assert_eq!(t.state, S::Scheduled);
    // Delivery follows from the waiting state.
    let delivered = step(
        &waiting,
        &[],
        Event::Delivered {
            assignment: id(9),
            state: S::Delivered,
            refusals: Vec::new(),
        },
        now(),
    )
    .expect("delivered");
    assert_eq!(delivered.state, S::Delivered);
}

#[test]
fn a_time_out_applies_on_timeout() {
    let waiting = held(request(K::UserAdd, S::WaitingForCallback, 0), false, true);
    let timed_out = |outcome| {
        step(
            &waiting,
            &[],
            Event::CallbackTimedOut {
                stage: RequestApproved,
                outcome,
            },
            now(),
        )
        .expect("timed out")
    };
    let t = timed_out(CallbackOutcome::Deny);
    assert_eq!(t.state, S::Denied);
    assert_eq!(actions(&t)[0], "assignmentRequest.callbackTimedOut");
    let t = timed_out(CallbackOutcome::Continue);
    assert_eq!(t.then, Then::Deliver);
}

#[test]
fn callbacks_are_refused_unless_the_request_waits() {
    for state in [S::PendingApproval, S::Canceled, S::Denied, S::Delivered] {
        let r = request(K::UserAdd, state, 1);
        let e = resume(&r, RequestCreated, CallbackOutcome::Continue).expect_err("refused");
        assert!(refusal_text(e).contains(state.as_str()), "{state}");
    }
}

#[test]
fn a_waiting_request_can_be_canceled_and_not_decided() {
    let waiting = held(request(K::UserAdd, S::WaitingForCallback, 1), true, false);
    let t = step(&waiting, &[], Event::Canceled, now()).expect("canceled");
    assert_eq!(t.state, S::Canceled);
    assert!(step(&waiting, &[], decide(1, Approve), now()).is_err());
}

#[test]
fn extensions_and_admin_adds_follow_their_own_rules() {
    // An extension of access is never held.
    let t = step(
        &held(request(K::UserUpdate, S::Submitted, 1), true, true),
        &[],
        Event::Submitted {
            extension_requires_approval: true,
        },
        now(),
    )
    .expect("submitted");
    assert_eq!(t.holds_at, None);
    assert!(t.reached.is_empty());
    // An admin's add is held too, without telling the target it was submitted.
    let t = submit(&held(request(K::AdminAdd, S::Submitted, 0), true, false));
    assert_eq!(t.holds_at, Some(RequestCreated));
    assert!(t.tell.is_empty());
}
