//! Custom extensions of a catalog (INTEGRATIONS.md §4): who may see and change them
//! (the catalog's readers and editors, as for its resources), their checks (the
//! address rule of webhooks, a timeout of 1–1440 minutes) and their write-only secret,
//! sealed at rest and bound to the tenant and the extension. An extension a policy
//! calls cannot be deleted (409 naming the policies). `calls` queues the calls a
//! request's life makes; `delivery` records how their sending went; `requests::callback` resumes and times
//! out the requests they hold.

pub mod calls;
pub mod delivery;
pub mod history;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::catalogs::{MIN_SECRET, check_webhook_url, load};
use super::tx::Work;
use super::{Caller, ServiceError, ServiceResult, validated};
use crate::crypto::Keys;
use crate::db::extensions::ExtensionRow;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{Action, Permit};
use crate::domain::extension::{
    CallbackOutcome, ExtensionBehavior, ExtensionStage, StageExtension, check_stage_fit,
    check_timeout,
};
use crate::domain::ids::{CatalogId, ExtensionId, TenantId};
use crate::domain::lifecycle::Holds;
use crate::domain::policy::PolicySettings;
use crate::domain::values::DisplayName;
use crate::domain::{DomainError, FieldErrors};

const MAX_SECRET: usize = 1024;

/// An extension as a client sends it; on update a blank secret keeps the stored one.
#[derive(Debug, Default, Clone)]
pub struct ExtensionInput {
    pub display_name: Option<String>,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub behavior: Option<ExtensionBehavior>,
    pub timeout_minutes: Option<i64>,
    pub on_timeout: Option<CallbackOutcome>,
}

fn not_found() -> ServiceError {
    ServiceError::Domain(DomainError::NotFound("custom extension"))
}

/// What an extension's sealed secret is bound to.
pub fn secret_context(tenant: TenantId, id: ExtensionId) -> String {
    format!("custom_extensions.secret/{tenant}/{id}")
}

/// An extension as it leaves the services: without its secret.
fn shown(mut e: ExtensionRow) -> ExtensionRow {
    e.secret = String::new();
    e
}

/// The audit form of an extension: everything but the secret.
fn audit_json(e: &ExtensionRow) -> Value {
    json!({"catalogId": e.catalog_id, "displayName": e.display_name, "url": e.url,
           "behavior": e.behavior, "timeoutMinutes": e.timeout_minutes, "onTimeout": e.on_timeout})
}

/// The checked fields: (name, url, new secret if any).
async fn check(
    input: &ExtensionInput,
    creating: bool,
    allow_private: bool,
    errors: &mut FieldErrors,
) -> (String, String, Option<String>) {
    let name = match &input.display_name {
        None => {
            errors.add("displayName", "a display name is required");
            String::new()
        }
        Some(n) => errors
            .check("displayName", DisplayName::parse(n))
            .map(DisplayName::into_string)
            .unwrap_or_default(),
    };
    let url = match check_webhook_url(input.url.as_deref().unwrap_or_default(), allow_private).await
    {
        Ok(u) => u,
        Err(e) => {
            errors.add("url", e.replace("webhook URL", "extension URL"));
            String::new()
        }
    };
    let secret = input
        .secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match secret {
        None if creating => errors.add(
            "secret",
            format!("a signing secret of at least {MIN_SECRET} characters is required"),
        ),
        Some(s) if s.chars().count() < MIN_SECRET => errors.add(
            "secret",
            format!("a signing secret has at least {MIN_SECRET} characters"),
        ),
        Some(s) if s.chars().count() > MAX_SECRET => errors.add(
            "secret",
            format!("a signing secret has at most {MAX_SECRET} characters"),
        ),
        _ => {}
    }
    if input.behavior.is_none() {
        errors.add("behavior", "choose fireAndForget or waitForCallback");
    }
    if input.on_timeout.is_none() {
        errors.add("onTimeout", "choose continue or deny");
    }
    (name, url, secret.map(str::to_string))
}

/// The checks of an extension's fields that need no database (configuration as code
/// runs them before anything is written).
#[tracing::instrument(skip_all)]
pub(crate) async fn check_input(
    input: &ExtensionInput,
    creating: bool,
    allow_private: bool,
    errors: &mut FieldErrors,
) {
    check(input, creating, allow_private, errors).await;
    check_timeout(input.timeout_minutes, errors);
}

/// The extensions of a catalog (its readers).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
    page: PageRequest,
) -> ServiceResult<Page<ExtensionRow>> {
    let tenant = caller.tenant_id();
    let mut conn = pool.acquire().await?;
    load(&mut conn, tenant, catalog).await?;
    caller.require(Action::ReadCatalog(catalog))?;
    Ok(db::extensions::list(&mut conn, tenant, catalog, page)
        .await?
        .map(shown))
}

