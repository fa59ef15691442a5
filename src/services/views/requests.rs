//! Read models of assignment requests: for the admin portal, the request list and a
//! request's page; for the requester portal, the caller's own requests and the
//! approvals that are theirs to decide.

use sqlx::PgPool;
use uuid::Uuid;

use super::missing;
use super::names::{Names, Wanted};
use crate::db::packages::Policy;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::ids::{PackageId, RequestId, TenantId};
use crate::services::extensions::history::{self, Step};
use crate::services::requests::{self, RequestView};
use crate::services::{Caller, ServiceResult, packages};

/// The package and people a request mentions: its target, requestor, approvers and
/// deciders.
fn mentioned(wanted: &mut Wanted, v: &RequestView) {
    wanted.package(v.request.package_id.0);
    wanted.user(v.request.target_user_id.0);
    if let Some(u) = v.request.requestor_id {
        wanted.user(u.0);
    }
    for s in &v.stages {
        for a in &s.stage.approver_ids {
            wanted.user(*a);
        }
        for d in &s.decisions {
            wanted.user(d.approver_id.0);
        }
    }
}

/// Names of everything the requests mention, their policies included.
async fn names_of(
    conn: &mut Conn,
    tenant: TenantId,
    views: &[RequestView],
) -> ServiceResult<Names> {
    let mut wanted = Wanted::default();
    for v in views {
        mentioned(&mut wanted, v);
        wanted.policy(v.request.policy_id);
    }
    wanted.resolve(conn, tenant).await
}

// ---------------------------------------------------------------------------------
// Admin portal

/// A page of requests with the names of their packages and people.
#[derive(Debug)]
pub struct RequestsPage {
    pub requests: Page<RequestView>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn requests_page(
    pool: &PgPool,
    caller: &Caller,
    package: Option<PackageId>,
    state: Option<&str>,
    page: PageRequest,
) -> ServiceResult<RequestsPage> {
    if !caller.roles.is_tenant_admin() && caller.roles.catalogs().next().is_none() {
        return Err(DomainError::forbidden(
            "You may not see requests here (tenant admins and the roles of a catalog only).",
        )
        .into());
    }
    let list = requests::list(
        pool,
        caller,
        requests::ListQuery {
            mine: false,
            package,
            target: None,
            state,
        },
        page,
    )
    .await?;
    let mut wanted = Wanted::default();
    for r in &list.items {
        mentioned(&mut wanted, r);
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(RequestsPage {
        requests: list,
        names,
    })
}

/// One request with its stages, decisions and every name they mention.
#[derive(Debug)]
pub struct RequestPage {
    pub request: RequestView,
    pub policy: Option<Policy>,
    pub names: Names,
    /// Its custom-extension steps, oldest first.
    pub extension_steps: Vec<Step>,
    /// The request is open and the caller may cancel it (who manages its catalog's
    /// assignments, or its requestor or target).
    pub can_cancel: bool,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn request_page(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
) -> ServiceResult<RequestPage> {
    let request = requests::get(pool, caller, id).await?;
    let policy = packages::get_policy(pool, caller, request.request.policy_id)
        .await
        .ok();
    let mut wanted = Wanted::default();
    mentioned(&mut wanted, &request);
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    let r = &request.request;
    let can_cancel = r.state.is_open() && requests::may_cancel(&mut conn, caller, r).await?;
    let extension_steps = history::steps(&mut conn, caller.tenant_id(), r.id).await?;
    Ok(RequestPage {
        extension_steps,
        can_cancel,
        request,
        policy,
        names,
    })
}

// ---------------------------------------------------------------------------------
// Requester portal

/// A page of requests with the names they mention.
pub struct RequestList {
    pub page: Page<RequestView>,
    pub names: Names,
}

/// The caller's own requests (for themselves), newest first.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn my_requests(
    pool: &PgPool,
    caller: &Caller,
    page: PageRequest,
) -> ServiceResult<RequestList> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let filter = db::requests::RequestFilter {
        involving: None,
        package: None,
        target: Some(caller.user_id()),
        state: None,
        catalogs: None,
    };
    let rows = db::requests::list(&mut conn, tenant, &filter, page).await?;
    let items = requests::views(&mut conn, tenant, rows.items).await?;
    let names = names_of(&mut conn, tenant, &items).await?;
    Ok(RequestList {
        page: Page {
            items,
            next: rows.next,
        },
        names,
    })
}

/// One request with the names it mentions.
pub struct RequestDetail {
    pub view: RequestView,
    pub names: Names,
    /// Its custom-extension steps, oldest first.
    pub extension_steps: Vec<Step>,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn my_request(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
) -> ServiceResult<RequestDetail> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let row = requests::own(&mut conn, caller, id).await?;
    let views = requests::views(&mut conn, tenant, vec![row]).await?;
    let names = names_of(&mut conn, tenant, &views).await?;
    let view = views
        .into_iter()
        .next()
        .ok_or_else(|| missing("assignment request"))?;
    let extension_steps = history::steps(&mut conn, tenant, view.request.id).await?;
    Ok(RequestDetail {
        view,
        names,
        extension_steps,
    })
}

/// The caller's approvals (pending or decided) with the names they mention.
pub struct ApprovalList {
    pub items: Vec<(i32, RequestView)>,
    pub next: Option<Uuid>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn approvals(
    pool: &PgPool,
    caller: &Caller,
    decided: bool,
    page: PageRequest,
) -> ServiceResult<ApprovalList> {
    let found = requests::approvals(pool, caller, decided, page).await?;
    let items: Vec<(i32, RequestView)> = found
        .items
        .into_iter()
        .map(|a| (a.stage_index, a.request))
        .collect();
    let views: Vec<RequestView> = items.iter().map(|(_, v)| v.clone()).collect();
    let mut conn = pool.acquire().await?;
    let names = names_of(&mut conn, caller.tenant_id(), &views).await?;
    Ok(ApprovalList {
        items,
        next: found.next,
        names,
    })
}

/// A request the caller approves (or approved) at some stage; else 404.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn approval(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
) -> ServiceResult<RequestDetail> {
    let mut conn = pool.acquire().await?;
    let view = requests::as_approver(&mut conn, caller, id).await?;
    let names = names_of(&mut conn, caller.tenant_id(), std::slice::from_ref(&view)).await?;
    Ok(RequestDetail {
        view,
        names,
        extension_steps: Vec::new(),
    })
}
