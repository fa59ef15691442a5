//! Assignment requests (DOMAIN.md §6): submission of every request type, the approval
//! engine (stages in series, approvers resolved when a stage opens, exactly one
//! outcome under concurrent decisions), cancellation and delivery.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::assignments;
use super::audit::{self, Entry, Trail};
use super::links;
use super::notify::{self, AskReason, Notice};
use super::{Actor, Caller, ServiceError, ServiceResult, grants, validated};
use crate::db::assignments::AssignmentRow;
use crate::db::groups::Relation;
use crate::db::links::ApprovalLink;
use crate::db::packages::{AccessPackage, Policy};
use crate::db::requests::{DecisionRow, RequestFilter, RequestRow, StageRow};
use crate::db::users::User;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::authz::{Action, Role};
use crate::domain::ids::{
    AssignmentId, CatalogId, PackageId, PolicyId, RequestId, TenantId, UserId,
};
use crate::domain::policy::{ApproverKind, ApproverRef, DecisionRule, PolicySettings};
use crate::domain::request::{
    AnswerInput, Decision, Eligibility, RequestState, RequestType, StageOutcome, StageState,
    check_answers, check_eligibility, extended_end, parse_justification, resolve_schedule,
    select_approvers, stage_outcome,
};
use crate::domain::{DomainError, FieldErrors};

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

fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("assignment request"))
}

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