/// One extension (readers of its catalog).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn get(pool: &PgPool, caller: &Caller, id: ExtensionId) -> ServiceResult<ExtensionRow> {
    let mut conn = pool.acquire().await?;
    let e = db::extensions::get(&mut conn, caller.tenant_id(), id)
        .await?
        .ok_or_else(not_found)?;
    caller.require(Action::ReadCatalog(e.catalog_id))?;
    Ok(shown(e))
}

/// The extension `id` of `catalog` (404 when it belongs to another catalog, as in a
/// page address naming both).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog, id = %id))]
pub async fn get_in_catalog(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
    id: ExtensionId,
) -> ServiceResult<ExtensionRow> {
    let e = get(pool, caller, id).await?;
    if e.catalog_id != catalog {
        return Err(not_found());
    }
    Ok(e)
}

/// Adds an extension to a catalog (tenant admins and the catalog's owners).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog))]
pub async fn create(
    pool: &PgPool,
    caller: &Caller,
    catalog: CatalogId,
    input: ExtensionInput,
    allow_private: bool,
    keys: &Keys,
    now: DateTime<Utc>,
) -> ServiceResult<ExtensionRow> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = create_in(&mut work, caller, catalog, input, allow_private, keys).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `create`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog))]
pub(crate) async fn create_in(
    work: &mut Work,
    caller: &Caller,
    catalog: CatalogId,
    input: ExtensionInput,
    allow_private: bool,
    keys: &Keys,
) -> ServiceResult<(ExtensionRow, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    {
        let conn = work.conn();
        load(conn, tenant, catalog).await?;
    }
    let permit = caller.require(Action::EditCatalog(catalog))?;
    let mut errors = FieldErrors::new();
    let (display_name, url, secret) = check(&input, true, allow_private, &mut errors).await;
    let timeout_minutes = check_timeout(input.timeout_minutes, &mut errors);
    validated(errors)?;
    let (Some(behavior), Some(on_timeout), Some(secret)) =
        (input.behavior, input.on_timeout, secret)
    else {
        return Err(anyhow::anyhow!("a checked extension lacks a field").into());
    };
    let id = ExtensionId::new();
    let row = ExtensionRow {
        tenant_id: tenant,
        id,
        catalog_id: catalog,
        display_name,
        url,
        secret: keys.seal(&secret, &secret_context(tenant, id)),
        behavior,
        timeout_minutes,
        on_timeout,
        created_at: now,
        updated_at: now,
    };
    load(work.conn(), tenant, catalog).await?;
    db::extensions::insert(work.conn(), &row).await?;
    work.audit(
        AuditAction::CustomExtensionCreated,
        Target::CustomExtension(id),
        audit_json(&row),
    );
    Ok((shown(row), permit))
}

/// Replaces an extension's fields (its catalog's editors); a blank secret keeps the
/// stored one. An extension that a policy calls at a stage with no request to hold
/// cannot become a waiting one (422 naming the policies).
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    id: ExtensionId,
    input: ExtensionInput,
    allow_private: bool,
    keys: &Keys,
    now: DateTime<Utc>,
) -> ServiceResult<ExtensionRow> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = update_in(&mut work, caller, id, input, allow_private, keys).await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `update`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub(crate) async fn update_in(
    work: &mut Work,
    caller: &Caller,
    id: ExtensionId,
    input: ExtensionInput,
    allow_private: bool,
    keys: &Keys,
) -> ServiceResult<(ExtensionRow, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    let before = {
        let conn = work.conn();
        db::extensions::get(conn, tenant, id)
            .await?
            .ok_or_else(not_found)?
    };
    let permit = caller.require(Action::EditCatalog(before.catalog_id))?;
    let mut errors = FieldErrors::new();
    let (display_name, url, secret) = check(&input, false, allow_private, &mut errors).await;
    let timeout_minutes = check_timeout(input.timeout_minutes, &mut errors);
    validated(errors)?;
    let (Some(behavior), Some(on_timeout)) = (input.behavior, input.on_timeout) else {
        return Err(anyhow::anyhow!("a checked extension lacks a field").into());
    };
    let current = db::extensions::lock(work.conn(), tenant, id)
        .await?
        .ok_or_else(not_found)?;
    if behavior == ExtensionBehavior::WaitForCallback {
        let stages: Vec<ExtensionStage> = ExtensionStage::ALL
            .iter()
            .copied()
            .filter(|s| !s.can_wait())
            .collect();
        let users = db::extensions::policies_using(work.conn(), tenant, id, Some(&stages)).await?;
        if !users.is_empty() {
            return Err(DomainError::field(
                "behavior",
                format!(
                    "{} call this extension where there is no request to hold; only a fireAndForget extension can be called there",
                    describe_uses(&users)
                ),
            )
            .into());
        }
    }
    let replaced = secret.is_some();
    let row = ExtensionRow {
        display_name,
        url,
        secret: match secret {
            Some(s) => keys.seal(&s, &secret_context(tenant, id)),
            None => current.secret.clone(),
        },
        behavior,
        timeout_minutes,
        on_timeout,
        updated_at: now,
        ..current.clone()
    };
    db::extensions::update(work.conn(), &row).await?;
    work.audit(
        AuditAction::CustomExtensionUpdated,
        Target::CustomExtension(id),
        json!({"before": audit_json(&current), "after": audit_json(&row), "secretReplaced": replaced}),
    );
    Ok((shown(row), permit))
}

