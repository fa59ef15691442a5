//! Delivery of an assignment's resource roles (DOMAIN.md §7). Group roles are applied
//! in the calling transaction as membership rows whose source is the assignment, so
//! ending the assignment removes exactly what it delivered. Connector roles become
//! ordered outbox rows (one sequence per assignment and role) delivered by the
//! scheduler (webhook and SCIM calls alike). A role without a connector is recorded as delivered at once. A group
//! that holds a role or approves for another catalog is never delivered through a
//! resource that no tenant admin added (`authz::may_deliver_into_group`): the grant
//! fails with that reason instead, every time it is tried.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{self, Entry};
use super::{Actor, ServiceResult};
use crate::db::assignments::{AssignmentRow, GrantRow};
use crate::db::catalogs::{Resource, ResourceRole};
use crate::db::delivery::GrantRows;
use crate::db::groups::Relation;
use crate::db::outbox::NewOutbox;
use crate::db::{self, Conn};
use crate::domain::assignment::{AssignmentState, Delivery, GrantCall, GrantState};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{GroupPrivilege, may_deliver_into_group};
use crate::domain::ids::{AssignmentId, GroupId, OutboxId, PackageId, ResourceRoleId, TenantId};

/// A resource role with its resource.
#[derive(Clone, Debug)]
pub struct RoleTarget {
    pub role: ResourceRole,
    pub resource: Resource,
}

#[tracing::instrument(skip_all)]
pub async fn targets(
    conn: &mut Conn,
    tenant: TenantId,
    roles: &[ResourceRoleId],
) -> ServiceResult<Vec<RoleTarget>> {
    let roles = db::catalogs::get_roles(conn, tenant, roles).await?;
    let resource_ids: Vec<_> = roles.iter().map(|r| r.resource_id).collect();
    let resources = db::catalogs::get_resources(conn, tenant, &resource_ids).await?;
    Ok(roles
        .into_iter()
        .filter_map(|role| {
            let resource = resources.iter().find(|r| r.id == role.resource_id)?.clone();
            Some(RoleTarget { role, resource })
        })
        .collect())
}

#[tracing::instrument(skip_all)]
pub async fn package_targets(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
) -> ServiceResult<Vec<RoleTarget>> {
    Ok(db::catalogs::targets_of_package(conn, tenant, package)
        .await?
        .into_iter()
        .map(|(role, resource)| RoleTarget { role, resource })
        .collect())
}

/// The roles read with a package (`db::requests::ToAdd`) as delivery's targets.
pub fn of_package(read: &[db::requests::PackageTarget]) -> Vec<RoleTarget> {
    read.iter()
        .map(|t| RoleTarget {
            role: t.role.clone(),
            resource: t.resource.clone(),
        })
        .collect()
}

/// Whether a role is delivered later by a connector call (not in the transaction).
pub fn is_deferred(target: &RoleTarget) -> bool {
    target.resource.group_id.is_none() && target.resource.connector.is_some()
}

fn relation(role: &ResourceRole) -> Relation {
    match role.group_relation.as_deref() {
        Some("owner") => Relation::Owner,
        _ => Relation::Member,
    }
}

fn sequence_key(assignment: AssignmentId, role: ResourceRoleId) -> String {
    format!("{assignment}:{role}")
}

async fn set_grant(
    conn: &mut Conn,
    a: &AssignmentRow,
    role: ResourceRoleId,
    state: GrantState,
    error: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    db::assignments::upsert_grant(
        conn,
        &GrantRow {
            tenant_id: a.tenant_id,
            assignment_id: a.id,
            resource_role_id: role,
            state,
            error,
            updated_at: now,
        },
    )
    .await?;
    Ok(())
}

async fn enqueue_call(
    conn: &mut Conn,
    a: &AssignmentRow,
    target: &RoleTarget,
    kind: GrantCall,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let Some(connector) = &target.resource.connector else {
        return Ok(());
    };
    let id = OutboxId::new();
    let key = sequence_key(a.id, target.role.id);
    let payload = json!({
        "type": kind,
        "assignmentId": a.id,
        "resourceRoleId": target.role.id,
        "resourceId": target.resource.id,
        "resourceName": target.resource.display_name,
        "userId": a.target_user_id,
        "occurredAt": now,
    });
    db::outbox::enqueue(
        conn,
        NewOutbox {
            id,
            tenant: a.tenant_id,
            kind: connector.outbox_kind(),
            payload: &payload,
            sequence_key: Some(&key),
        },
        now,
    )
    .await?;
    Ok(())
}

