//! The request lifecycle (DOMAIN.md §6–§8) as one pure state machine: given what is
//! known of a request and its stages, an event and `now`, [`step`] answers the request's
//! new state, the change to its current stage, what the service must do next (open a
//! stage, deliver, extend), the audit events and the notices to send — or why not.
//!
//! Services load the facts, call [`step`], persist what it returns and carry out the
//! follow-up it names; they hold no lifecycle rule of their own. The follow-ups that
//! need the database (resolving a stage's approvers, applying grants) come back as
//! events: [`Event::StageOpened`], [`Event::Delivered`], [`Event::Extended`].

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::DomainError;
use super::extension::{CallbackOutcome, ExtensionStage};
use super::policy::DecisionRule;
use super::request::{ApproverSource, Decision, RequestState, RequestType, StageState};
use super::string_enum;

/// What the machine needs to know of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestType,
    pub state: RequestState,
    /// The start of the access asked for (adds only).
    pub start: Option<DateTime<Utc>>,
    /// How many approval stages the request's policy has (read by submission, stage
    /// opening and decisions only).
    pub policy_stages: usize,
    /// Where the policy's custom extensions hold the request (read by submission,
    /// approval and callbacks only).
    pub holds: Holds,
}

/// Where a policy's `waitForCallback` extensions hold a request: after it is created
/// (before any approval stage opens) and after it is approved (before delivery). Only
/// adds are held; an extension's request or a removal never waits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Holds {
    pub created: bool,
    pub approved: bool,
}

/// One recorded decision on a stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    pub approver: Uuid,
    pub decision: Decision,
    pub at: DateTime<Utc>,
}

/// What the machine needs to know of an approval stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    pub state: StageState,
    pub rule: DecisionRule,
    pub approvers: Vec<Uuid>,
    /// The approvers an escalation added to an `all` stage, who may approve in place of
    /// the silent ones (a subset of `approvers`).
    pub alternates: Vec<Uuid>,
    pub decisions: Vec<Decided>,
    pub require_justification: bool,
}

/// Something that happens to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The request was just written in state `submitted`. `extension_requires_approval`
    /// is the policy's switch; it matters for extensions only.
    Submitted { extension_requires_approval: bool },
    /// The service resolved the approvers of stage `index` (see
    /// [`super::request::select_approvers`]) and opens it.
    StageOpened {
        index: usize,
        rule: DecisionRule,
        approvers: Vec<Uuid>,
        source: ApproverSource,
        due_at: DateTime<Utc>,
    },
    /// An approver decided the open stage.
    Decided {
        approver: Uuid,
        decision: Decision,
        justification: Option<String>,
    },
    /// The open stage reached its due time.
    StageTimedOut,
    /// Escalation time: `added` are the escalation approvers not yet on the stage.
    Escalated { added: Vec<Uuid> },
    /// Approvers who can no longer decide (deactivated, or removed from the directory)
    /// leave the open stage; `added` take over when nobody active would be left (the
    /// stage's fallback approvers, else the tenant admins, resolved by the service).
    ApproversLeft { left: Vec<Uuid>, added: Vec<Uuid> },
    /// The requestor, the target or a manager of the catalog cancels.
    Canceled,
    /// Delivery checked the request again and found it can no longer be granted.
    DeliveryRefused { reason: String },
    /// The assignment was created; `state` is what its grants allow now
    /// (delivering, delivered, partially delivered or delivery failed).
    Delivered {
        assignment: Uuid,
        state: RequestState,
        refusals: Vec<String>,
    },
    /// The grants of the created assignment settled later (connector calls).
    GrantsSettled { state: RequestState },
    /// An extension was applied to its assignment, which now ends at `end`;
    /// `assignment_live` is false when the assignment had ended meanwhile.
    Extended {
        assignment_live: bool,
        end: Option<DateTime<Utc>>,
    },
    /// The custom extension holding the request at `stage` answered through its
    /// callback: go on as if it had not held the request, or deny it.
    CallbackResumed {
        stage: ExtensionStage,
        outcome: CallbackOutcome,
        message: Option<String>,
    },
    /// The custom extension holding the request at `stage` did not answer in time;
    /// `outcome` is its `onTimeout`.
    CallbackTimedOut {
        stage: ExtensionStage,
        outcome: CallbackOutcome,
    },
}

