//! Assignment policies of access packages: who may request, the approval stages, the
//! questions, expiration and reviews. A policy with active assignments, open requests
//! or request history cannot be deleted (disable its requests instead). The policies
//! of an archived package are read-only.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::types::Json;

use super::{
    PolicyInput, ensure_live, history_conflict, is_history_fkey, load_visible, open_work_conflict,
};
use crate::db::packages::Policy;
use crate::db::{self, Conn, DbError, Page, PageRequest};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{Action, Permit};
use crate::domain::ids::{CatalogId, GroupId, PackageId, PolicyId, TenantId, UserId};
use crate::domain::policy::{PolicySettings, PrincipalKind};
use crate::domain::values::DisplayName;
use crate::domain::{DomainError, FieldErrors};
use crate::services::tx::Work;
use crate::services::versions;
use crate::services::{Caller, ServiceError, ServiceResult, validated};

fn policy_not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("policy"))
}

const POLICY_HISTORY: &str = "This policy has a request history; set requestsEnabled to false (or change its requestors) instead.";

/// A policy's package the caller cannot see reads as a missing policy.
fn as_policy_not_found(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Domain(DomainError::NotFound(_)) => policy_not_found(),
        other => other,
    }
}

fn policy_json(p: &Policy) -> Value {
    json!({"accessPackageId": p.package_id, "displayName": p.display_name, "settings": p.settings.0})
}

/// Checks the name and settings of a policy, and that every user and group it names
/// exists in the tenant; returns the parsed name.
async fn check_policy(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
    input: &PolicyInput,
    previous: Option<&PolicySettings>,
    now: DateTime<Utc>,
) -> ServiceResult<String> {
    let mut errors = FieldErrors::new();
    let name = match &input.display_name {
        None => {
            errors.add("displayName", "a display name is required");
            None
        }
        Some(n) => errors.check("displayName", DisplayName::parse(n)),
    };
    for (field, message) in input.settings.validate(now, previous).0 {
        errors.add(field, message);
    }
    let refs = input.settings.referenced_principals();
    let user_ids: Vec<UserId> = refs
        .iter()
        .filter(|(_, k, _)| *k == PrincipalKind::User)
        .map(|(_, _, id)| UserId(*id))
        .collect();
    let group_ids: Vec<GroupId> = refs
        .iter()
        .filter(|(_, k, _)| *k == PrincipalKind::Group)
        .map(|(_, _, id)| GroupId(*id))
        .collect();
    let users = if user_ids.is_empty() {
        Vec::new()
    } else {
        db::users::get_many(conn, tenant, &user_ids).await?
    };
    let groups = if group_ids.is_empty() {
        Vec::new()
    } else {
        db::groups::get_many(conn, tenant, &group_ids).await?
    };
    for (field, kind, id) in refs {
        match kind {
            PrincipalKind::User if !users.iter().any(|u| u.id.0 == id) => {
                errors.add(field, format!("there is no user with id {id}"));
            }
            PrincipalKind::Group if !groups.iter().any(|g| g.id.0 == id) => {
                errors.add(field, format!("there is no group with id {id}"));
            }
            _ => {}
        }
    }
    crate::services::extensions::check_policy(
        conn,
        tenant,
        catalog,
        &input.settings.custom_extensions,
        &mut errors,
    )
    .await?;
    validated(errors)?;
    Ok(name.map(DisplayName::into_string).unwrap_or_default())
}

