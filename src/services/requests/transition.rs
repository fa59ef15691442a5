//! Carries out what `domain::lifecycle` decides: the request's facts go in, the
//! machine's transition comes back, and this file writes it — the request's state and
//! times, the audit notes, the notices. Every change of a request's state goes through
//! [`step`] and [`set_state`]; the rules themselves live in the domain.

use chrono::{DateTime, Utc};

use super::{note, tell_requestor};
use crate::db::requests::{RequestRow, StageRow};
use crate::db::{self, Conn};
use crate::domain::ids::UserId;
use crate::domain::lifecycle::{
    self, Ask, Event, Holds, Refusal, StageChange, Tell, Told, Transition,
};
use crate::domain::request::RequestState;
use crate::services::audit::Trail;
use crate::services::notify::{self, AskReason, Notice};
use crate::services::views::names::{person, unknown_person};
use crate::services::{Actor, ServiceResult};

use super::StageView;

/// The machine's view of a request row.
pub(super) fn facts(row: &RequestRow, policy_stages: usize) -> lifecycle::Request {
    lifecycle::Request {
        kind: row.request_type,
        state: row.state,
        start: row.schedule_start,
        policy_stages,
        holds: Holds::default(),
    }
}

/// The machine's view of a stage and its decisions.
pub(super) fn stage_facts(view: &StageView) -> lifecycle::Stage {
    let mut stage = row_facts(&view.stage);
    stage.decisions = view
        .decisions
        .iter()
        .map(|d| lifecycle::Decided {
            approver: d.approver_id.0,
            decision: d.decision,
            at: d.decided_at,
        })
        .collect();
    stage
}

/// The machine's view of a stage whose decisions do not matter to the event.
pub(super) fn row_facts(row: &StageRow) -> lifecycle::Stage {
    lifecycle::Stage {
        index: usize::try_from(row.stage_index).unwrap_or(usize::MAX),
        state: row.state,
        rule: row.decision_rule,
        approvers: row.approver_ids.clone(),
        alternates: row.alternate_ids.clone(),
        decisions: Vec::new(),
        require_justification: row.require_justification,
    }
}

/// The machine's answer for `event`, or its refusal as an error a person can act on
/// (naming the approver who decided first, when that is the reason).
#[tracing::instrument(skip_all)]
pub(super) async fn step(
    conn: &mut Conn,
    row: &RequestRow,
    policy_stages: usize,
    stages: &[lifecycle::Stage],
    event: Event,
    now: DateTime<Utc>,
) -> ServiceResult<Transition> {
    step_with(
        conn,
        row,
        policy_stages,
        Holds::default(),
        stages,
        event,
        now,
    )
    .await
}

/// [`step`] for the events that may reach a hold (submission, the last approval, a
/// callback): `holds` says where the policy's extensions hold the request.
#[tracing::instrument(skip_all)]
pub(super) async fn step_with(
    conn: &mut Conn,
    row: &RequestRow,
    policy_stages: usize,
    holds: Holds,
    stages: &[lifecycle::Stage],
    event: Event,
    now: DateTime<Utc>,
) -> ServiceResult<Transition> {
    let facts = lifecycle::Request {
        holds,
        ..facts(row, policy_stages)
    };
    match lifecycle::step(&facts, stages, event, now) {
        Ok(t) => Ok(t),
        Err(refusal @ Refusal::AlreadyDecided { approver, .. }) => {
            let who = db::users::get(conn, row.tenant_id, crate::domain::ids::UserId(approver))
                .await?
                .map_or_else(|| unknown_person(approver), |u| person(&u));
            Err(refusal.explain(&who).into())
        }
        Err(refusal) => Err(refusal.explain("").into()),
    }
}

