//! Reading requests: one by id, lists, and an approver's approvals. A request is
//! visible to its requestor, its target, its approvers, and who manages or reads its
//! catalog; anything else reads as missing.

use sqlx::PgPool;

use super::{RequestView, not_found, views};
use crate::db::requests::{RequestFilter, RequestRow};
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::ids::{CatalogId, PackageId, RequestId, TenantId, UserId};
use crate::domain::request::RequestState;
use crate::services::{Caller, ServiceError, ServiceResult};

#[tracing::instrument(skip_all)]
pub(super) async fn view(
    conn: &mut Conn,
    tenant: TenantId,
    id: RequestId,
) -> ServiceResult<RequestView> {
    let row = db::requests::get(conn, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    views(conn, tenant, vec![row])
        .await?
        .pop()
        .ok_or_else(not_found)
}

/// May the caller see this request? Its requestor, target, approvers, and who manages
/// or reads its catalog.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub(super) async fn visible(
    conn: &mut Conn,
    caller: &Caller,
    r: &RequestRow,
) -> ServiceResult<bool> {
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

#[tracing::instrument(skip_all)]
pub(super) async fn catalog_of(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
) -> ServiceResult<CatalogId> {
    Ok(db::packages::get(conn, tenant, package)
        .await?
        .map(|p| p.catalog_id)
        .ok_or_else(|| anyhow::anyhow!("package vanished"))?)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
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

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    q: ListQuery<'_>,
    page: PageRequest,
) -> ServiceResult<Page<RequestView>> {
    let state =
        match q.state {
            None => None,
            Some(s) => Some(RequestState::parse(s).ok_or_else(|| {
                DomainError::field("state", format!("unknown request state '{s}'"))
            })?),
        };
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
        state,
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

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
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

/// The caller's own request (they are its target or its requestor); else 404.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn own(conn: &mut Conn, caller: &Caller, id: RequestId) -> ServiceResult<RequestRow> {
    db::requests::get(conn, caller.tenant_id(), id)
        .await?
        .filter(|r| {
            r.target_user_id == caller.user_id() || r.requestor_id == Some(caller.user_id())
        })
        .ok_or_else(not_found)
}

/// A request the caller approves (or approved) at some stage, with its stages; else
/// 404.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn as_approver(
    conn: &mut Conn,
    caller: &Caller,
    id: RequestId,
) -> ServiceResult<RequestView> {
    let missing = || ServiceError::Domain(DomainError::NotFound("approval"));
    let tenant = caller.tenant_id();
    let row = db::requests::get(conn, tenant, id)
        .await?
        .ok_or_else(missing)?;
    views(conn, tenant, vec![row])
        .await?
        .into_iter()
        .next()
        .filter(|v| {
            v.stages
                .iter()
                .any(|s| s.stage.approver_ids.contains(&caller.user_id().0))
        })
        .ok_or_else(missing)
}
