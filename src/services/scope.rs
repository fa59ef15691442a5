//! Requestor scope after a directory change: a policy with `removeWhenOutOfScope`
//! ends the access of holders who requested it and whom its scope no longer admits,
//! whether the policy changed (`services::assignments::remove_out_of_scope`, reason
//! `policyChanged`) or the person did: they left a group the policy names (an admin's
//! removal, the directory's PATCH, PUT or DELETE of the group) or became a guest
//! (reason `outOfScope`). Called inside the transaction that made the change, so the
//! change and its consequences commit together. Access an admin assigned directly is
//! kept, as for a policy change.

use chrono::{DateTime, Utc};

use super::requests::in_scope;
use super::{Actor, ServiceResult, assignments};
use crate::db::assignments::{AssignmentRow, ScopeChange};
use crate::db::{self, Conn};
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::ids::{AssignmentId, TenantId};
use crate::domain::policy::PolicySettings;
use crate::domain::request::RequestType;

/// Ends the assignments `change` put outside their policy's scope; returns them.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn remove_left_out(
    conn: &mut Conn,
    tenant: TenantId,
    change: ScopeChange<'_>,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<AssignmentId>> {
    let candidates = db::assignments::lock_scope_candidates(conn, tenant, change).await?;
    let mut removed = Vec::new();
    for mut a in candidates {
        let Some(policy) = db::packages::get_policy(conn, tenant, a.policy_id).await? else {
            continue;
        };
        let Some(package) = db::packages::get(conn, tenant, a.package_id).await? else {
            continue;
        };
        let Some(catalog) = db::catalogs::get(conn, tenant, package.catalog_id).await? else {
            continue;
        };
        let scope = Scope {
            settings: &policy.settings.0,
            externally_visible: catalog.externally_visible,
        };
        if end_if_outside(conn, &mut a, scope, RemovalReason::OutOfScope, now).await? {
            removed.push(a.id);
        }
    }
    Ok(removed)
}

/// The requestor scope an assignment is checked against.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub settings: &'a PolicySettings,
    pub externally_visible: bool,
}

/// Ends `a` (a system removal for `reason`) when its holder, as they are now, falls
/// outside `scope`; whether it ended.
#[tracing::instrument(skip_all, fields(assignment = %a.id))]
pub(crate) async fn end_if_outside(
    conn: &mut Conn,
    a: &mut AssignmentRow,
    scope: Scope<'_>,
    reason: RemovalReason,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    let Some(user) = db::users::get(conn, a.tenant_id, a.target_user_id).await? else {
        return Ok(false);
    };
    let groups =
        db::groups::groups_of_user(conn, db::groups::Relation::Member, a.tenant_id, user.id)
            .await?;
    if in_scope(scope.settings, &user, &groups, scope.externally_visible) {
        return Ok(false);
    }
    assignments::end(
        conn,
        a,
        RequestType::SystemRemove,
        None,
        AssignmentState::Removed,
        Some(reason),
        Actor::System,
        now,
    )
    .await?;
    Ok(true)
}