/// Applies the machine's change to a stage row: approvers who leave and join (and
/// which of them are alternates), the rule it is read with, its new state and
/// completion. The decision itself is written by the caller.
pub(super) fn apply_stage_change(row: &mut StageRow, change: &StageChange, now: DateTime<Utc>) {
    row.approver_ids
        .retain(|a| !change.removed_approvers.contains(a));
    row.alternate_ids
        .retain(|a| !change.removed_approvers.contains(a));
    row.approver_ids
        .extend(change.added_approvers.iter().copied());
    row.alternate_ids
        .extend(change.added_alternates.iter().copied());
    if let Some(rule) = change.rule {
        row.decision_rule = rule;
    }
    if let Some(state) = change.state {
        row.state = state;
        row.completed_at = Some(now);
    }
}

/// Sets the row's state and times as the transition says.
pub(super) fn set_state(row: &mut RequestRow, t: &Transition, now: DateTime<Utc>) {
    if t.changes(row.state) {
        row.state = t.state;
        row.updated_at = now;
        row.completed_at = t.completed.then_some(now);
    }
}

/// Adds the transition's audit notes to `trail` (Portico's own notes as the system,
/// the others as `actor`) and queues its notices. `stage` is the stage whose
/// approvers are asked, when the transition asks any.
#[tracing::instrument(skip_all)]
pub(super) async fn carry_out(
    conn: &mut Conn,
    trail: &mut Trail,
    row: &RequestRow,
    t: &Transition,
    actor: Actor,
    stage: Option<&StageRow>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    for tell in &t.tell {
        match tell {
            Tell::Requestor(told) => {
                tell_requestor(conn, trail, row, notice(*told, row, actor), now).await?;
            }
            Tell::Target(told) => {
                notify::queue(
                    trail,
                    row.tenant_id,
                    row.target_user_id,
                    &notice(*told, row, actor),
                    now,
                );
            }
            Tell::Decided { stage, who, by } => {
                let decided = Notice::StageDecided {
                    request_id: row.id,
                    stage_index: i32::try_from(*stage).unwrap_or(0),
                    by: UserId(*by),
                };
                for approver in who {
                    notify::queue(trail, row.tenant_id, UserId(*approver), &decided, now);
                }
            }
            Tell::Approvers { who, reason, .. } => {
                let stage = stage.ok_or_else(|| {
                    anyhow::anyhow!("request {}: approvers asked without their stage", row.id)
                })?;
                let reason = match reason {
                    Ask::Opened => AskReason::Opened,
                    Ask::Escalated => AskReason::Escalated,
                };
                super::ask_approvers(conn, trail, stage, who, reason, now).await?;
            }
        }
    }
    for n in &t.notes {
        let by = if n.by_system { Actor::System } else { actor };
        note(trail, by, n.action, row, n.details.clone(), now);
    }
    // Chat messages about the request show where it stands now: its stages, or its
    // end before a decision (delivery does not change what they show).
    let ended_undecided = matches!(
        t.state,
        RequestState::Canceled | RequestState::Denied | RequestState::Expired
    );
    if t.stage.is_some() || ended_undecided {
        crate::services::chat::queue::request_changed(conn, row.tenant_id, row.id, now).await?;
    }
    crate::services::extensions::calls::request_reached(conn, trail, row, t, now).await?;
    Ok(())
}

fn notice(told: Told, row: &RequestRow, actor: Actor) -> Notice {
    let request_id = row.id;
    match told {
        Told::Submitted => Notice::RequestSubmitted { request_id },
        Told::Approved => Notice::RequestApproved { request_id },
        Told::Canceled => Notice::RequestCanceled {
            request_id,
            by: match actor {
                Actor::User { id, .. } => Some(id),
                Actor::System | Actor::Directory { .. } => None,
            },
        },
        Told::Denied => Notice::RequestDenied { request_id },
        Told::Expired => Notice::RequestExpired { request_id },
        Told::Delivered => Notice::AccessDelivered { request_id },
        Told::DeliveryFailed => Notice::DeliveryFailed { request_id },
    }
}