/// What the service must do after persisting a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    Nothing,
    /// Resolve the approvers of this stage and feed [`Event::StageOpened`].
    OpenStage(usize),
    /// Create the assignment and grant its roles, then feed [`Event::Delivered`] (or
    /// [`Event::DeliveryRefused`] when the recheck fails).
    Deliver,
    /// Move the assignment's end, then feed [`Event::Extended`].
    Extend,
}

/// The change to the request's current stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageChange {
    pub index: usize,
    /// The stage's new state, when it changes.
    pub state: Option<StageState>,
    /// A decision to record.
    pub decision: Option<(Uuid, Decision, Option<String>)>,
    /// Approvers added to the stage.
    pub added_approvers: Vec<Uuid>,
    /// Of `added_approvers`, those who join as alternates.
    pub added_alternates: Vec<Uuid>,
    /// Approvers who leave the stage.
    pub removed_approvers: Vec<Uuid>,
    /// The rule the stage is read with from now on, when it changes (an `all` stage
    /// over the approver cap is read as `anyOne`).
    pub rule: Option<DecisionRule>,
    /// The stage's escalation has run.
    pub escalated: bool,
}

string_enum!(Action {
    Created = "assignmentRequest.created",
    StageOpened = "assignmentRequest.stageOpened",
    Decided = "assignmentRequest.decided",
    Denied = "assignmentRequest.denied",
    Approved = "assignmentRequest.approved",
    Scheduled = "assignmentRequest.scheduled",
    Expired = "assignmentRequest.expired",
    Escalated = "assignmentRequest.escalated",
    ApproversAdded = "assignmentRequest.approversAdded",
    ApproverLeft = "assignmentRequest.approverLeft",
    StageRelaxed = "assignmentRequest.stageRelaxed",
    Canceled = "assignmentRequest.canceled",
    Delivering = "assignmentRequest.delivering",
    Delivered = "assignmentRequest.delivered",
    PartiallyDelivered = "assignmentRequest.partiallyDelivered",
    DeliveryFailed = "assignmentRequest.deliveryFailed",
    StateChanged = "assignmentRequest.stateChanged",
    WaitingForCallback = "assignmentRequest.waitingForCallback",
    CallbackResumed = "assignmentRequest.callbackResumed",
    CallbackTimedOut = "assignmentRequest.callbackTimedOut",
});

/// An audit event about the request. `by_system` events are Portico's own doing; the
/// others are the caller's.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub action: Action,
    pub by_system: bool,
    pub details: Value,
}

/// Why approvers are asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    Opened,
    Escalated,
}

/// What a person is told about the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Told {
    Submitted,
    /// Every stage approved, and the access is not there yet: it waits for its
    /// scheduled start or for connector calls (an extension: its new end is set).
    Approved,
    Denied,
    Canceled,
    Expired,
    Delivered,
    DeliveryFailed,
}

/// A notice to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tell {
    /// The requestor, while they are an active user.
    Requestor(Told),
    /// The person the access is for.
    Target(Told),
    /// Personal approve/deny links to these approvers of stage `stage`.
    Approvers {
        stage: usize,
        who: Vec<Uuid>,
        reason: Ask,
    },
    /// The approvers of stage `stage` who had not decided when `by` closed it: their
    /// decision is no longer needed and their links no longer work.
    Decided {
        stage: usize,
        who: Vec<Uuid>,
        by: Uuid,
    },
}

/// The outcome of an event.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The request's state afterwards.
    pub state: RequestState,
    /// The request reached a final state now (set its completion time).
    pub completed: bool,
    pub stage: Option<StageChange>,
    pub then: Then,
    pub notes: Vec<Note>,
    pub tell: Vec<Tell>,
    /// The custom-extension stages the request reached in this step, in order: the
    /// service calls the policy's extension of each.
    pub reached: Vec<ExtensionStage>,
    /// The stage whose extension now holds the request (state `waitingForCallback`).
    pub holds_at: Option<ExtensionStage>,
}

