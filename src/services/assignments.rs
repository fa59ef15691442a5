//! Assignments: reading them, ending them (each end is itself a request, so the history
//! of an assignment is a list of requests), and reprocessing failed grants; the
//! portals' actions on assignments (an admin's direct assignment or removal, a holder's
//! extension or removal of their own) are requests too.

use crate::domain::extension::ExtensionStage;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use sqlx::types::Json;

use super::audit::{self, Entry};
use super::notify::{self, Notice};
use super::requests::{self, RequestInput, RequestView};
use super::{Actor, Caller, ServiceError, ServiceResult, grants, principals};
use crate::db::assignments::{AssignmentFilter, AssignmentRow, GrantRow};
use crate::db::requests::RequestRow;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::assignment::{AssignmentState, GrantState, RemovalReason};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::{
    AssignmentId, CatalogId, PackageId, PolicyId, RequestId, TenantId, UserId,
};
use crate::domain::request::{RequestState, RequestType};

/// An assignment with its grants.
#[derive(Clone, Debug)]
pub struct AssignmentView {
    pub assignment: AssignmentRow,
    pub grants: Vec<GrantRow>,
}

#[tracing::instrument(skip_all)]
pub async fn views(
    conn: &mut Conn,
    tenant: TenantId,
    rows: Vec<AssignmentRow>,
) -> ServiceResult<Vec<AssignmentView>> {
    let ids: Vec<AssignmentId> = rows.iter().map(|a| a.id).collect();
    let grants = db::assignments::grants_of(conn, tenant, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|assignment| {
            let grants = grants
                .iter()
                .filter(|g| g.assignment_id == assignment.id)
                .cloned()
                .collect();
            AssignmentView { assignment, grants }
        })
        .collect())
}

/// Ends an active assignment through a request of `request_type` (state `removed` or
/// `expired`), revoking its grants in this transaction.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all)]
pub async fn end(
    conn: &mut Conn,
    a: &mut AssignmentRow,
    request_type: RequestType,
    requestor: Option<UserId>,
    state: AssignmentState,
    reason: Option<RemovalReason>,
    actor: Actor,
    now: DateTime<Utc>,
) -> ServiceResult<RequestRow> {
    let request = RequestRow {
        tenant_id: a.tenant_id,
        id: RequestId::new(),
        request_type,
        state: RequestState::Delivered,
        package_id: a.package_id,
        policy_id: a.policy_id,
        requestor_id: requestor,
        target_user_id: a.target_user_id,
        assignment_id: Some(a.id),
        justification: None,
        answers: Json(Vec::new()),
        schedule_start: None,
        schedule_end: None,
        end_follows_start: false,
        created_at: now,
        updated_at: now,
        completed_at: Some(now),
    };
    db::requests::save(conn, &request).await?;
    grants::revoke_all(conn, a, now).await?;
    a.state = state;
    a.removal_reason = reason;
    a.ended_at = Some(now);
    a.updated_at = now;
    db::assignments::update(conn, a).await?;
    super::requests::cancel_extensions_of_ended(conn, &[(a.tenant_id, a.id)], now).await?;
    super::extensions::calls::assignments_reached(
        conn,
        std::slice::from_ref(a),
        ExtensionStage::AssignmentRemoved,
        None,
        now,
    )
    .await?;
    if reason != Some(RemovalReason::UserDeactivated) {
        let notice = Notice::AccessEnded {
            assignment_id: a.id,
        };
        notify::enqueue(conn, a.tenant_id, a.target_user_id, &notice, now).await?;
    }
    audit::record(
        conn,
        a.tenant_id,
        actor,
        Entry {
            action: AuditAction::RequestCreated,
            target: Target::AssignmentRequest(request.id),
            details: json!({"requestType": request.request_type, "assignmentId": a.id, "state": request.state}),
        },
        now,
    )
    .await?;
    audit::record(
        conn,
        a.tenant_id,
        actor,
        Entry {
            action: AuditAction::AssignmentEnded,
            target: Target::Assignment(a.id),
            details: json!({"state": state, "removalReason": reason, "requestId": request.id}),
        },
        now,
    )
    .await?;
    Ok(request)
}

