//! Assignment requests (DOMAIN.md §6), one file per job: `submit` (every request
//! type), `engine` (stages in series, approvers resolved when a stage opens, exactly
//! one outcome under concurrent decisions, escalation's approvers and the replacement
//! of deactivated approvers), `deliver` (assignments and their grants, extensions,
//! scheduled starts), `cancel` and `query`. This file keeps what they share: the
//! request's input and views and the audit and notice helpers.

mod callback;
mod cancel;
mod deliver;
mod engine;
mod query;
mod submit;
mod transition;

pub use callback::{TIMEOUT_BATCH, resume, time_out_callbacks};
pub(crate) use cancel::may_cancel;
pub use cancel::{cancel, cancel_extensions_of_ended, cancel_my_request, cancel_row};
pub use deliver::{deliver_add, deliver_due_scheduled, grants_settled};
pub(crate) use engine::resolve;
pub use engine::{
    approver_left, ask_approvers, decide, decide_approval, decide_locked, escalate_stage,
    time_out_stage,
};
pub use query::{ApprovalView, ListQuery, approvals, as_approver, get, list, own};
pub(crate) use submit::in_scope;
pub(crate) use submit::submit_in;
pub use submit::{RequestForm, request_package, submit};

use chrono::{DateTime, Utc};

use super::audit::{Entry, Trail};
use super::notify::{self, Notice};
use super::{Actor, ServiceError, ServiceResult};
use crate::db::requests::{DecisionRow, RequestRow, StageRow};
use crate::db::{self, Conn};
use crate::domain::DomainError;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::ids::{AssignmentId, PackageId, PolicyId, RequestId, TenantId, UserId};
use crate::domain::request::{AnswerInput, RequestType};

/// A request as submitted, before any check.
#[derive(Clone, Debug)]
pub struct RequestInput {
    pub request_type: RequestType,
    pub access_package_id: Option<PackageId>,
    pub policy_id: Option<PolicyId>,
    pub target_user_id: Option<UserId>,
    pub assignment_id: Option<AssignmentId>,
    pub justification: Option<String>,
    pub answers: Vec<AnswerInput>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// A stage with its decisions.
#[derive(Clone, Debug)]
pub struct StageView {
    pub stage: StageRow,
    pub decisions: Vec<DecisionRow>,
}

/// A request with its stages.
#[derive(Clone, Debug)]
pub struct RequestView {
    pub request: RequestRow,
    pub stages: Vec<StageView>,
}

pub(super) fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("assignment request"))
}

#[tracing::instrument(skip_all)]
pub async fn views(
    conn: &mut Conn,
    tenant: TenantId,
    rows: Vec<RequestRow>,
) -> ServiceResult<Vec<RequestView>> {
    let ids: Vec<RequestId> = rows.iter().map(|r| r.id).collect();
    let (stages, decisions) = db::requests::stages_and_decisions(conn, tenant, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|request| {
            let stages = stages
                .iter()
                .filter(|s| s.request_id == request.id)
                .map(|s| StageView {
                    stage: s.clone(),
                    decisions: decisions
                        .iter()
                        .filter(|d| d.request_id == s.request_id && d.stage_index == s.stage_index)
                        .cloned()
                        .collect(),
                })
                .collect();
            RequestView { request, stages }
        })
        .collect())
}

/// Adds an event about `request` to the transaction's trail.
pub(crate) fn note(
    trail: &mut Trail,
    actor: Actor,
    action: impl Into<AuditAction>,
    request: &RequestRow,
    details: serde_json::Value,
    now: DateTime<Utc>,
) {
    trail.add(
        request.tenant_id,
        actor,
        Entry::new(
            action.into(),
            Target::AssignmentRequest(request.id),
            details,
        ),
        now,
    );
}

/// The access that separation of duties forbids next to the package, in words.
pub(super) fn incompatible_access(facts: &db::requests::AddFacts) -> Option<String> {
    facts
        .incompatible_package
        .as_ref()
        .map(|p| format!("the access package “{p}”"))
        .or_else(|| {
            facts
                .incompatible_group
                .as_ref()
                .map(|g| format!("membership of the group “{g}”"))
        })
}

/// Tells the requestor (when there is one and they are still active).
#[tracing::instrument(skip_all)]
pub(crate) async fn tell_requestor(
    conn: &mut Conn,
    trail: &mut Trail,
    request: &RequestRow,
    notice: Notice,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if let Some(requestor) = request.requestor_id
        && db::users::get(conn, request.tenant_id, requestor)
            .await?
            .is_some_and(|u| u.active)
    {
        notify::queue(trail, request.tenant_id, requestor, &notice, now);
    }
    Ok(())
}