impl Transition {
    fn to(state: RequestState) -> Self {
        Self {
            state,
            completed: state.is_final(),
            stage: None,
            then: Then::Nothing,
            notes: Vec::new(),
            tell: Vec::new(),
            reached: Vec::new(),
            holds_at: None,
        }
    }

    /// The request waits for the extension of `stage`.
    fn hold(mut self, stage: ExtensionStage) -> Self {
        self.state = RequestState::WaitingForCallback;
        self.completed = false;
        self.then = Then::Nothing;
        self.holds_at = Some(stage);
        self.note(Action::WaitingForCallback, true, json!({"stage": stage}))
    }

    fn note(mut self, action: Action, by_system: bool, details: Value) -> Self {
        self.notes.push(Note {
            action,
            by_system,
            details,
        });
        self
    }

    fn tell(mut self, tell: Tell) -> Self {
        self.tell.push(tell);
        self
    }

    /// Whether the request's state changes.
    pub fn changes(&self, from: RequestState) -> bool {
        self.state != from
    }
}

/// Why an event cannot happen.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A rule refuses it; the error says why in words a person can act on.
    Rule(DomainError),
    /// The stage was already decided; the service names the approver.
    AlreadyDecided {
        approver: Uuid,
        decision: Decision,
        at: DateTime<Utc>,
    },
}

impl Refusal {
    /// The refusal as an error, with the deciding approver's name when there is one.
    pub fn explain(self, approver_name: &str) -> DomainError {
        match self {
            Self::Rule(e) => e,
            Self::AlreadyDecided { decision, at, .. } => DomainError::conflict(format!(
                "This stage was already {} by {approver_name} at {}; your decision was not recorded.",
                match decision {
                    Decision::Approve => "approved",
                    Decision::Deny => "denied",
                },
                at.format("%Y-%m-%d %H:%M:%S UTC")
            )),
        }
    }
}

impl From<DomainError> for Refusal {
    fn from(e: DomainError) -> Self {
        Self::Rule(e)
    }
}

fn conflict(message: impl Into<String>) -> Refusal {
    Refusal::Rule(DomainError::conflict(message))
}

/// The delivery states: the request has its assignment.
fn is_delivery(state: RequestState) -> bool {
    matches!(
        state,
        RequestState::Delivering
            | RequestState::Delivered
            | RequestState::PartiallyDelivered
            | RequestState::DeliveryFailed
    )
}