/// After a change to `policy` whose switch says so, removes the access of holders who
/// requested it and whom the policy's scope of requestors no longer admits (reason
/// `policyChanged`); access an admin assigned directly is kept. Returns the removed
/// assignments.
#[tracing::instrument(skip_all, fields(policy = %policy.id))]
pub(crate) async fn remove_out_of_scope(
    conn: &mut Conn,
    policy: &crate::db::packages::Policy,
    externally_visible: bool,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<AssignmentId>> {
    let settings = &policy.settings.0;
    if !settings.requestors.remove_when_out_of_scope {
        return Ok(Vec::new());
    }
    let mut removed = Vec::new();
    for mut a in
        db::assignments::lock_requested_under_policy(conn, policy.tenant_id, policy.id).await?
    {
        let scope = super::scope::Scope {
            settings,
            externally_visible,
        };
        if super::scope::end_if_outside(conn, &mut a, scope, RemovalReason::PolicyChanged, now)
            .await?
        {
            removed.push(a.id);
        }
    }
    Ok(removed)
}

/// Whether the caller may see this assignment: its holder, or who manages its catalog.
async fn catalog_of(
    conn: &mut Conn,
    tenant: TenantId,
    a: &AssignmentRow,
) -> ServiceResult<CatalogId> {
    db::packages::get(conn, tenant, a.package_id)
        .await?
        .map(|p| p.catalog_id)
        .ok_or(ServiceError::Domain(DomainError::NotFound(
            "access package",
        )))
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
) -> ServiceResult<AssignmentView> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let a = db::assignments::get(&mut conn, tenant, id)
        .await?
        .ok_or(ServiceError::Domain(DomainError::NotFound("assignment")))?;
    if a.target_user_id != caller.user_id() {
        let catalog = catalog_of(&mut conn, tenant, &a).await?;
        if !caller.roles.allows(Action::ManageAssignments(catalog))
            && !caller.roles.allows(Action::ReadCatalog(catalog))
        {
            return Err(DomainError::NotFound("assignment").into());
        }
    }
    Ok(views(&mut conn, tenant, vec![a]).await?.remove(0))
}

pub struct ListQuery<'a> {
    pub mine: bool,
    pub package: Option<crate::domain::ids::PackageId>,
    pub target: Option<UserId>,
    pub state: Option<&'a str>,
}

/// Assignments the caller may see: their own, or all of the catalogs they manage.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    q: ListQuery<'_>,
    page: PageRequest,
) -> ServiceResult<Page<AssignmentView>> {
    let state = match q.state {
        None => None,
        Some(s) => Some(AssignmentState::parse(s).ok_or_else(|| {
            DomainError::field("state", format!("unknown assignment state '{s}'"))
        })?),
    };
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let managed: Vec<CatalogId> = caller
        .roles
        .catalogs()
        .filter(|c| {
            caller.roles.allows(Action::ManageAssignments(*c))
                || caller.roles.allows(Action::ReadCatalog(*c))
        })
        .collect();
    let mut filter = AssignmentFilter {
        package: q.package,
        target: q.target,
        state,
        catalogs: None,
    };
    if q.mine {
        filter.target = Some(caller.user_id());
        if q.target.is_some_and(|t| t != caller.user_id()) {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
    } else if !caller.roles.is_tenant_admin() {
        if managed.is_empty() {
            filter.target = Some(caller.user_id());
        } else {
            filter.catalogs = Some(&managed);
        }
    }
    let page = db::assignments::list(&mut conn, tenant, &filter, page).await?;
    let items = views(&mut conn, tenant, page.items).await?;
    Ok(Page {
        items,
        next: page.next,
    })
}

/// Retries the failed grants of an assignment (admins, assignment managers).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn reprocess(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
    now: DateTime<Utc>,
) -> ServiceResult<AssignmentView> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let a = db::assignments::lock(&mut tx, tenant, id)
        .await?
        .ok_or(ServiceError::Domain(DomainError::NotFound("assignment")))?;
    let catalog = catalog_of(&mut tx, tenant, &a).await?;
    if !caller.roles.allows(Action::ManageAssignments(catalog)) {
        if a.target_user_id == caller.user_id() || caller.roles.allows(Action::ReadCatalog(catalog))
        {
            caller.require(Action::ManageAssignments(catalog))?;
        }
        return Err(DomainError::NotFound("assignment").into());
    }
    if !a.state.may_reprocess() {
        return Err(DomainError::conflict(format!(
            "This assignment is {}; only assignments whose grants failed can be reprocessed.",
            a.state
        ))
        .into());
    }
    let failed: Vec<_> = db::assignments::grants_of(&mut tx, tenant, &[id])
        .await?
        .into_iter()
        .filter(|g| g.state == GrantState::Failed)
        .map(|g| g.resource_role_id)
        .collect();
    let targets = grants::targets(&mut tx, tenant, &failed).await?;
    grants::grant(&mut tx, &a, &targets, now).await?;
    audit::record(
        &mut tx,
        tenant,
        caller.actor(),
        Entry {
            action: AuditAction::AssignmentReprocessed,
            target: Target::Assignment(id),
            details: json!({"resourceRoleIds": failed}),
        },
        now,
    )
    .await?;
    grants::refresh_state(&mut tx, tenant, id, now).await?;
    let a = db::assignments::get(&mut tx, tenant, id)
        .await?
        .ok_or(ServiceError::Domain(DomainError::NotFound("assignment")))?;
    let view = views(&mut tx, tenant, vec![a]).await?.remove(0);
    tx.commit().await?;
    Ok(view)
}