/// Roles that delivery refuses, each with the reason recorded on its grant.
#[derive(Clone, Debug, Default)]
pub struct Refusals(Vec<(ResourceRoleId, String)>);

impl Refusals {
    pub fn reason(&self, role: ResourceRoleId) -> Option<&str> {
        self.0
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, reason)| reason.as_str())
    }

    pub fn reasons(&self) -> Vec<&str> {
        self.0.iter().map(|(_, reason)| reason.as_str()).collect()
    }
}

/// The roles of `targets` that may not be delivered now: group roles whose group
/// carries power and whose resource no tenant admin added. Resources a tenant admin
/// added need no look-up, so ordinary deliveries cost nothing more.
#[tracing::instrument(skip_all)]
pub async fn refusals(
    conn: &mut Conn,
    tenant: TenantId,
    targets: &[RoleTarget],
) -> ServiceResult<Refusals> {
    let unvouched: Vec<(&RoleTarget, GroupId)> = targets
        .iter()
        .filter(|t| !t.resource.added_by_tenant_admin)
        .filter_map(|t| t.resource.group_id.map(|g| (t, g)))
        .collect();
    if unvouched.is_empty() {
        return Ok(Refusals::default());
    }
    let mut groups: Vec<GroupId> = unvouched.iter().map(|(_, g)| *g).collect();
    groups.sort();
    groups.dedup();
    let facts = db::groups::privilege_facts(conn, tenant, &groups).await?;
    let policies = facts.policies();
    let mut refused = Vec::new();
    for (t, group) in unvouched {
        let privilege = GroupPrivilege::assess(
            group,
            t.resource.catalog_id,
            &facts.holding_roles,
            &policies,
        );
        if let Err(reason) = may_deliver_into_group(
            &t.resource.display_name,
            t.resource.added_by_tenant_admin,
            privilege,
        ) {
            refused.push((t.role.id, reason));
        }
    }
    Ok(Refusals(refused))
}

/// The state a new assignment of `targets` starts in: refused roles have failed,
/// connector roles wait for their call, the others are applied at once.
pub fn first_state(targets: &[RoleTarget], refused: &Refusals) -> Delivery {
    let allowed = |t: &&RoleTarget| refused.reason(t.role.id).is_none();
    let applied = targets.iter().filter(allowed).count();
    let pending = targets.iter().filter(allowed).any(is_deferred);
    Delivery::of(pending, applied, targets.len() - applied)
}

/// Applies every role of `targets` for the assignment that delivery allows now.
#[tracing::instrument(skip_all)]
pub async fn grant(
    conn: &mut Conn,
    a: &AssignmentRow,
    targets: &[RoleTarget],
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let refused = refusals(conn, a.tenant_id, targets).await?;
    grant_except(conn, a, targets, &refused, now).await
}

/// Applies every role of `targets` but the `refused` ones, whose grants fail with
/// their reason (audited on the assignment).
#[tracing::instrument(skip_all)]
pub async fn grant_except(
    conn: &mut Conn,
    a: &AssignmentRow,
    targets: &[RoleTarget],
    refused: &Refusals,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let rows = grant_rows(a, targets, refused, now);
    db::delivery::write_grants(conn, a, &rows).await?;
    grant_followups(conn, a, targets, refused, now).await
}

/// The rows [`grant_except`] writes: the assignment's group memberships and ownerships
/// and one grant per role, for the caller to write in one statement (with the
/// assignment itself, when it is new).
pub fn grant_rows(
    a: &AssignmentRow,
    targets: &[RoleTarget],
    refused: &Refusals,
    now: DateTime<Utc>,
) -> GrantRows {
    let mut rows = GrantRows::default();
    for t in targets {
        let (state, error) = if let Some(reason) = refused.reason(t.role.id) {
            (GrantState::Failed, Some(reason.to_string()))
        } else if let Some(group) = t.resource.group_id {
            match relation(&t.role) {
                Relation::Owner => rows.owners.push(group),
                Relation::Member => rows.members.push(group),
            }
            (GrantState::Delivered, None)
        } else if t.resource.connector.is_some() {
            (GrantState::Pending, None)
        } else {
            (GrantState::Delivered, None)
        };
        rows.grants.push(GrantRow {
            tenant_id: a.tenant_id,
            assignment_id: a.id,
            resource_role_id: t.role.id,
            state,
            error,
            updated_at: now,
        });
    }
    rows
}

