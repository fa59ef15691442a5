//! Records kept in `reviews`: what `db::reviews` reads and writes and services hand out.

use crate::domain::ids::{
    AccessReviewId, AssignmentId, PackageId, PolicyId, ReviewItemId, TenantId, UserId,
};
use crate::domain::request::Decision;
use crate::domain::review::{AppliedResult, IfNoResponseValue, ItemDecision, ReviewState};
use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

#[derive(Clone, Debug, FromRow)]
pub struct ReviewRow {
    pub tenant_id: TenantId,
    pub id: AccessReviewId,
    pub package_id: PackageId,
    pub policy_id: PolicyId,
    pub period_index: i32,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub remind_at: DateTime<Utc>,
    pub state: ReviewState,
    pub auto_apply: bool,
    pub if_no_response: IfNoResponseValue,
    pub require_justification: bool,
    pub stopped_early: bool,
    pub reminded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub applied_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, FromRow)]
pub struct ItemRow {
    pub tenant_id: TenantId,
    pub id: ReviewItemId,
    pub review_id: AccessReviewId,
    pub assignment_id: AssignmentId,
    pub target_user_id: UserId,
    pub reviewer_ids: Vec<Uuid>,
    pub recommendation: Option<Decision>,
    pub decision: ItemDecision,
    pub justification: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    pub applied_result: Option<AppliedResult>,
}

/// How far an instance has come: its items and how many of them are decided.
#[derive(Clone, Copy, Debug, Default, FromRow)]
pub struct ProgressRow {
    pub review_id: AccessReviewId,
    pub items: i64,
    pub decided: i64,
}

/// One reviewer's share of an instance: the items they review, how many of them they
/// decided, and how many of them nobody has decided yet.
#[derive(Clone, Copy, Debug, FromRow)]
pub struct ReviewerProgressRow {
    pub reviewer_id: Uuid,
    pub items: i64,
    pub decided: i64,
    pub undecided: i64,
}
