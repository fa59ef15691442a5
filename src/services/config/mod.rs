//! Configuration as code (INTEGRATIONS.md §6): a tenant's catalogs, resources and
//! roles, connectors (without secrets), custom extensions, packages, policies and role
//! assignments as one document. `export` writes it; `plan` checks a document whole
//! and lists what applying it would create, update and (with prune) delete; `apply`
//! does that in one transaction, through the same services as the portal, with every
//! audit event marked `via: configApply` under one correlation id and a summary event
//! on the tenant. Applying the same document twice changes nothing the second time.

pub mod document;
mod engine;
mod export;
pub mod plan;
mod refs;

use serde_json::{Value, json};
use sqlx::PgPool;

pub use document::Document;
pub use engine::Env;
pub use plan::{Change, ChangeAction, Plan};

use crate::domain::DomainError;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::services::tx::Work;
use crate::services::{Caller, ServiceError, ServiceResult, validated};
use engine::Engine;

/// A document in YAML (JSON is YAML too), with an error that says where it is wrong.
pub fn from_yaml(text: &str) -> ServiceResult<Document> {
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|e| ServiceError::from(DomainError::field("document", e.to_string())))?;
    from_value(value)
}

/// A document from JSON, with an error at the path of the first wrong field.
pub fn from_value(value: Value) -> ServiceResult<Document> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "document".to_string()
        } else {
            path
        };
        DomainError::field(&field, e.into_inner().to_string()).into()
    })
}

/// The document as YAML.
pub fn to_yaml(doc: &Document) -> ServiceResult<String> {
    serde_saphyr::to_string(doc).map_err(|e| ServiceError::Internal(anyhow::anyhow!("YAML: {e}")))
}

/// The tenant's configuration (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn export(pool: &PgPool, caller: &Caller) -> ServiceResult<Document> {
    caller.require(Action::ManageConfiguration)?;
    let mut conn = pool.acquire().await?;
    Ok(export::document(&mut conn, caller.tenant_id()).await?)
}

/// Checks the document whole and lists the changes applying it would make; writes
/// nothing (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn plan(
    pool: &PgPool,
    caller: &Caller,
    env: Env<'_>,
    doc: &Document,
    prune: bool,
) -> ServiceResult<Plan> {
    caller.require(Action::ManageConfiguration)?;
    let mut work = Work::begin(pool, caller.tenant_id(), env.now).await?;
    let mut engine = Engine::new(&mut work, caller, env, doc, prune).await?;
    engine.run(None, doc).await?;
    validated(std::mem::take(&mut engine.errors))?;
    Ok(Plan {
        not_in_document: engine.not_in_document(),
        changes: engine.changes,
        applied: false,
    })
}

/// Applies the document in one transaction: checked whole first (nothing is written
/// when any part is wrong), then each change made (tenant admins). Applies to one
/// tenant run one at a time.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn apply(
    pool: &PgPool,
    caller: &Caller,
    env: Env<'_>,
    doc: &Document,
    prune: bool,
) -> ServiceResult<Plan> {
    let permit = caller.require(Action::ManageConfiguration)?;
    let mut work = Work::begin(pool, caller.tenant_id(), env.now).await?;
    crate::db::config::lock(work.conn(), caller.tenant_id()).await?;
    let mut check = Engine::new(&mut work, caller, env, doc, prune).await?;
    check.run(None, doc).await?;
    validated(std::mem::take(&mut check.errors))?;
    let not_in_document = check.not_in_document();
    if check.changes.is_empty() {
        return Ok(Plan {
            changes: Vec::new(),
            applied: false,
            not_in_document,
        });
    }
    let correlation = uuid::Uuid::now_v7();
    work.tag(correlation, "configApply");
    let mut engine = Engine::new(&mut work, caller, env, doc, prune).await?;
    engine.run(Some(&mut work), doc).await?;
    validated(std::mem::take(&mut engine.errors))?;
    let plan = Plan {
        changes: engine.changes,
        applied: true,
        not_in_document,
    };
    work.audit(
        AuditAction::ConfigApplied,
        Target::Tenant(caller.tenant_id()),
        json!({"prune": prune, "changes": plan.changes}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(plan)
}

/// The caller a command line run acts as: the tenant admin with `email`, or without
/// one the tenant's first tenant admin (who is named in the audit log).
#[tracing::instrument(skip_all, fields(tenant = %slug))]
pub async fn command_caller(
    pool: &PgPool,
    slug: &str,
    email: Option<&str>,
) -> ServiceResult<Caller> {
    let tenant = crate::services::tenants::by_slug(pool, slug).await?;
    let mut conn = pool.acquire().await?;
    let user = match email {
        Some(e) => crate::db::users::by_email(&mut conn, tenant.id, e)
            .await?
            .ok_or_else(|| {
                DomainError::field("as", format!("no user with email {e} in tenant {slug}"))
            })?,
        None => crate::db::config::first_tenant_admin(&mut conn, tenant.id)
            .await?
            .ok_or_else(|| {
                DomainError::conflict(format!("tenant {slug} has no active tenant admin"))
            })?,
    };
    let roles = crate::services::roles::roles_of(&mut conn, tenant.id, user.id).await?;
    let caller = Caller {
        tenant,
        user,
        roles,
        token: None,
    };
    caller.require(Action::ManageConfiguration)?;
    Ok(caller)
}