async fn view(conn: &mut Conn, tenant: TenantId, id: RequestId) -> ServiceResult<RequestView> {
    let row = db::requests::get(conn, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    views(conn, tenant, vec![row])
        .await?
        .pop()
        .ok_or_else(not_found)
}

pub(crate) async fn record(
    conn: &mut Conn,
    actor: Actor,
    action: &str,
    request: &RequestRow,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut trail = Trail::default();
    note(&mut trail, actor, action, request, details, now);
    trail.write(conn).await
}

/// Adds an event about `request` to the transaction's trail.
pub(crate) fn note(
    trail: &mut Trail,
    actor: Actor,
    action: &str,
    request: &RequestRow,
    details: serde_json::Value,
    now: DateTime<Utc>,
) {
    trail.add(
        request.tenant_id,
        actor,
        Entry {
            action,
            target_type: "assignmentRequest",
            target_id: Some(request.id.0),
            details,
        },
        now,
    );
}

/// Whether `user` falls in the policy's requestor scope (the rule is in `domain`).
pub(crate) fn in_scope(
    settings: &PolicySettings,
    user: &User,
    user_groups: &[crate::domain::ids::GroupId],
    externally_visible: bool,
) -> bool {
    let groups: Vec<Uuid> = user_groups.iter().map(|g| g.0).collect();
    settings.admits(user.id.0, user.is_guest(), &groups, externally_visible)
}

/// The access that separation of duties forbids next to the package, in words.
fn incompatible_access(facts: &db::requests::AddFacts) -> Option<String> {
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

/// Active users named by approver references, resolved for `target`.
pub(crate) async fn resolve(
    conn: &mut Conn,
    tenant: TenantId,
    refs: &[ApproverRef],
    target: &User,
    package: PackageId,
) -> ServiceResult<Vec<Uuid>> {
    let mut ids: Vec<UserId> = Vec::new();
    for r in refs {
        match r.kind {
            ApproverKind::Manager => ids.extend(target.manager_id),
            ApproverKind::SecondLevelManager => {
                if let Some(m) = target.manager_id
                    && let Some(manager) = db::users::get(conn, tenant, m).await?
                {
                    ids.extend(manager.manager_id);
                }
            }
            ApproverKind::User => ids.extend(r.id.map(UserId)),
            ApproverKind::Group => {
                if let Some(g) = r.id {
                    ids.extend(
                        db::groups::users_of(
                            conn,
                            Relation::Member,
                            tenant,
                            &[crate::domain::ids::GroupId(g)],
                        )
                        .await?,
                    );
                }
            }
            ApproverKind::ResourceOwners => {
                let groups = db::packages::groups_of_package(conn, tenant, package).await?;
                ids.extend(db::groups::users_of(conn, Relation::Owner, tenant, &groups).await?);
            }
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let active = db::users::get_many(conn, tenant, &ids).await?;
    // Keep the order of the policy, drop inactive and unknown users.
    Ok(ids
        .into_iter()
        .filter(|id| active.iter().any(|u| u.id == *id && u.active))
        .map(|id| id.0)
        .collect())
}

/// Opens stage `index`: resolves its approvers (fallbacks, then tenant admins; never
/// the target user) and sets its due and escalation times.
async fn open_stage(
    conn: &mut Conn,
    trail: &mut Trail,
    request: &mut RequestRow,
    settings: &PolicySettings,
    index: usize,
    target: &User,
    now: DateTime<Utc>,
) -> ServiceResult<StageRow> {
    let tenant = request.tenant_id;
    let spec = settings
        .approval
        .stages
        .get(index)
        .ok_or_else(|| anyhow::anyhow!("stage {index} is not in the policy"))?;
    // Fallback approvers and tenant admins are looked up only when the lists before
    // them leave nobody.
    let primary = resolve(conn, tenant, &spec.approvers, target, request.package_id).await?;
    let (mut fallback, mut admins) = (Vec::new(), Vec::new());
    let (mut approvers, mut source) = select_approvers(&primary, &fallback, &admins, target.id.0);
    if approvers.is_empty() {
        fallback = resolve(
            conn,
            tenant,
            &spec.fallback_approvers,
            target,
            request.package_id,
        )
        .await?;
        (approvers, source) = select_approvers(&primary, &fallback, &admins, target.id.0);
    }
    if approvers.is_empty() {
        admins = db::roles::active_holders(conn, tenant, Role::TenantAdmin.as_str(), None)
            .await?
            .into_iter()
            .map(|u| u.0)
            .collect();
        (approvers, source) = select_approvers(&primary, &fallback, &admins, target.id.0);
    }
    if spec.decision == DecisionRule::All
        && approvers.len() > crate::domain::policy::MAX_ALL_APPROVERS
    {
        return Err(DomainError::conflict(format!(
            "Approval stage {} requires every approver, but its approvers resolve to {} people (at most {} are allowed); ask an admin to narrow the stage.",
            index + 1,
            approvers.len(),
            crate::domain::policy::MAX_ALL_APPROVERS
        ))
        .into());
    }
    let stage = StageRow {
        tenant_id: tenant,
        request_id: request.id,
        stage_index: i32::try_from(index).unwrap_or(0),
        state: StageState::Pending.as_str().into(),
        decision_rule: spec.decision,
        approver_ids: approvers.clone(),
        require_justification: spec.require_justification,
        opened_at: now,
        due_at: now + Duration::days(spec.timeout_days),
        escalate_at: spec
            .escalation
            .as_ref()
            .map(|e| now + Duration::days(e.after_days)),
        escalated_at: None,
        completed_at: None,
    };
    request.state = RequestState::PendingApproval.as_str().into();
    request.updated_at = now;
    db::requests::save(conn, request).await?;
    db::requests::insert_stage(conn, &stage).await?;
    ask_approvers(conn, &stage, &approvers, AskReason::Opened, now).await?;
    note(
        trail,
        Actor::System,
        "assignmentRequest.stageOpened",
        request,
        json!({"stage": index, "approverIds": approvers, "approverSource": format!("{source:?}"), "dueAt": stage.due_at}),
        now,
    );
    Ok(stage)
}

/// Emails each of `approvers` a personal Approve/Deny link for the stage.
pub async fn ask_approvers(
    conn: &mut Conn,
    stage: &StageRow,
    approvers: &[Uuid],
    reason: AskReason,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    for approver in approvers {
        let token = links::new_token();
        db::links::insert(
            conn,
            &ApprovalLink {
                tenant_id: stage.tenant_id,
                id: Uuid::now_v7(),
                token_hash: links::hash(&token),
                request_id: stage.request_id,
                stage_index: stage.stage_index,
                approver_id: UserId(*approver),
                expires_at: stage.due_at,
                used_at: None,
                created_at: now,
            },
        )
        .await?;
        let notice = Notice::ApprovalNeeded {
            request_id: stage.request_id,
            stage_index: stage.stage_index,
            token,
            reason,
        };
        notify::enqueue(conn, stage.tenant_id, UserId(*approver), &notice, now).await?;
    }
    Ok(())
}

/// Tells the requestor (when there is one and they are still active).
pub(crate) async fn tell_requestor(
    conn: &mut Conn,
    request: &RequestRow,
    notice: Notice,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if let Some(requestor) = request.requestor_id
        && db::users::get(conn, request.tenant_id, requestor)
            .await?
            .is_some_and(|u| u.active)
    {
        notify::enqueue(conn, request.tenant_id, requestor, &notice, now).await?;
    }
    Ok(())
}

/// Everything approved: deliver now, or wait for the start.
async fn approved(
    conn: &mut Conn,
    trail: &mut Trail,
    request: &mut RequestRow,
    policy: &Policy,
    actor: Actor,
    recheck: bool,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let ty = RequestType::parse(&request.request_type)
        .ok_or_else(|| anyhow::anyhow!("bad request type"))?;
    if ty.is_update() {
        return apply_extension(conn, request, actor, now).await;
    }
    if request.schedule_start.is_some_and(|s| s > now) {
        request.state = RequestState::Scheduled.as_str().into();
        request.updated_at = now;
        db::requests::save(conn, request).await?;
        note(
            trail,
            actor,
            "assignmentRequest.scheduled",
            request,
            json!({"startDateTime": request.schedule_start}),
            now,
        );
        return Ok(());
    }
    deliver_add(conn, trail, request, policy, actor, recheck, now).await
}

/// Creates the assignment and delivers its roles. With `recheck` (a decision or the
/// scheduler delivers it later), eligibility, activity and separation of duties are
/// checked again under the lock on the user; the submitting transaction has just done
/// so under that lock and passes `false`.
pub async fn deliver_add(
    conn: &mut Conn,
    trail: &mut Trail,
    request: &mut RequestRow,
    policy: &Policy,
    actor: Actor,
    recheck: bool,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = request.tenant_id;
    let target = request.target_user_id;
    if recheck {
        let db::requests::LockedTarget { user, facts } =
            db::requests::lock_target_for_add(conn, tenant, request.package_id, target)
                .await?
                .ok_or_else(|| anyhow::anyhow!("target user vanished"))?;
        let problem = if !user.active {
            Some("the target user is deactivated".to_string())
        } else if facts.has_active {
            Some("the user already has this access package".to_string())
        } else {
            incompatible_access(&facts)
                .map(|c| format!("separation of duties: incompatible with {c}"))
        };
        if let Some(problem) = problem {
            request.state = RequestState::DeliveryFailed.as_str().into();
            request.updated_at = now;
            request.completed_at = Some(now);
            db::requests::save(conn, request).await?;
            tell_requestor(
                conn,
                request,
                Notice::DeliveryFailed {
                    request_id: request.id,
                },
                now,
            )
            .await?;
            note(
                trail,
                Actor::System,
                "assignmentRequest.deliveryFailed",
                request,
                json!({"reason": problem}),
                now,
            );
            return Ok(());
        }
    }
    let targets = grants::package_targets(conn, tenant, request.package_id).await?;
    // Group roles and roles without a connector are applied in this transaction;
    // connector roles are called by the scheduler afterwards; roles that delivery
    // refuses (a group that carries power) fail at once.
    let refused = grants::refusals(conn, tenant, &targets).await?;
    let state = grants::first_state(&targets, &refused);
    let assignment = AssignmentRow {
        tenant_id: tenant,
        id: AssignmentId::new(),
        package_id: request.package_id,
        policy_id: policy.id,
        target_user_id: target,
        state: state.as_str().into(),
        start_at: now,
        end_at: request.schedule_end,
        request_id: request.id,
        removal_reason: None,
        created_at: now,
        updated_at: now,
        ended_at: None,
    };
    // The request is written once, in its final state (both keys between it and the
    // assignment are checked at commit).
    request.assignment_id = Some(assignment.id);
    request.state = state.as_str().into();
    request.updated_at = now;
    request.completed_at = (state != RequestState::Delivering).then_some(now);
    db::requests::save(conn, request).await?;
    db::assignments::insert(conn, &assignment).await?;
    trail.add(
        tenant,
        actor,
        Entry {
            action: "assignment.created",
            target_type: "assignment",
            target_id: Some(assignment.id.0),
            details: json!({"requestId": request.id, "accessPackageId": request.package_id, "targetUserId": target,
                            "start": assignment.start_at, "end": assignment.end_at, "state": assignment.state}),
        },
        now,
    );
    grants::grant_except(conn, &assignment, &targets, &refused, now).await?;
    let notice = match state {
        RequestState::Delivered => Some(Notice::AccessDelivered {
            request_id: request.id,
        }),
        RequestState::PartiallyDelivered | RequestState::DeliveryFailed => {
            Some(Notice::DeliveryFailed {
                request_id: request.id,
            })
        }
        _ => None,
    };
    if let Some(notice) = notice {
        notify::enqueue(conn, tenant, target, &notice, now).await?;
    }
    let action = match state {
        RequestState::Delivered => "assignmentRequest.delivered",
        RequestState::PartiallyDelivered => "assignmentRequest.partiallyDelivered",
        RequestState::DeliveryFailed => "assignmentRequest.deliveryFailed",
        _ => "assignmentRequest.delivering",
    };
    let mut details = json!({"assignmentId": assignment.id});
    let reasons = refused.reasons();
    if !reasons.is_empty() {
        details["reason"] = json!(reasons.join("; "));
    }
    note(trail, actor, action, request, details, now);
    Ok(())
}

async fn apply_extension(
    conn: &mut Conn,
    request: &mut RequestRow,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = request.tenant_id;
    let id = request
        .assignment_id
        .ok_or_else(|| anyhow::anyhow!("extension without assignment"))?;
    let mut a = db::assignments::lock(conn, tenant, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("assignment vanished"))?;
    if !matches!(
        a.state.as_str(),
        "delivering" | "delivered" | "partiallyDelivered" | "deliveryFailed"
    ) {
        request.state = RequestState::DeliveryFailed.as_str().into();
        request.completed_at = Some(now);
        request.updated_at = now;
        db::requests::update(conn, request).await?;
        return record(
            conn,
            Actor::System,
            "assignmentRequest.deliveryFailed",
            request,
            json!({"reason": "the assignment has ended"}),
            now,
        )
        .await;
    }
    let before = a.end_at;
    a.end_at = request.schedule_end;
    a.updated_at = now;
    db::assignments::update(conn, &a).await?;
    audit::record(
        conn,
        tenant,
        actor,
        Entry {
            action: "assignment.extended",
            target_type: "assignment",
            target_id: Some(a.id.0),
            details: json!({"before": {"end": before}, "after": {"end": a.end_at}, "requestId": request.id}),
        },
        now,
    )
    .await?;
    request.state = RequestState::Delivered.as_str().into();
    request.completed_at = Some(now);
    request.updated_at = now;
    db::requests::update(conn, request).await?;
    record(
        conn,
        actor,
        "assignmentRequest.delivered",
        request,
        json!({"end": a.end_at}),
        now,
    )
    .await
}

/// Submits a request of any user or admin type (DOMAIN.md §6).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, kind = %input.request_type))]
pub async fn submit(
    pool: &PgPool,
    caller: &Caller,
    input: RequestInput,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let ty = input.request_type;
    if matches!(ty, RequestType::SystemAdd | RequestType::SystemRemove) {
        return Err(DomainError::field(
            "requestType",
            "system requests are made by Portico itself",
        )
        .into());
    }
    let tenant = caller.tenant_id();
    let by_user = ty.is_self_service();
    let target_id = if by_user {
        if input.target_user_id.is_some_and(|u| u != caller.user_id()) {
            return Err(DomainError::field(
                "targetUserId",
                "user requests are for yourself; use adminAdd, adminUpdate or adminRemove to act for someone else",
            )
            .into());
        }
        caller.user_id()
    } else {
        input.target_user_id.ok_or_else(|| {
            DomainError::field("targetUserId", "admin requests name the target user")
        })?
    };
    let mut tx = pool.begin().await?;
    let assignment = match input.assignment_id {
        Some(id) => {
            let a = db::assignments::lock(&mut tx, tenant, id).await?;
            match a {
                Some(a) if a.target_user_id == target_id => Some(a),
                _ => {
                    return Err(DomainError::field(
                        "assignmentId",
                        format!("the user has no assignment with id {id}"),
                    )
                    .into());
                }
            }
        }
        None => None,
    };
    let package_id = input
        .access_package_id
        .or(assignment.as_ref().map(|a| a.package_id))
        .ok_or_else(|| DomainError::field("accessPackageId", "name the access package"))?;
    if let Some(a) = &assignment
        && a.package_id != package_id
    {
        return Err(DomainError::field(
            "assignmentId",
            "this assignment is of another access package",
        )
        .into());
    }
    let db::packages::PackageToRequest {
        package,
        catalog_enabled,
        catalog_externally_visible,
    } = db::packages::get_to_request(&mut tx, tenant, package_id)
        .await?
        .ok_or_else(|| {
            DomainError::field(
                "accessPackageId",
                format!("there is no access package with id {package_id}"),
            )
        })?;
    if !by_user {
        caller.require(Action::ManageAssignments(package.catalog_id))?;
    }
    let no_user = || {
        DomainError::field(
            "targetUserId",
            format!("there is no user with id {target_id}"),
        )
    };
    let actor = caller.actor();
    let mut trail = Trail::default();
    let request = if ty.is_add() {
        // The user is locked and the facts of adding the package read in one statement.
        let locked = db::requests::lock_target_for_add(&mut tx, tenant, package.id, target_id)
            .await?
            .ok_or_else(no_user)?;
        submit_add(
            &mut tx,
            &mut trail,
            caller,
            &input,
            &package,
            (catalog_enabled, catalog_externally_visible),
            &locked,
            now,
        )
        .await?
    } else if ty.is_update() {
        let target = db::users::lock(&mut tx, tenant, target_id)
            .await?
            .ok_or_else(no_user)?;
        let a = match assignment {
            Some(a) => a,
            None => db::assignments::active_for(&mut tx, tenant, package.id, target.id)
                .await?
                .ok_or_else(|| DomainError::conflict("The user does not have this access package, so there is nothing to extend."))?,
        };
        submit_update(&mut tx, &mut trail, caller, &input, &a, &target, now).await?
    } else {
        let target = db::users::lock(&mut tx, tenant, target_id)
            .await?
            .ok_or_else(no_user)?;
        let mut a = match assignment {
            Some(a) => a,
            None => db::assignments::active_for(&mut tx, tenant, package.id, target.id)
                .await?
                .ok_or_else(|| DomainError::conflict("The user does not have this access package, so there is nothing to remove."))?,
        };
        if !matches!(
            a.state.as_str(),
            "delivering" | "delivered" | "partiallyDelivered" | "deliveryFailed"
        ) {
            return Err(DomainError::conflict(format!(
                "This assignment has already {}.",
                if a.state == "expired" {
                    "expired"
                } else {
                    "been removed"
                }
            ))
            .into());
        }
        let reason = if by_user { "user" } else { "admin" };
        let ended = assignments::end(
            &mut tx,
            &mut a,
            ty,
            Some(caller.user_id()),
            "removed",
            Some(reason),
            actor,
            now,
        )
        .await?;
        (ended, None)
    };
    // The answer is what this transaction wrote: the request and, when it waits for
    // approval, the stage it opened.
    let (request, opened) = request;
    let view = RequestView {
        request,
        stages: opened
            .map(|stage| StageView {
                stage,
                decisions: Vec::new(),
            })
            .into_iter()
            .collect(),
    };
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(view)
}

#[allow(clippy::too_many_arguments)]
async fn submit_add(
    conn: &mut Conn,
    trail: &mut Trail,
    caller: &Caller,
    input: &RequestInput,
    package: &AccessPackage,
    (catalog_enabled, externally_visible): (bool, bool),
    locked: &db::requests::LockedTarget,
    now: DateTime<Utc>,
) -> ServiceResult<(RequestRow, Option<StageRow>)> {
    let tenant = caller.tenant_id();
    let by_user = input.request_type.is_self_service();
    let target = &locked.user;
    let add_facts = &locked.facts;
    let policies = db::packages::policies_of(conn, tenant, package.id).await?;
    let groups: Vec<crate::domain::ids::GroupId> = add_facts
        .group_ids
        .iter()
        .map(|g| crate::domain::ids::GroupId(*g))
        .collect();
    let scoped = |p: &Policy| in_scope(&p.settings.0, target, &groups, externally_visible);
    let names = |ps: &[&Policy]| {
        ps.iter()
            .map(|p| format!("“{}” ({})", p.display_name, p.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if policies.is_empty() {
        return Err(DomainError::conflict(
            "This access package has no policy yet, so it cannot be requested or assigned.",
        )
        .into());
    }
    let policy: Policy = match input.policy_id {
        Some(id) => {
            let p = policies.iter().find(|p| p.id == id).ok_or_else(|| {
                DomainError::field("policyId", "this is not a policy of the access package")
            })?;
            p.clone()
        }
        None => {
            let candidates: Vec<&Policy> = if by_user {
                policies.iter().filter(|p| scoped(p)).collect()
            } else {
                policies.iter().collect()
            };
            match candidates.as_slice() {
                [] => {
                    return Err(DomainError::forbidden(
                        "You are not among the people any policy of this access package lets request it.",
                    )
                    .into());
                }
                [one] => (*one).clone(),
                several => {
                    return Err(DomainError::field(
                        "policyId",
                        format!("several policies apply; choose one: {}", names(several)),
                    )
                    .into());
                }
            }
        }
    };
    let settings = &policy.settings.0;
    let facts = Eligibility {
        target_active: target.active,
        in_scope: scoped(&policy),
        catalog_enabled,
        requests_enabled: settings.requests_enabled,
        has_active_assignment: add_facts.has_active,
        has_open_request: add_facts.has_open,
        incompatible_with: incompatible_access(add_facts),
    };
    check_eligibility(&facts, !by_user)?;
    let mut errors = FieldErrors::new();
    let justification = parse_justification(
        input.justification.as_deref(),
        by_user && settings.require_justification,
        "justification",
        &mut errors,
    );
    let mut questions = settings.questions.clone();
    if !by_user {
        questions.iter_mut().for_each(|q| q.required = false);
    }
    let answers = check_answers(&questions, &input.answers, &mut errors);
    let mut schedule_policy = settings.clone();
    if !by_user {
        schedule_policy.allow_custom_schedule = true;
    }
    let (start, end) =
        resolve_schedule(&schedule_policy, input.start, input.end, now, &mut errors)?;
    validated(errors)?;
    let mut request = RequestRow {
        tenant_id: tenant,
        id: RequestId::new(),
        request_type: input.request_type.as_str().into(),
        state: RequestState::Submitted.as_str().into(),
        package_id: package.id,
        policy_id: policy.id,
        requestor_id: Some(caller.user_id()),
        target_user_id: target.id,
        assignment_id: None,
        justification,
        answers: Json(answers),
        schedule_start: Some(start),
        schedule_end: end,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    // The request is written once its state after this transaction is known (by
    // `open_stage`, `approved` or `deliver_add`).
    note(
        trail,
        caller.actor(),
        "assignmentRequest.created",
        &request,
        json!({"requestType": request.request_type, "accessPackageId": package.id, "policyId": policy.id,
               "targetUserId": target.id, "justification": request.justification}),
        now,
    );
    if by_user && !settings.approval.stages.is_empty() {
        // The requestor is the target, active and locked by this transaction.
        notify::enqueue(
            conn,
            tenant,
            target.id,
            &Notice::RequestSubmitted {
                request_id: request.id,
            },
            now,
        )
        .await?;
        let stage = open_stage(conn, trail, &mut request, settings, 0, target, now).await?;
        return Ok((request, Some(stage)));
    }
    approved(
        conn,
        trail,
        &mut request,
        &policy,
        caller.actor(),
        false,
        now,
    )
    .await?;
    Ok((request, None))
}

async fn submit_update(
    conn: &mut Conn,
    trail: &mut Trail,
    caller: &Caller,
    input: &RequestInput,
    a: &AssignmentRow,
    target: &User,
    now: DateTime<Utc>,
) -> ServiceResult<(RequestRow, Option<StageRow>)> {
    let tenant = caller.tenant_id();
    let by_user = input.request_type.is_self_service();
    if !matches!(
        a.state.as_str(),
        "delivering" | "delivered" | "partiallyDelivered" | "deliveryFailed"
    ) {
        return Err(DomainError::conflict(
            "This assignment has ended; request the access package again instead.",
        )
        .into());
    }
    let policy = db::packages::get_policy(conn, tenant, a.policy_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("policy of assignment vanished"))?;
    let settings = &policy.settings.0;
    let new_end = extended_end(settings, a.end_at, input.end, now)?;
    let mut errors = FieldErrors::new();
    let justification = parse_justification(
        input.justification.as_deref(),
        by_user && settings.require_justification,
        "justification",
        &mut errors,
    );
    validated(errors)?;
    let mut request = RequestRow {
        tenant_id: tenant,
        id: RequestId::new(),
        request_type: input.request_type.as_str().into(),
        state: RequestState::Submitted.as_str().into(),
        package_id: a.package_id,
        policy_id: a.policy_id,
        requestor_id: Some(caller.user_id()),
        target_user_id: a.target_user_id,
        assignment_id: Some(a.id),
        justification,
        answers: Json(Vec::new()),
        schedule_start: None,
        schedule_end: Some(new_end),
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    db::requests::save(conn, &request).await?;
    note(
        trail,
        caller.actor(),
        "assignmentRequest.created",
        &request,
        json!({"requestType": request.request_type, "assignmentId": a.id, "newEnd": new_end}),
        now,
    );
    if by_user && settings.extension.require_approval && !settings.approval.stages.is_empty() {
        let stage = open_stage(conn, trail, &mut request, settings, 0, target, now).await?;
        return Ok((request, Some(stage)));
    }
    apply_extension(conn, &mut request, caller.actor(), now).await?;
    Ok((request, None))
}

/// May the caller see this request? Its requestor, target, approvers, and who manages
/// or reads its catalog.
async fn visible(conn: &mut Conn, caller: &Caller, r: &RequestRow) -> ServiceResult<bool> {
    let me = caller.user_id();
    if r.requestor_id == Some(me) || r.target_user_id == me || caller.roles.is_tenant_admin() {
        return Ok(true);
    }
    if db::requests::is_approver(conn, r.tenant_id, r.id, me).await? {
        return Ok(true);
    }
    let catalog = catalog_of(conn, r.tenant_id, r.package_id).await?;
    Ok(caller.roles.allows(Action::ManageAssignments(catalog))
        || caller.roles.allows(Action::ReadCatalog(catalog)))
}

async fn catalog_of(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
) -> ServiceResult<CatalogId> {
    Ok(db::packages::get(conn, tenant, package)
        .await?
        .map(|p| p.catalog_id)
        .ok_or_else(|| anyhow::anyhow!("package vanished"))?)
}

pub async fn get(pool: &PgPool, caller: &Caller, id: RequestId) -> ServiceResult<RequestView> {
    let mut conn = pool.acquire().await?;
    let r = db::requests::get(&mut conn, caller.tenant_id(), id)
        .await?
        .ok_or_else(not_found)?;
    if !visible(&mut conn, caller, &r).await? {
        return Err(not_found());
    }
    Ok(views(&mut conn, caller.tenant_id(), vec![r])
        .await?
        .remove(0))
}

/// Query of the request list.
#[derive(Clone, Debug, Default)]
pub struct ListQuery<'a> {
    pub mine: bool,
    pub package: Option<PackageId>,
    pub target: Option<UserId>,
    pub state: Option<&'a str>,
}

pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    q: ListQuery<'_>,
    page: PageRequest,
) -> ServiceResult<Page<RequestView>> {
    if let Some(s) = q.state
        && RequestState::parse(s).is_none()
    {
        return Err(DomainError::field("state", format!("unknown request state '{s}'")).into());
    }
    let tenant = caller.tenant_id();
    let managed: Vec<CatalogId> = caller
        .roles
        .catalogs()
        .filter(|c| {
            caller.roles.allows(Action::ManageAssignments(*c))
                || caller.roles.allows(Action::ReadCatalog(*c))
        })
        .collect();
    let mut filter = RequestFilter {
        involving: None,
        package: q.package,
        target: q.target,
        state: q.state,
        catalogs: None,
    };
    if q.mine || (!caller.roles.is_tenant_admin() && managed.is_empty()) {
        filter.involving = Some(caller.user_id());
    } else if !caller.roles.is_tenant_admin() {
        filter.catalogs = Some(&managed);
    }
    let mut conn = pool.acquire().await?;
    let page = db::requests::list(&mut conn, tenant, &filter, page).await?;
    let items = views(&mut conn, tenant, page.items).await?;
    Ok(Page {
        items,
        next: page.next,
    })
}

/// One approval of the caller: the request and the stage they decide(d).
pub struct ApprovalView {
    pub stage_index: i32,
    pub request: RequestView,
}

pub async fn approvals(
    pool: &PgPool,
    caller: &Caller,
    decided: bool,
    page: PageRequest,
) -> ServiceResult<Page<ApprovalView>> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let pairs =
        db::requests::approvals_of(&mut conn, tenant, caller.user_id(), decided, page).await?;
    let ids: Vec<RequestId> = pairs.items.iter().map(|(r, _)| *r).collect();
    let rows = db::requests::get_many(&mut conn, tenant, &ids).await?;
    let mut views = views(&mut conn, tenant, rows).await?;
    let items = pairs
        .items
        .iter()
        .filter_map(|(id, stage)| {
            let pos = views.iter().position(|v| v.request.id == *id)?;
            Some(ApprovalView {
                stage_index: *stage,
                request: if views.iter().filter(|v| v.request.id == *id).count() > 1 {
                    views[pos].clone()
                } else {
                    views.remove(pos)
                },
            })
        })
        .collect();
    Ok(Page {
        items,
        next: pairs.next,
    })
}

/// Explains why a request can no longer be decided.
async fn already_decided(
    conn: &mut Conn,
    tenant: TenantId,
    view: &RequestView,
) -> ServiceResult<DomainError> {
    let last = view.stages.last();
    let decisive = last.and_then(|s| {
        let rule = s.stage.decision_rule;
        match s.stage.state.as_str() {
            "denied" => s.decisions.iter().find(|d| d.decision == "deny"),
            "approved" if rule == DecisionRule::AnyOne => {
                s.decisions.iter().find(|d| d.decision == "approve")
            }
            "approved" => s.decisions.last(),
            _ => None,
        }
    });
    if let Some(d) = decisive {
        let who = db::users::get(conn, tenant, d.approver_id)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_else(|| d.approver_id.to_string());
        let verb = if d.decision == "deny" {
            "denied"
        } else {
            "approved"
        };
        return Ok(DomainError::conflict(format!(
            "This stage was already {verb} by {who} at {}; your decision was not recorded.",
            d.decided_at.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    Ok(DomainError::conflict(format!(
        "This request is {} and can no longer be decided.",
        view.request.state
    )))
}

/// An approver's decision on the open stage. Concurrent deciders are serialised by the
/// row lock on the request: exactly one outcome, the others are told who decided.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn decide(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let request = db::requests::lock(&mut tx, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    let current = views(&mut tx, tenant, vec![request])
        .await?
        .pop()
        .ok_or_else(not_found)?;
    let me = caller.user_id().0;
    let approver = current
        .stages
        .iter()
        .any(|s| s.stage.approver_ids.contains(&me));
    if !approver && !visible(&mut tx, caller, &current.request).await? {
        return Err(not_found());
    }
    let mut trail = Trail::default();
    let result = decide_current(
        &mut tx,
        &mut trail,
        current,
        caller.user_id(),
        caller.actor(),
        decision,
        justification,
        now,
    )
    .await?;
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(result)
}

/// The decision of `approver` on a request already locked by the caller's transaction
/// (the API and the emailed links both end here).
#[allow(clippy::too_many_arguments)]
pub async fn decide_locked(
    tx: &mut Conn,
    trail: &mut Trail,
    request: RequestRow,
    me: UserId,
    actor: Actor,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let tenant = request.tenant_id;
    let current = views(tx, tenant, vec![request])
        .await?
        .pop()
        .ok_or_else(not_found)?;
    decide_current(tx, trail, current, me, actor, decision, justification, now).await
}

/// The decision on a locked request whose stages were just read; the answer is built
/// from what this transaction wrote, without reading it back.
#[allow(clippy::too_many_arguments)]
async fn decide_current(
    tx: &mut Conn,
    trail: &mut Trail,
    current: RequestView,
    me: UserId,
    actor: Actor,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let mut request = current.request.clone();
    let tenant = request.tenant_id;
    let id = request.id;
    let open = current
        .stages
        .last()
        .filter(|s| s.stage.state == "pending" && request.state == "pendingApproval");
    let Some(stage) = open else {
        return Err(already_decided(tx, tenant, &current).await?.into());
    };
    if !stage.stage.approver_ids.contains(&me.0) {
        return Err(DomainError::forbidden(
            "You are not an approver of the current stage of this request.",
        )
        .into());
    }
    if stage.decisions.iter().any(|d| d.approver_id == me) {
        return Err(DomainError::conflict(
            "You already decided this stage; the other approvers' decisions are awaited.",
        )
        .into());
    }
    let mut errors = FieldErrors::new();
    let justification = parse_justification(
        justification.as_deref(),
        stage.stage.require_justification,
        "justification",
        &mut errors,
    );
    validated(errors)?;
    let row = DecisionRow {
        tenant_id: tenant,
        request_id: id,
        stage_index: stage.stage.stage_index,
        approver_id: me,
        decision: decision.as_str().into(),
        justification: justification.clone(),
        decided_at: now,
    };
    db::requests::insert_decision(tx, &row).await?;
    note(
        trail,
        actor,
        "assignmentRequest.decided",
        &request,
        json!({"stage": stage.stage.stage_index, "decision": decision.as_str(), "justification": justification}),
        now,
    );
    let mut decisions: Vec<(Uuid, Decision)> = stage
        .decisions
        .iter()
        .filter_map(|d| Decision::parse(&d.decision).map(|x| (d.approver_id.0, x)))
        .collect();
    decisions.push((me.0, decision));
    let rule = stage.stage.decision_rule;
    let mut stage_row = stage.stage.clone();
    let mut opened: Option<StageRow> = None;
    match stage_outcome(rule, &stage_row.approver_ids, &decisions) {
        StageOutcome::Pending => {}
        StageOutcome::Denied => {
            stage_row.state = StageState::Denied.as_str().into();
            stage_row.completed_at = Some(now);
            db::requests::update_stage(tx, &stage_row).await?;
            request.state = RequestState::Denied.as_str().into();
            request.completed_at = Some(now);
            request.updated_at = now;
            db::requests::update(tx, &request).await?;
            note(
                trail,
                actor,
                "assignmentRequest.denied",
                &request,
                json!({"stage": stage_row.stage_index}),
                now,
            );
            tell_requestor(
                tx,
                &request,
                Notice::RequestDenied {
                    request_id: request.id,
                },
                now,
            )
            .await?;
        }
        StageOutcome::Approved => {
            stage_row.state = StageState::Approved.as_str().into();
            stage_row.completed_at = Some(now);
            db::requests::update_stage(tx, &stage_row).await?;
            let policy = db::packages::get_policy(tx, tenant, request.policy_id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("policy vanished"))?;
            let next = usize::try_from(stage_row.stage_index + 1).unwrap_or(usize::MAX);
            if next < policy.settings.0.approval.stages.len() {
                let target = db::users::get(tx, tenant, request.target_user_id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("target vanished"))?;
                opened = Some(
                    open_stage(
                        tx,
                        trail,
                        &mut request,
                        &policy.settings.0,
                        next,
                        &target,
                        now,
                    )
                    .await?,
                );
            } else {
                note(
                    trail,
                    actor,
                    "assignmentRequest.approved",
                    &request,
                    json!({}),
                    now,
                );
                approved(tx, trail, &mut request, &policy, actor, true, now).await?;
            }
        }
    }
    let mut stages: Vec<StageView> = current.stages;
    if let Some(last) = stages.last_mut() {
        last.stage = stage_row;
        last.decisions.push(row);
    }
    stages.extend(opened.map(|stage| StageView {
        stage,
        decisions: Vec::new(),
    }));
    Ok(RequestView { request, stages })
}

/// Cancels an open request: its requestor or target, or who manages its catalog.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn cancel(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let mut request = db::requests::lock(&mut tx, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    if !visible(&mut tx, caller, &request).await? {
        return Err(not_found());
    }
    let me = caller.user_id();
    let own = request.requestor_id == Some(me) || request.target_user_id == me;
    if !own {
        let catalog = catalog_of(&mut tx, tenant, request.package_id).await?;
        caller.require(Action::ManageAssignments(catalog))?;
    }
    if !RequestState::parse(&request.state).is_some_and(RequestState::is_open) {
        return Err(DomainError::conflict(format!(
            "This request is already {}; only submitted, pending or scheduled requests can be canceled.",
            request.state
        ))
        .into());
    }
    cancel_row(&mut tx, &mut request, caller.actor(), now).await?;
    let result = view(&mut tx, tenant, id).await?;
    tx.commit().await?;
    Ok(result)
}

/// Cancels an open request and its pending stage, in the caller's transaction.
pub async fn cancel_row(
    conn: &mut Conn,
    request: &mut RequestRow,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let tenant = request.tenant_id;
    for s in db::requests::stages_of(conn, tenant, &[request.id]).await? {
        if s.state == "pending" {
            let mut s = s;
            s.state = StageState::Canceled.as_str().into();
            s.completed_at = Some(now);
            db::requests::update_stage(conn, &s).await?;
        }
    }
    request.state = RequestState::Canceled.as_str().into();
    request.completed_at = Some(now);
    request.updated_at = now;
    db::requests::update(conn, request).await?;
    record(
        conn,
        actor,
        "assignmentRequest.canceled",
        request,
        json!({}),
        now,
    )
    .await
}

/// Delivers scheduled requests whose start has come (scheduler job).
pub async fn deliver_due_scheduled(pool: &PgPool, now: DateTime<Utc>) -> ServiceResult<usize> {
    let mut tx = pool.begin().await?;
    let due = db::requests::claim_due_scheduled(&mut tx, now, 100).await?;
    let count = due.len();
    let mut trail = Trail::default();
    for mut request in due {
        let policy = db::packages::get_policy(&mut tx, request.tenant_id, request.policy_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("policy vanished"))?;
        deliver_add(
            &mut tx,
            &mut trail,
            &mut request,
            &policy,
            Actor::System,
            true,
            now,
        )
        .await?;
    }
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(count)
}

/// A deactivated approver can no longer decide: pending stages left with no active
/// approver get the fallback approvers, then the tenant admins.
pub async fn replace_deactivated_approver(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    for mut stage in db::requests::pending_stages_with_approver(conn, tenant, user).await? {
        let others: Vec<UserId> = stage
            .approver_ids
            .iter()
            .filter(|a| **a != user.0)
            .map(|a| UserId(*a))
            .collect();
        let active = db::users::get_many(conn, tenant, &others).await?;
        if active.iter().any(|u| u.active) {
            continue;
        }
        let Some(request) = db::requests::get(conn, tenant, stage.request_id).await? else {
            continue;
        };
        let Some(policy) = db::packages::get_policy(conn, tenant, request.policy_id).await? else {
            continue;
        };
        let Some(target) = db::users::get(conn, tenant, request.target_user_id).await? else {
            continue;
        };
        let index = usize::try_from(stage.stage_index).unwrap_or(0);
        let fallback_refs = policy
            .settings
            .0
            .approval
            .stages
            .get(index)
            .map(|s| s.fallback_approvers.clone())
            .unwrap_or_default();
        let fallback = resolve(conn, tenant, &fallback_refs, &target, request.package_id).await?;
        let admins: Vec<Uuid> =
            db::roles::active_holders(conn, tenant, Role::TenantAdmin.as_str(), None)
                .await?
                .into_iter()
                .map(|u| u.0)
                .collect();
        let (added, _) = select_approvers(&fallback, &[], &admins, target.id.0);
        let added: Vec<Uuid> = added.into_iter().filter(|a| *a != user.0).collect();
        stage.approver_ids.extend(added.iter().copied());
        db::requests::update_stage(conn, &stage).await?;
        record(conn, Actor::System, "assignmentRequest.approversAdded", &request,
            json!({"stage": stage.stage_index, "approverIds": added, "reason": "approverDeactivated"}), now).await?;
    }
    Ok(())
}