/// "the policy “Employees” of “Laptop”, …".
fn describe_uses(uses: &[db::extensions::PolicyUse]) -> String {
    let named: Vec<String> = uses
        .iter()
        .map(|(_, policy, package)| {
            format!("the policy “{policy}” of the access package “{package}”")
        })
        .collect();
    named.join(", ")
}

/// Deletes an extension (its catalog's editors); 409 while a policy calls it.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn delete(
    pool: &PgPool,
    caller: &Caller,
    id: ExtensionId,
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
    id: ExtensionId,
) -> ServiceResult<((), Permit)> {
    let tenant = caller.tenant_id();
    let current = db::extensions::lock(work.conn(), tenant, id)
        .await?
        .ok_or_else(not_found)?;
    let permit = caller.require(Action::EditCatalog(current.catalog_id))?;
    let users = db::extensions::policies_using(work.conn(), tenant, id, None).await?;
    if !users.is_empty() {
        return Err(DomainError::conflict(format!(
            "This extension is called by {}; choose another extension (or none) there first.",
            describe_uses(&users)
        ))
        .into());
    }
    db::extensions::delete(work.conn(), tenant, id).await?;
    work.audit(
        AuditAction::CustomExtensionDeleted,
        Target::CustomExtension(id),
        audit_json(&current),
    );
    Ok(((), permit))
}

/// Checks a policy's `customExtensions` for the package's catalog: one per stage, each
/// an extension of that catalog, a waiting one only where a request can be held.
#[tracing::instrument(skip_all)]
pub async fn check_policy(
    conn: &mut Conn,
    tenant: TenantId,
    catalog: CatalogId,
    list: &[StageExtension],
    errors: &mut FieldErrors,
) -> ServiceResult<()> {
    let ids: Vec<ExtensionId> = list.iter().map(|s| ExtensionId(s.extension_id)).collect();
    let found = db::extensions::get_many(conn, tenant, &ids).await?;
    for (i, item) in list.iter().enumerate() {
        let path = format!("customExtensions[{i}].extensionId");
        match found
            .iter()
            .find(|e| e.id.0 == item.extension_id && e.catalog_id == catalog)
        {
            None => errors.add(
                path,
                format!(
                    "there is no custom extension with id {} in this package's catalog",
                    item.extension_id
                ),
            ),
            Some(e) => {
                if let Err(message) = check_stage_fit(item.stage, e.behavior) {
                    errors.add(path, message);
                }
            }
        }
    }
    Ok(())
}

/// The extension a policy calls at `stage`, if any (and if it still exists).
#[tracing::instrument(skip_all)]
pub async fn at_stage(
    conn: &mut Conn,
    tenant: TenantId,
    settings: &PolicySettings,
    stage: ExtensionStage,
) -> ServiceResult<Option<ExtensionRow>> {
    let Some(item) = settings.custom_extensions.iter().find(|s| s.stage == stage) else {
        return Ok(None);
    };
    Ok(db::extensions::get(conn, tenant, ExtensionId(item.extension_id)).await?)
}

/// Where a policy's waiting extensions hold its requests.
#[tracing::instrument(skip_all)]
pub async fn holds(
    conn: &mut Conn,
    tenant: TenantId,
    settings: &PolicySettings,
) -> ServiceResult<Holds> {
    let mut holds = Holds::default();
    for stage in [
        ExtensionStage::RequestCreated,
        ExtensionStage::RequestApproved,
    ] {
        let waits = at_stage(conn, tenant, settings, stage)
            .await?
            .is_some_and(|e| e.behavior == ExtensionBehavior::WaitForCallback);
        match stage {
            ExtensionStage::RequestCreated => holds.created = waits,
            _ => holds.approved = waits,
        }
    }
    Ok(holds)
}
