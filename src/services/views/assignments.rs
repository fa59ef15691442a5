//! Read models of assignments: for the admin portal, a package's assignments; for the
//! requester portal, the caller's own active access.

use sqlx::PgPool;

use super::missing;
use super::names::{Names, Wanted};
use super::packages::{PackagePage, package_page};
use crate::db::assignments::AssignmentRow;
use crate::db::packages::Policy;
use crate::db::{self, Page, PageRequest};
use crate::domain::ids::{AssignmentId, PackageId};
use crate::services::assignments::{self, AssignmentView};
use crate::services::{Caller, ServiceResult};

/// The assignments of a package.
#[derive(Debug)]
pub struct AssignmentsPage {
    pub package: PackagePage,
    pub assignments: Page<AssignmentView>,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn assignments_page(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    state: Option<&str>,
    page: PageRequest,
) -> ServiceResult<AssignmentsPage> {
    let mut p = package_page(pool, caller, package).await?;
    let list = assignments::list(
        pool,
        caller,
        assignments::ListQuery {
            mine: false,
            package: Some(package),
            target: None,
            state,
        },
        page,
    )
    .await?;
    let mut wanted = Wanted::default();
    for a in &list.items {
        wanted.user(a.assignment.target_user_id.0);
    }
    let mut conn = pool.acquire().await?;
    let more = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    p.names.extend(more);
    for pol in &p.policies {
        p.names.add_policy(pol.clone());
    }
    Ok(AssignmentsPage {
        package: p,
        assignments: list,
    })
}

// ---------------------------------------------------------------------------------
// Requester portal

/// How many ended assignments My Access lists.
pub const ENDED_SHOWN: i64 = 200;

/// The caller's active (or ended) assignments with their packages and policies.
pub struct AccessList {
    pub items: Vec<AssignmentRow>,
    pub names: Names,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn my_access(pool: &PgPool, caller: &Caller, ended: bool) -> ServiceResult<AccessList> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let items = if ended {
        db::assignments::ended_of_user(&mut conn, tenant, caller.user_id(), ENDED_SHOWN).await?
    } else {
        let mut items =
            db::assignments::active_of_user(&mut conn, tenant, caller.user_id()).await?;
        items.reverse();
        items
    };
    let mut wanted = Wanted::default();
    for a in &items {
        wanted.package(a.package_id.0);
        wanted.policy(a.policy_id);
    }
    let names = wanted.resolve(&mut conn, tenant).await?;
    Ok(AccessList { items, names })
}

/// One of the caller's active assignments (extend and remove pages).
pub struct AccessDetail {
    pub assignment: AssignmentRow,
    pub package: String,
    pub policy: Policy,
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn my_assignment(
    pool: &PgPool,
    caller: &Caller,
    id: AssignmentId,
) -> ServiceResult<AccessDetail> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    let assignment = assignments::own_active(&mut conn, caller, id).await?;
    let package = db::packages::get(&mut conn, tenant, assignment.package_id)
        .await?
        .map(|p| p.display_name)
        .unwrap_or_default();
    let policy = db::packages::get_policy(&mut conn, tenant, assignment.policy_id)
        .await?
        .ok_or_else(|| missing("assignment"))?;
    Ok(AccessDetail {
        assignment,
        package,
        policy,
    })
}
