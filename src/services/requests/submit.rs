//! Submission of every request type (DOMAIN.md §6): who may ask for whom, which
//! policy applies, eligibility, answers and schedule; then the first stage opens, or
//! the request is delivered (or scheduled) at once, or the assignment ends.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::deliver::follow;
use super::engine::open_stage;
use super::transition::{carry_out, set_state, step_with};
use super::{RequestInput, RequestView, StageView, incompatible_access, note};
use crate::db::assignments::AssignmentRow;
use crate::db::packages::{AccessPackage, Policy};
use crate::db::requests::{RequestRow, StageRow};
use crate::db::users::User;
use crate::db::{self, Conn};
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::audit::AuditAction;
use crate::domain::authz::Action;
use crate::domain::ids::{PackageId, PolicyId, RequestId};
use crate::domain::lifecycle::{Event, Then};
use crate::domain::policy::PolicySettings;
use crate::domain::request::{
    AnswerInput, Eligibility, RequestState, RequestType, check_answers, check_eligibility,
    end_follows_start, extended_end, parse_justification, resolve_schedule,
};
use crate::domain::{DomainError, FieldErrors};
use crate::services::assignments;
use crate::services::audit::Trail;
use crate::services::grants;
use crate::services::{Caller, ServiceResult, validated};

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

/// Submits a request of any user or admin type (DOMAIN.md §6).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, kind = %input.request_type))]
pub async fn submit(
    pool: &PgPool,
    caller: &Caller,
    input: RequestInput,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let mut tx = pool.begin().await?;
    let mut trail = Trail::default();
    let view = submit_in(&mut tx, &mut trail, caller, &input, now).await?;
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(view)
}