/// Policies of a package the caller may see, newest first.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list_policies(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    page: PageRequest,
) -> ServiceResult<Page<Policy>> {
    let mut conn = pool.acquire().await?;
    load_visible(&mut conn, caller, package).await?;
    Ok(db::packages::list_policies(&mut conn, caller.tenant_id(), package, page).await?)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get_policy(pool: &PgPool, caller: &Caller, id: PolicyId) -> ServiceResult<Policy> {
    let mut conn = pool.acquire().await?;
    let policy = db::packages::get_policy(&mut conn, caller.tenant_id(), id)
        .await?
        .ok_or_else(policy_not_found)?;
    load_visible(&mut conn, caller, policy.package_id)
        .await
        .map_err(as_policy_not_found)?;
    Ok(policy)
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, package = %package_id))]
pub async fn create_policy(
    pool: &PgPool,
    caller: &Caller,
    package_id: PackageId,
    input: PolicyInput,
    now: DateTime<Utc>,
) -> ServiceResult<Policy> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = create_policy_in(&mut work, caller, package_id, input).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `create_policy`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, package = %package_id))]
pub(crate) async fn create_policy_in(
    work: &mut Work,
    caller: &Caller,
    package_id: PackageId,
    input: PolicyInput,
) -> ServiceResult<(Policy, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    let (package, catalog) = load_visible(work.conn(), caller, package_id).await?;
    let permit = caller.require(Action::ManagePackages(catalog.id))?;
    ensure_live(&package)?;
    let display_name = check_policy(work.conn(), tenant, catalog.id, &input, None, now).await?;
    let mut settings = input.settings;
    settings.assign_question_ids();
    let policy = Policy {
        tenant_id: tenant,
        id: PolicyId::new(),
        package_id,
        display_name,
        settings: Json(settings),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    db::packages::insert_policy(work.conn(), &policy).await?;
    work.audit(
        AuditAction::PolicyCreated,
        Target::Policy(policy.id),
        json!({"after": policy_json(&policy)}),
    );
    Ok((policy, permit))
}

/// Replaces a policy in place (same id); open requests and active assignments stay
/// under it, and questions sent with an id keep it.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn replace_policy(
    pool: &PgPool,
    caller: &Caller,
    id: PolicyId,
    input: PolicyInput,
    now: DateTime<Utc>,
) -> ServiceResult<Policy> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = replace_policy_in(&mut work, caller, id, input).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `replace_policy`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub(crate) async fn replace_policy_in(
    work: &mut Work,
    caller: &Caller,
    id: PolicyId,
    input: PolicyInput,
) -> ServiceResult<(Policy, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    let before = db::packages::get_policy(work.conn(), tenant, id)
        .await?
        .ok_or_else(policy_not_found)?;
    let (package, catalog) = load_visible(work.conn(), caller, before.package_id)
        .await
        .map_err(as_policy_not_found)?;
    let permit = caller.require(Action::ManagePackages(catalog.id))?;
    ensure_live(&package)?;
    let target = Target::Policy(id);
    versions::check(
        work.conn(),
        tenant,
        target,
        "policy",
        before.version,
        input.expected_version,
    )
    .await?;
    let display_name = check_policy(
        work.conn(),
        tenant,
        catalog.id,
        &input,
        Some(&before.settings.0),
        now,
    )
    .await?;
    let mut settings = input.settings;
    settings.assign_question_ids();
    let after = Policy {
        display_name,
        settings: Json(settings),
        updated_at: now,
        ..before.clone()
    };
    if !db::packages::update_policy(work.conn(), &after).await? {
        return Err(versions::stale(work.conn(), tenant, target, "policy")
            .await?
            .into());
    }
    let after = Policy {
        version: after.version + 1,
        ..after
    };
    let removed = crate::services::assignments::remove_out_of_scope(
        work.conn(),
        &after,
        catalog.externally_visible,
        now,
    )
    .await?;
    work.audit(
        AuditAction::PolicyUpdated,
        Target::Policy(id),
        json!({"before": policy_json(&before), "after": policy_json(&after), "assignmentsRemoved": removed}),
    );
    Ok((after, permit))
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn delete_policy(
    pool: &PgPool,
    caller: &Caller,
    id: PolicyId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = delete_policy_in(&mut work, caller, id).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `delete_policy`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub(crate) async fn delete_policy_in(
    work: &mut Work,
    caller: &Caller,
    id: PolicyId,
) -> ServiceResult<((), Permit)> {
    let tenant = caller.tenant_id();
    let policy = db::packages::get_policy(work.conn(), tenant, id)
        .await?
        .ok_or_else(policy_not_found)?;
    let (package, catalog) = load_visible(work.conn(), caller, policy.package_id)
        .await
        .map_err(as_policy_not_found)?;
    let permit = caller.require(Action::ManagePackages(catalog.id))?;
    ensure_live(&package)?;
    let (assignments, requests) =
        db::packages::open_work(work.conn(), tenant, policy.package_id, Some(id)).await?;
    if assignments > 0 || requests > 0 {
        return Err(open_work_conflict("policy", assignments, requests));
    }
    db::packages::delete_policy(work.conn(), tenant, id)
        .await
        .map_err(|e| match e {
            DbError::ForeignKey(ref c) if is_history_fkey(c) => history_conflict(POLICY_HISTORY),
            other => other.into(),
        })?;
    work.audit(
        AuditAction::PolicyDeleted,
        Target::Policy(id),
        json!({"before": policy_json(&policy)}),
    );
    Ok(((), permit))
}