/// One of the caller's own active assignments; else 404.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn own_active(
    conn: &mut Conn,
    caller: &Caller,
    id: AssignmentId,
) -> ServiceResult<AssignmentRow> {
    db::assignments::get(conn, caller.tenant_id(), id)
        .await?
        .filter(|a| a.target_user_id == caller.user_id())
        .filter(|a| a.state.is_active())
        .ok_or(ServiceError::Domain(DomainError::NotFound("assignment")))
}

/// A direct assignment by an admin, naming the person by email.
#[derive(Clone, Debug)]
pub struct DirectAssignment {
    pub email: String,
    pub policy_id: Option<PolicyId>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub justification: Option<String>,
}

/// Assigns the package to the user with that email (an `adminAdd` request).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn assign_directly(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    input: DirectAssignment,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let user = {
        let mut conn = pool.acquire().await?;
        principals::user_by_email(&mut conn, caller.tenant_id(), &input.email, "email").await?
    };
    requests::submit(
        pool,
        caller,
        RequestInput {
            request_type: RequestType::AdminAdd,
            access_package_id: Some(package),
            policy_id: input.policy_id,
            target_user_id: Some(user.id),
            assignment_id: None,
            justification: input.justification,
            answers: Vec::new(),
            start: input.start,
            end: input.end,
        },
        now,
    )
    .await
}

/// Submits a request of `request_type` about the existing assignment `id`.
#[allow(clippy::too_many_arguments)]
async fn request_about(
    pool: &PgPool,
    caller: &Caller,
    request_type: RequestType,
    id: AssignmentId,
    package: PackageId,
    target: Option<UserId>,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    requests::submit(
        pool,
        caller,
        RequestInput {
            request_type,
            access_package_id: Some(package),
            policy_id: None,
            target_user_id: target,
            assignment_id: Some(id),
            justification,
            answers: Vec::new(),
            start: None,
            end: None,
        },
        now,
    )
    .await
}

/// Removes an assignment (an `adminRemove` request).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn remove_assignment(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let a = get(pool, caller, id).await?.assignment;
    let ty = RequestType::AdminRemove;
    request_about(
        pool,
        caller,
        ty,
        id,
        a.package_id,
        Some(a.target_user_id),
        None,
        now,
    )
    .await
}

/// Asks to extend one of the caller's assignments (a `userUpdate` request).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn extend_access(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let package = {
        let mut conn = pool.acquire().await?;
        own_active(&mut conn, caller, id).await?.package_id
    };
    let ty = RequestType::UserUpdate;
    request_about(pool, caller, ty, id, package, None, justification, now).await
}

/// Gives up one of the caller's assignments (a `userRemove` request).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn remove_access(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let package = {
        let mut conn = pool.acquire().await?;
        own_active(&mut conn, caller, id).await?.package_id
    };
    request_about(
        pool,
        caller,
        RequestType::UserRemove,
        id,
        package,
        None,
        None,
        now,
    )
    .await
}
