//! Records kept in `assignments`: what `db::assignments` reads and writes and services hand out.

use crate::domain::assignment::{AssignmentState, GrantState, RemovalReason};
use crate::domain::ids::{
    AssignmentId, PackageId, PolicyId, RequestId, ResourceRoleId, TenantId, UserId,
};
use chrono::{DateTime, Utc};
use sqlx::FromRow;

#[derive(Clone, Debug, FromRow)]
pub struct AssignmentRow {
    pub tenant_id: TenantId,
    pub id: AssignmentId,
    pub package_id: PackageId,
    pub policy_id: PolicyId,
    pub target_user_id: UserId,
    pub state: AssignmentState,
    pub start_at: DateTime<Utc>,
    pub end_at: Option<DateTime<Utc>>,
    pub request_id: RequestId,
    pub removal_reason: Option<RemovalReason>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, FromRow)]
pub struct GrantRow {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub resource_role_id: ResourceRoleId,
    pub state: GrantState,
    pub error: Option<String>,
    pub updated_at: DateTime<Utc>,
}