/// The next state of `request` after `event`.
pub fn step(
    request: &Request,
    stages: &[Stage],
    event: Event,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    match event {
        Event::Submitted {
            extension_requires_approval,
        } => submitted(request, extension_requires_approval, now),
        Event::StageOpened {
            index,
            rule,
            approvers,
            source,
            due_at,
        } => stage_opened(request, index, rule, approvers, source, due_at),
        Event::Decided {
            approver,
            decision,
            justification,
        } => decided(request, stages, approver, decision, justification, now),
        Event::StageTimedOut => {
            let stage = open_stage(request, stages)?;
            let mut t = Transition::to(RequestState::Expired)
                .note(Action::Expired, true, json!({"stage": stage.index}))
                .tell(Tell::Requestor(Told::Expired));
            t.stage = Some(StageChange {
                index: stage.index,
                state: Some(StageState::Expired),
                ..StageChange::default()
            });
            Ok(t)
        }
        Event::Escalated { added } => {
            let stage = open_stage(request, stages)?;
            let added = new_approvers(stage, added);
            // On an `all` stage the escalation approvers are alternates: one of them
            // may approve in place of the approvers who stayed silent.
            let added_alternates = if stage.rule == DecisionRule::All {
                added.clone()
            } else {
                Vec::new()
            };
            let mut t = Transition::to(request.state)
                .note(
                    Action::Escalated,
                    true,
                    json!({"stage": stage.index, "addedApproverIds": added, "alternateApproverIds": added_alternates}),
                )
                .tell(Tell::Approvers {
                    stage: stage.index,
                    who: added.clone(),
                    reason: Ask::Escalated,
                });
            t.stage = Some(StageChange {
                index: stage.index,
                added_approvers: added,
                added_alternates,
                escalated: true,
                ..StageChange::default()
            });
            Ok(t)
        }
        Event::ApproversLeft { left, added } => approvers_left(request, stages, left, added, now),
        Event::Canceled => {
            if !request.state.is_open() {
                return Err(conflict(format!(
                    "This request is already {}; only submitted, pending or scheduled requests can be canceled.",
                    request.state
                )));
            }
            let mut t = Transition::to(RequestState::Canceled)
                .note(Action::Canceled, false, json!({}))
                .tell(Tell::Requestor(Told::Canceled));
            t.stage = stages
                .iter()
                .find(|s| s.state == StageState::Pending)
                .map(|s| StageChange {
                    index: s.index,
                    state: Some(StageState::Canceled),
                    ..StageChange::default()
                });
            Ok(t)
        }
        Event::DeliveryRefused { reason } => {
            awaiting_delivery(request)?;
            Ok(Transition::to(RequestState::DeliveryFailed)
                .note(Action::DeliveryFailed, true, json!({"reason": reason}))
                .tell(Tell::Requestor(Told::DeliveryFailed)))
        }
        Event::Delivered {
            assignment,
            state,
            refusals,
        } => {
            awaiting_delivery(request)?;
            if !is_delivery(state) {
                return Err(conflict(format!(
                    "A new assignment cannot start as {state}."
                )));
            }
            let (action, told) = delivery_outcome(state);
            let mut t = Transition::to(state);
            t.completed = state != RequestState::Delivering;
            let mut details = json!({"assignmentId": assignment});
            if !refusals.is_empty() {
                details["reason"] = json!(refusals.join("; "));
            }
            t = t.note(action, false, details);
            match told {
                Some(told) => t = t.tell(Tell::Target(told)),
                // Just approved, and the access waits for connector calls: the
                // requestor hears of the approval now and of the access once it is there.
                None if matches!(
                    request.state,
                    RequestState::PendingApproval | RequestState::WaitingForCallback
                ) =>
                {
                    t = t.tell(Tell::Requestor(Told::Approved));
                }
                None => {}
            }
            Ok(t)
        }
        Event::GrantsSettled { state } => {
            if !is_delivery(request.state) || !is_delivery(state) || state == request.state {
                return Ok(Transition {
                    completed: false,
                    ..Transition::to(request.state)
                });
            }
            let mut t =
                Transition::to(state).note(Action::StateChanged, true, json!({"state": state}));
            t.completed = state != RequestState::Delivering;
            if let (_, Some(told)) = delivery_outcome(state) {
                t = t.tell(Tell::Target(told));
            }
            Ok(t)
        }
        Event::CallbackResumed {
            stage,
            outcome,
            message,
        } => {
            let details = json!({"stage": stage, "outcome": outcome, "message": message});
            callback(
                request,
                stage,
                outcome,
                Action::CallbackResumed,
                details,
                now,
            )
        }
        Event::CallbackTimedOut { stage, outcome } => {
            let details = json!({"stage": stage, "outcome": outcome, "onTimeout": outcome});
            callback(
                request,
                stage,
                outcome,
                Action::CallbackTimedOut,
                details,
                now,
            )
        }
        Event::Extended {
            assignment_live,
            end,
        } => {
            if !request.kind.is_update() {
                return Err(conflict("Only an extension request extends an assignment."));
            }
            awaiting_delivery(request)?;
            Ok(if assignment_live {
                let t = Transition::to(RequestState::Delivered).note(
                    Action::Delivered,
                    false,
                    json!({"end": end}),
                );
                // An extension that needed approval: its requestor learns the new end.
                if request.state == RequestState::PendingApproval {
                    t.tell(Tell::Requestor(Told::Approved))
                } else {
                    t
                }
            } else {
                Transition::to(RequestState::DeliveryFailed).note(
                    Action::DeliveryFailed,
                    true,
                    json!({"reason": "the assignment has ended"}),
                )
            })
        }
    }
}