/// What [`grant_except`] does once its rows are written: each refusal audited on the
/// assignment, each connector role's call queued.
#[tracing::instrument(skip_all)]
pub async fn grant_followups(
    conn: &mut Conn,
    a: &AssignmentRow,
    targets: &[RoleTarget],
    refused: &Refusals,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    for t in targets {
        if let Some(reason) = refused.reason(t.role.id) {
            audit::record(
                conn,
                a.tenant_id,
                Actor::System,
                Entry {
                    action: AuditAction::AssignmentGrantRefused,
                    target: Target::Assignment(a.id),
                    details: json!({"resourceRoleId": t.role.id, "resourceId": t.resource.id,
                                    "groupId": t.resource.group_id, "reason": reason}),
                },
                now,
            )
            .await?;
        } else if t.resource.group_id.is_none() && t.resource.connector.is_some() {
            enqueue_call(conn, a, t, GrantCall::Grant, now).await?;
        }
    }
    Ok(())
}

/// Takes back the roles of `targets` from the assignment. Group rows of this
/// assignment go; access from another source stays. A connector call is made only
/// when the role was (or may have been) delivered and no other active assignment of
/// the user still holds it; an unsent grant is superseded instead.
#[tracing::instrument(skip_all)]
pub async fn revoke(
    conn: &mut Conn,
    a: &AssignmentRow,
    targets: &[RoleTarget],
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let grants = db::assignments::grants_of(conn, a.tenant_id, &[a.id]).await?;
    for t in targets {
        let current = grants.iter().find(|g| g.resource_role_id == t.role.id);
        if let Some(group) = t.resource.group_id {
            db::groups::remove(
                conn,
                relation(&t.role),
                a.tenant_id,
                group,
                a.target_user_id,
                Some(a.id.0),
            )
            .await?;
            set_grant(conn, a, t.role.id, GrantState::Revoked, None, now).await?;
            continue;
        }
        if t.resource.connector.is_none() {
            set_grant(conn, a, t.role.id, GrantState::Revoked, None, now).await?;
            continue;
        }
        let key = sequence_key(a.id, t.role.id);
        let superseded = db::outbox::supersede_pending(conn, a.tenant_id, &key, now).await? > 0;
        let never_applied = superseded
            || matches!(
                current.map(|g| g.state),
                Some(GrantState::Failed | GrantState::Revoked) | None
            );
        let held_elsewhere = db::assignments::role_held_elsewhere(
            conn,
            a.tenant_id,
            a.target_user_id,
            t.role.id,
            a.id,
        )
        .await?;
        if never_applied || held_elsewhere {
            set_grant(conn, a, t.role.id, GrantState::Revoked, None, now).await?;
        } else {
            set_grant(conn, a, t.role.id, GrantState::Revoking, None, now).await?;
            enqueue_call(conn, a, t, GrantCall::Revoke, now).await?;
        }
    }
    Ok(())
}

/// Revokes every role of the assignment (its end).
#[tracing::instrument(skip_all)]
pub async fn revoke_all(
    conn: &mut Conn,
    a: &AssignmentRow,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let roles: Vec<ResourceRoleId> = db::assignments::grants_of(conn, a.tenant_id, &[a.id])
        .await?
        .into_iter()
        .filter(|g| g.state != GrantState::Revoked)
        .map(|g| g.resource_role_id)
        .collect();
    let targets = targets(conn, a.tenant_id, &roles).await?;
    revoke(conn, a, &targets, now).await?;
    // Group rows of the assignment, whatever role put them there.
    db::groups::remove_source_everywhere(conn, a.tenant_id, a.id.0).await?;
    Ok(())
}