/// [`submit`] inside the caller's transaction, adding its audit events to `trail`
/// (bulk work submits many requests in one transaction).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, kind = %input.request_type))]
pub(crate) async fn submit_in(
    tx: &mut Conn,
    trail: &mut Trail,
    caller: &Caller,
    input: &RequestInput,
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
    let assignment = match input.assignment_id {
        Some(id) => {
            let a = db::assignments::lock(tx, tenant, id).await?;
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
    let no_package = || {
        DomainError::field(
            "accessPackageId",
            format!("there is no access package with id {package_id}"),
        )
    };
    // An add reads the package, its catalog's switches and its policies, and the
    // target user locked with the facts of adding it, in one statement; without a row,
    // the package (then the user) does not exist.
    let to_add = if ty.is_add() {
        db::requests::lock_to_add(tx, tenant, package_id, target_id).await?
    } else {
        None
    };
    let (package, catalog_enabled, catalog_externally_visible) = match &to_add {
        Some(found) => (
            found.package.0.clone(),
            found.catalog_enabled,
            found.catalog_externally_visible,
        ),
        None => {
            let found = db::packages::get_to_request(tx, tenant, package_id)
                .await?
                .ok_or_else(no_package)?;
            (
                found.package,
                found.catalog_enabled,
                found.catalog_externally_visible,
            )
        }
    };
    if !by_user {
        caller.require(Action::ManageAssignments(package.catalog_id))?;
    }
    if package.archived_at.is_some() {
        return Err(DomainError::conflict(
            "This access package is archived; it can no longer be requested or assigned.",
        )
        .into());
    }
    let no_user = || {
        DomainError::field(
            "targetUserId",
            format!("there is no user with id {target_id}"),
        )
    };
    let actor = caller.actor();
    let request = if ty.is_add() {
        let found = to_add.ok_or_else(no_user)?;
        trail.know_targets(package.id, grants::of_package(&found.targets.0));
        submit_add(
            tx,
            trail,
            caller,
            input,
            &package,
            (catalog_enabled, catalog_externally_visible),
            &found.target,
            found.policies.0,
            now,
        )
        .await?
    } else if ty.is_update() {
        let target = db::users::lock(tx, tenant, target_id)
            .await?
            .ok_or_else(no_user)?;
        let a = match assignment {
            Some(a) => a,
            None => db::assignments::active_for(tx, tenant, package.id, target.id)
                .await?
                .ok_or_else(|| DomainError::conflict("The user does not have this access package, so there is nothing to extend."))?,
        };
        submit_update(tx, trail, caller, input, &a, &target, now).await?
    } else {
        let target = db::users::lock(tx, tenant, target_id)
            .await?
            .ok_or_else(no_user)?;
        let mut a = match assignment {
            Some(a) => a,
            None => db::assignments::active_for(tx, tenant, package.id, target.id)
                .await?
                .ok_or_else(|| DomainError::conflict("The user does not have this access package, so there is nothing to remove."))?,
        };
        if !a.state.is_active() {
            return Err(DomainError::conflict(format!(
                "This assignment has already {}.",
                if a.state == AssignmentState::Expired {
                    "expired"
                } else {
                    "been removed"
                }
            ))
            .into());
        }
        let reason = if by_user {
            RemovalReason::User
        } else {
            RemovalReason::Admin
        };
        let ended = assignments::end(
            tx,
            &mut a,
            ty,
            Some(caller.user_id()),
            AssignmentState::Removed,
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
    policies: Vec<Policy>,
    now: DateTime<Utc>,
) -> ServiceResult<(RequestRow, Option<StageRow>)> {
    let tenant = caller.tenant_id();
    let by_user = input.request_type.is_self_service();
    let target = &locked.user;
    let add_facts = &locked.facts;
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
    trail.know_policy(&policy);
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
        request_type: input.request_type,
        state: RequestState::Submitted,
        package_id: package.id,
        policy_id: policy.id,
        requestor_id: Some(caller.user_id()),
        target_user_id: target.id,
        assignment_id: None,
        justification,
        answers: Json(answers),
        schedule_start: Some(start),
        schedule_end: end,
        end_follows_start: end_follows_start(&schedule_policy, input.end),
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    // The request is written once its state after this transaction is known (by
    // `submitted`, `open_stage` or `deliver_add`).
    note(
        trail,
        caller.actor(),
        AuditAction::RequestCreated,
        &request,
        json!({"requestType": request.request_type, "accessPackageId": package.id, "policyId": policy.id,
               "targetUserId": target.id, "justification": request.justification}),
        now,
    );
    let opened = submitted(conn, trail, caller, &mut request, &policy, target, now).await?;
    Ok((request, opened))
}

/// The machine's answer to a new request: open the first stage, wait for the start,
/// deliver or extend.
async fn submitted(
    conn: &mut Conn,
    trail: &mut Trail,
    caller: &Caller,
    request: &mut RequestRow,
    policy: &Policy,
    target: &User,
    now: DateTime<Utc>,
) -> ServiceResult<Option<StageRow>> {
    let settings = &policy.settings.0;
    let event = Event::Submitted {
        extension_requires_approval: settings.extension.require_approval,
    };
    let holds = crate::services::extensions::holds(conn, request.tenant_id, settings).await?;
    let t = step_with(
        conn,
        request,
        settings.approval.stages.len(),
        holds,
        &[],
        event,
        now,
    )
    .await?;
    set_state(request, &t, now);
    if t.then == Then::Nothing {
        db::requests::save(conn, request).await?;
    }
    carry_out(conn, trail, request, &t, caller.actor(), None, now).await?;
    if let Then::OpenStage(index) = t.then {
        let stage = open_stage(conn, trail, request, settings, index, target, now).await?;
        return Ok(Some(stage));
    }
    follow(
        conn,
        trail,
        request,
        policy,
        t.then,
        caller.actor(),
        false,
        now,
    )
    .await
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
    if !a.state.is_active() {
        return Err(DomainError::conflict(
            "This assignment has ended; request the access package again instead.",
        )
        .into());
    }
    let policy = db::packages::get_policy(conn, tenant, a.policy_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("policy of assignment vanished"))?;
    let settings = &policy.settings.0;
    if by_user {
        // Extending is asking again: the requestor must still be in the policy's scope.
        let package = db::packages::get_to_request(conn, tenant, a.package_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("package of assignment vanished"))?;
        let groups =
            db::groups::groups_of_user(conn, db::groups::Relation::Member, tenant, target.id)
                .await?;
        if !in_scope(
            settings,
            target,
            &groups,
            package.catalog_externally_visible,
        ) {
            return Err(DomainError::forbidden(
                "You are no longer among the people this policy lets request this access package, so you cannot extend it; ask an admin to extend it for you.",
            )
            .into());
        }
    }
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
        request_type: input.request_type,
        state: RequestState::Submitted,
        package_id: a.package_id,
        policy_id: a.policy_id,
        requestor_id: Some(caller.user_id()),
        target_user_id: a.target_user_id,
        assignment_id: Some(a.id),
        justification,
        answers: Json(Vec::new()),
        schedule_start: None,
        schedule_end: Some(new_end),
        end_follows_start: false,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    db::requests::save(conn, &request).await?;
    note(
        trail,
        caller.actor(),
        AuditAction::RequestCreated,
        &request,
        json!({"requestType": request.request_type, "assignmentId": a.id, "newEnd": new_end}),
        now,
    );
    let opened = submitted(conn, trail, caller, &mut request, &policy, target, now).await?;
    Ok((request, opened))
}

/// What the requester portal's request form sent.
#[derive(Clone, Debug, Default)]
pub struct RequestForm {
    pub policy_id: Option<PolicyId>,
    pub justification: Option<String>,
    pub answers: Vec<AnswerInput>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Requests the package for the caller (a `userAdd` request).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn request_package(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    form: RequestForm,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    {
        // Another tenant's (or no) package reads as missing, not as a form error.
        let mut conn = pool.acquire().await?;
        db::packages::get(&mut conn, caller.tenant_id(), package)
            .await?
            .ok_or(DomainError::NotFound("access package"))?;
    }
    submit(
        pool,
        caller,
        RequestInput {
            request_type: RequestType::UserAdd,
            access_package_id: Some(package),
            policy_id: form.policy_id,
            target_user_id: None,
            assignment_id: None,
            justification: form.justification,
            answers: form.answers,
            start: form.start,
            end: form.end,
        },
        now,
    )
    .await
}