fn submitted(
    request: &Request,
    extension_requires_approval: bool,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    if request.state != RequestState::Submitted {
        return Err(conflict(format!(
            "This request is already {}; it was submitted before.",
            request.state
        )));
    }
    if request.kind.is_remove() {
        return Err(conflict(
            "A removal ends the assignment directly; it does not go through approval.",
        ));
    }
    if !request.kind.is_add() {
        return Ok(proceed(request, extension_requires_approval, now));
    }
    let mut t = if request.holds.created {
        let t = Transition::to(RequestState::Submitted).hold(ExtensionStage::RequestCreated);
        if request.kind.is_self_service() {
            t.tell(Tell::Target(Told::Submitted))
        } else {
            t
        }
    } else {
        proceed(request, extension_requires_approval, now)
    };
    t.reached.insert(0, ExtensionStage::RequestCreated);
    Ok(t)
}

/// A submission goes on: its first approval stage opens, or it is approved at once.
fn proceed(request: &Request, extension_requires_approval: bool, now: DateTime<Utc>) -> Transition {
    let needs_approval = request.kind.is_self_service()
        && request.policy_stages > 0
        && (request.kind.is_add() || extension_requires_approval);
    if needs_approval {
        let mut t = Transition::to(request.state);
        t.then = Then::OpenStage(0);
        // A self-service request is made by its target (told once: not again after
        // an extension held it).
        if request.kind.is_add() && request.state == RequestState::Submitted {
            t = t.tell(Tell::Target(Told::Submitted));
        }
        return t;
    }
    approved(request, now, Vec::new())
}

/// Every stage approved (or none needed): wait for the extension of `requestApproved`,
/// extend, wait for the start, or deliver.
fn approved(request: &Request, now: DateTime<Utc>, notes: Vec<Note>) -> Transition {
    approved_as(request, now, notes, true)
}

/// [`approved`], with the `requestApproved` stage reached (and held) when `reach`.
fn approved_as(request: &Request, now: DateTime<Utc>, notes: Vec<Note>, reach: bool) -> Transition {
    let mut t = Transition::to(request.state);
    t.notes = notes;
    if reach && request.kind.is_add() {
        t.reached.push(ExtensionStage::RequestApproved);
        if request.holds.approved {
            return t.hold(ExtensionStage::RequestApproved);
        }
    }
    if request.kind.is_update() {
        t.then = Then::Extend;
    } else if request.start.is_some_and(|s| s > now) {
        t.state = RequestState::Scheduled;
        t = t.note(
            Action::Scheduled,
            false,
            json!({"startDateTime": request.start}),
        );
    } else {
        t.then = Then::Deliver;
    }
    t
}

/// Delivery follows approval (or submission without approval, or a scheduled start).
fn awaiting_delivery(request: &Request) -> Result<(), Refusal> {
    if matches!(
        request.state,
        RequestState::Submitted
            | RequestState::PendingApproval
            | RequestState::WaitingForCallback
            | RequestState::Scheduled
    ) {
        Ok(())
    } else {
        Err(conflict(format!(
            "This request is {}; it is not waiting for delivery.",
            request.state
        )))
    }
}

fn delivery_outcome(state: RequestState) -> (Action, Option<Told>) {
    match state {
        RequestState::Delivered => (Action::Delivered, Some(Told::Delivered)),
        RequestState::PartiallyDelivered => {
            (Action::PartiallyDelivered, Some(Told::DeliveryFailed))
        }
        RequestState::DeliveryFailed => (Action::DeliveryFailed, Some(Told::DeliveryFailed)),
        _ => (Action::Delivering, None),
    }
}

mod callbacks;
mod stages;

use callbacks::callback;
use stages::{approvers_left, decided, new_approvers, open_stage, stage_opened};

#[cfg(test)]
mod tests;
