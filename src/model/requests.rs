//! Records kept in `requests`: what `db::requests` reads and writes and services hand out.

use crate::domain::ids::{AssignmentId, PackageId, PolicyId, RequestId, TenantId, UserId};
use crate::domain::policy::DecisionRule;
use crate::domain::request::{Answer, Decision, RequestState, RequestType, StageState};
use chrono::{DateTime, Utc};
use sqlx::FromRow;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct RequestRow {
    pub tenant_id: TenantId,
    pub id: RequestId,
    pub request_type: RequestType,
    pub state: RequestState,
    pub package_id: PackageId,
    pub policy_id: PolicyId,
    pub requestor_id: Option<UserId>,
    pub target_user_id: UserId,
    pub assignment_id: Option<AssignmentId>,
    pub justification: Option<String>,
    pub answers: Json<Vec<Answer>>,
    pub schedule_start: Option<DateTime<Utc>>,
    pub schedule_end: Option<DateTime<Utc>>,
    /// The end is the policy's duration, counted again from the start of the
    /// assignment at delivery (not a date the requestor chose).
    pub end_follows_start: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, FromRow, serde::Deserialize)]
pub struct StageRow {
    pub tenant_id: TenantId,
    pub request_id: RequestId,
    pub stage_index: i32,
    pub state: StageState,
    pub decision_rule: DecisionRule,
    pub approver_ids: Vec<Uuid>,
    /// Of `approver_ids`, the alternates an escalation added to an `all` stage.
    pub alternate_ids: Vec<Uuid>,
    pub require_justification: bool,
    pub opened_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub escalate_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, FromRow, serde::Deserialize)]
pub struct DecisionRow {
    pub tenant_id: TenantId,
    pub request_id: RequestId,
    pub stage_index: i32,
    pub approver_id: UserId,
    pub decision: Decision,
    pub justification: Option<String>,
    pub decided_at: DateTime<Utc>,
}
