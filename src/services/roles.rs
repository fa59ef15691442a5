//! Role assignments (DOMAIN.md §3): tenant admins grant every role; a catalog owner
//! grants the catalog-scoped roles of their own catalog.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::views::names::{Names, Wanted};
use super::{Caller, ServiceError, ServiceResult, principals, rename_field, validated};
use crate::db::roles::RoleAssignment;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{self, Action, Permit, Role, RoleGrant, Roles};
use crate::domain::ids::{CatalogId, GroupId, RoleAssignmentId, TenantId, UserId};
use crate::domain::{DomainError, FieldErrors};
use crate::services::tx::Work;

/// Who holds a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    User(UserId),
    Group(GroupId),
}

pub struct NewRoleAssignment {
    pub role: Role,
    pub principal: Principal,
    pub catalog_id: Option<CatalogId>,
}

/// The roles of `user`, directly or through groups.
#[tracing::instrument(skip_all)]
pub async fn roles_of(conn: &mut db::Conn, tenant: TenantId, user: UserId) -> ServiceResult<Roles> {
    let grants = db::roles::grants_of_user(conn, tenant, user)
        .await?
        .into_iter()
        .filter_map(|(role, catalog)| Role::parse(&role).map(|role| RoleGrant { role, catalog }))
        .collect();
    Ok(Roles::new(grants))
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    input: NewRoleAssignment,
    now: DateTime<Utc>,
) -> ServiceResult<RoleAssignment> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = create_in(&mut work, caller, input).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `create`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub(crate) async fn create_in(
    work: &mut Work,
    caller: &Caller,
    input: NewRoleAssignment,
) -> ServiceResult<(RoleAssignment, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    let mut errors = FieldErrors::new();
    match (input.role.is_catalog_scoped(), input.catalog_id) {
        (true, None) => errors.add(
            "catalogId",
            format!("the role {} needs a catalogId", input.role.as_str()),
        ),
        (false, Some(_)) => errors.add(
            "catalogId",
            format!(
                "the role {} is tenant-wide and takes no catalogId",
                input.role.as_str()
            ),
        ),
        _ => {}
    }
    validated(errors.clone())?;
    let permit = caller.require(Action::GrantRole(input.role, input.catalog_id))?;
    if let Some(catalog) = input.catalog_id
        && db::catalogs::get(work.conn(), tenant, catalog)
            .await?
            .is_none()
    {
        errors.add(
            "catalogId",
            format!("there is no catalog with id {catalog}"),
        );
    }
    let (user_id, group_id) = match input.principal {
        Principal::User(u) => {
            if db::users::get(work.conn(), tenant, u).await?.is_none() {
                errors.add("principal.id", format!("there is no user with id {u}"));
            }
            (Some(u), None)
        }
        Principal::Group(g) => {
            if db::groups::get(work.conn(), tenant, g).await?.is_none() {
                errors.add("principal.id", format!("there is no group with id {g}"));
            }
            (None, Some(g))
        }
    };
    validated(errors)?;
    let row = RoleAssignment {
        tenant_id: tenant,
        id: RoleAssignmentId::new(),
        role: input.role,
        user_id,
        group_id,
        catalog_id: input.catalog_id,
        created_at: now,
    };
    db::roles::insert(work.conn(), &row).await?;
    work.audit(AuditAction::RoleAssignmentCreated, Target::RoleAssignment(row.id), json!({"role": row.role, "userId": user_id, "groupId": group_id, "catalogId": row.catalog_id}));
    Ok((row, permit))
}