/// The assignment's state from its grants: every grant applied → delivered; some
/// still on their way → delivering; the rest failed → partially delivered, or
/// delivery failed when none applied. The request that created it follows.
#[tracing::instrument(skip_all)]
pub async fn refresh_state(
    conn: &mut Conn,
    tenant: TenantId,
    assignment: AssignmentId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let Some(mut a) = db::assignments::get(conn, tenant, assignment).await? else {
        return Ok(());
    };
    if !a.state.is_active() {
        return Ok(());
    }
    let grants = db::assignments::grants_of(conn, tenant, &[assignment]).await?;
    let live: Vec<&GrantRow> = grants.iter().filter(|g| g.state.is_live()).collect();
    let count = |state: GrantState| live.iter().filter(|g| g.state == state).count();
    let pending = count(GrantState::Pending) > 0;
    let state = Delivery::of(
        pending,
        count(GrantState::Delivered),
        count(GrantState::Failed),
    );
    if a.state != AssignmentState::from(state) {
        a.state = state.into();
        a.updated_at = now;
        db::assignments::update(conn, &a).await?;
        audit::record(
            conn,
            tenant,
            Actor::System,
            Entry {
                action: AuditAction::AssignmentStateChanged,
                target: Target::Assignment(a.id),
                details: json!({"state": state}),
            },
            now,
        )
        .await?;
    }
    if let Some(r) = db::requests::get(conn, tenant, a.request_id).await? {
        super::requests::grants_settled(conn, r, state.into(), now).await?;
    }
    Ok(())
}

/// A package's roles changed: every current holder gains the added roles and loses
/// the removed ones (system changes, audited on each assignment).
#[tracing::instrument(skip_all)]
pub async fn package_roles_changed(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    added: &[ResourceRoleId],
    removed: &[ResourceRoleId],
    _actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if added.is_empty() && removed.is_empty() {
        return Ok(());
    }
    let holders = db::assignments::active_of_package(conn, tenant, package).await?;
    if holders.is_empty() {
        return Ok(());
    }
    let added_targets = targets(conn, tenant, added).await?;
    let removed_targets = targets(conn, tenant, removed).await?;
    // What delivery refuses depends on the roles, not on who holds them.
    let refused = refusals(conn, tenant, &added_targets).await?;
    for a in &holders {
        grant_except(conn, a, &added_targets, &refused, now).await?;
        revoke(conn, a, &removed_targets, now).await?;
        audit::record(
            conn,
            tenant,
            Actor::System,
            Entry {
                action: AuditAction::AssignmentRolesChanged,
                target: Target::Assignment(a.id),
                details: json!({"addedRoleIds": added, "removedRoleIds": removed}),
            },
            now,
        )
        .await?;
        refresh_state(conn, tenant, a.id, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{CatalogId, ResourceId};

    fn target(group: bool, connector: bool) -> RoleTarget {
        let (tenant, resource) = (TenantId::new(), ResourceId::new());
        let now = DateTime::<Utc>::UNIX_EPOCH;
        RoleTarget {
            role: ResourceRole {
                tenant_id: tenant,
                id: ResourceRoleId::new(),
                resource_id: resource,
                display_name: "Member".into(),
                group_relation: group.then(|| "member".into()),
                connector_value: (!group).then(|| "Member".into()),
                created_at: now,
            },
            resource: Resource {
                tenant_id: tenant,
                id: resource,
                catalog_id: CatalogId::new(),
                kind: if group { "group" } else { "application" }.into(),
                group_id: group.then(GroupId::new),
                display_name: "Team".into(),
                description: String::new(),
                connector: connector.then(|| crate::domain::connector::Connector::Webhook {
                    url: "https://hooks.example.com".into(),
                }),
                connector_secret: connector.then(|| "0123456789abcdef".into()),
                added_by_tenant_admin: false,
                created_at: now,
                updated_at: now,
            },
        }
    }

    fn refusing(targets: &[&RoleTarget]) -> Refusals {
        Refusals(
            targets
                .iter()
                .map(|t| (t.role.id, "refused".to_string()))
                .collect(),
        )
    }

    #[test]
    fn refused_roles_fail_from_the_start() {
        let (group, other, hook) = (
            target(true, false),
            target(true, false),
            target(false, true),
        );
        let all = [group.clone(), other.clone(), hook.clone()];
        assert_eq!(
            first_state(&all[..2], &Refusals::default()),
            Delivery::Delivered
        );
        assert_eq!(
            first_state(&all[..2], &refusing(&[&group])),
            Delivery::PartiallyDelivered
        );
        assert_eq!(
            first_state(&all[..2], &refusing(&[&group, &other])),
            Delivery::DeliveryFailed
        );
        assert_eq!(
            first_state(&all, &refusing(&[&group, &other])),
            Delivery::Delivering,
            "the connector call is still to come"
        );
        assert_eq!(refusing(&[&group]).reason(other.role.id), None);
    }
}