/// Role assignments the caller may see: all for tenant admins, their catalogs' for
/// catalog owners and readers.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    page: PageRequest,
) -> ServiceResult<Page<RoleAssignment>> {
    let mut conn = pool.acquire().await?;
    let tenant = caller.tenant_id();
    if caller.roles.allows(Action::ReadRoles(None)) {
        return Ok(db::roles::list(&mut conn, tenant, None, page).await?);
    }
    let visible: Vec<CatalogId> = caller
        .roles
        .catalogs()
        .filter(|c| caller.roles.allows(Action::ReadRoles(Some(*c))))
        .collect();
    if visible.is_empty() {
        caller.require(Action::ReadRoles(None))?;
    }
    Ok(db::roles::list(&mut conn, tenant, Some(&visible), page).await?)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn delete(
    pool: &PgPool,
    caller: &Caller,
    id: RoleAssignmentId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = delete_in(&mut work, caller, id).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `delete`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub(crate) async fn delete_in(
    work: &mut Work,
    caller: &Caller,
    id: RoleAssignmentId,
) -> ServiceResult<((), Permit)> {
    let tenant = caller.tenant_id();
    let row = db::roles::get(work.conn(), tenant, id)
        .await?
        .ok_or(ServiceError::Domain(DomainError::NotFound(
            "role assignment",
        )))?;
    let role = row.role;
    let permit = caller.require(Action::GrantRole(role, row.catalog_id))?;
    if role == Role::TenantAdmin
        && let Some(user) = row.user_id
    {
        ensure_an_admin_remains(work.conn(), tenant, user, "removing it").await?;
    }
    db::roles::delete(work.conn(), tenant, id).await?;
    work.audit(AuditAction::RoleAssignmentDeleted, Target::RoleAssignment(id), json!({"role": row.role, "userId": row.user_id, "groupId": row.group_id, "catalogId": row.catalog_id}));
    Ok(((), permit))
}

/// Who a role is granted to, as typed in a form: a user's email or a group's exact name.
#[derive(Clone, Debug)]
pub struct GrantInput {
    pub role: Option<String>,
    pub principal: String,
}

/// Grants a catalog role to the user with that email (or the group with that exact
/// name).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn grant_catalog_role(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
    input: GrantInput,
    now: DateTime<Utc>,
) -> ServiceResult<RoleAssignment> {
    let role = input
        .role
        .as_deref()
        .and_then(Role::parse)
        .filter(|r| r.is_catalog_scoped())
        .ok_or_else(|| DomainError::field("role", "choose one of the catalog roles"))?;
    let principal =
        principals::resolve_principal(pool, caller, &input.principal, "principal").await?;
    create(
        pool,
        caller,
        NewRoleAssignment {
            role,
            principal,
            catalog_id: Some(catalog),
        },
        now,
    )
    .await
    .map_err(|e| rename_field(e, "principal.id", "principal"))
}

/// Grants a tenant-wide role (tenant admin, catalog creator) to the user with that
/// email (or the group with that exact name).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn grant_tenant_role(
    pool: &PgPool,
    caller: &Caller,
    input: GrantInput,
    now: DateTime<Utc>,
) -> ServiceResult<RoleAssignment> {
    let role = input
        .role
        .as_deref()
        .and_then(Role::parse)
        .filter(|r| !r.is_catalog_scoped())
        .ok_or_else(|| DomainError::field("role", "choose one of the tenant-wide roles"))?;
    caller.require(Action::GrantRole(role, None))?;
    let principal =
        principals::resolve_principal(pool, caller, &input.principal, "principal").await?;
    create(
        pool,
        caller,
        NewRoleAssignment {
            role,
            principal,
            catalog_id: None,
        },
        now,
    )
    .await
    .map_err(|e| rename_field(e, "principal.id", "principal"))
}

/// The tenant-wide role grants (tenant admins, catalog creators) with the names of
/// who holds them; tenant admins only.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn tenant_grants(
    pool: &PgPool,
    caller: &Caller,
) -> ServiceResult<(Vec<RoleAssignment>, Names)> {
    caller.require(Action::GrantRole(Role::TenantAdmin, None))?;
    let mut conn = pool.acquire().await?;
    let tenant = caller.tenant_id();
    let grants = db::roles::tenant_wide(&mut conn, tenant).await?;
    let mut wanted = Wanted::default();
    for r in &grants {
        if let Some(u) = r.user_id {
            wanted.user(u.0);
        }
        if let Some(g) = r.group_id {
            wanted.group(g.0);
        }
    }
    let names = wanted.resolve(&mut conn, tenant).await?;
    Ok((grants, names))
}

/// Refuses (409) what would leave the tenant without an active admin: `leaving`
/// deactivated, or losing a tenant-admin role. Takes the tenant's admin lock first, so
/// two such changes at once are counted one after the other.
#[tracing::instrument(skip_all)]
pub(crate) async fn ensure_an_admin_remains(
    conn: &mut Conn,
    tenant: TenantId,
    leaving: UserId,
    doing: &str,
) -> ServiceResult<()> {
    db::tenants::lock_admins(conn, tenant).await?;
    let admins = db::roles::active_holders(conn, tenant, Role::TenantAdmin.as_str(), None).await?;
    Ok(authz::an_admin_remains(&admins, leaving, doing)?)
}
