//! The outbox's delivery bookkeeping for the scheduler: claiming due rows, recording
//! the outcome of an email or a connector call, and for connector calls the grant
//! state the outcome settles.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::db::assignments::GrantRow;
use crate::db::outbox::OutboxRow;
use crate::db::{self};
use crate::domain::assignment::{GrantCall, GrantState};
use crate::domain::connector::Connector;
use crate::domain::ids::{AssignmentId, OutboxId, ResourceId, ResourceRoleId, TenantId, UserId};
use crate::domain::outbox::OutboxKind;

/// A claimed outbox row: what delivering it needs.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub tenant_id: TenantId,
    pub id: OutboxId,
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

impl From<OutboxRow> for Claimed {
    fn from(r: OutboxRow) -> Self {
        Self {
            tenant_id: r.tenant_id,
            id: r.id,
            payload: r.payload,
            attempts: r.attempts,
            created_at: r.created_at,
        }
    }
}

/// Claims up to `limit` due rows of `kind` for `lease` (SKIP LOCKED, so any number of
/// replicas can call this).
#[tracing::instrument(skip_all)]
pub async fn claim(
    pool: &PgPool,
    kind: OutboxKind,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> anyhow::Result<Vec<Claimed>> {
    let mut conn = pool.acquire().await?;
    let rows = db::outbox::claim(&mut conn, kind, now, lease, limit).await?;
    Ok(rows.into_iter().map(Claimed::from).collect())
}

/// An email was sent or needs no sending: done, its approval-link token removed.
#[tracing::instrument(skip_all)]
pub async fn complete_email(
    pool: &PgPool,
    tenant: TenantId,
    id: OutboxId,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    db::outbox::complete_email(&mut conn, tenant, id, now).await?;
    Ok(())
}

/// An email was not delivered: retried at `retry_at`, or (when `None`) failed for
/// good, its approval-link token removed.
#[tracing::instrument(skip_all)]
pub async fn fail_email(
    pool: &PgPool,
    tenant: TenantId,
    id: OutboxId,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    db::outbox::fail(&mut tx, tenant, id, error, retry_at, now).await?;
    if retry_at.is_none() {
        db::outbox::forget_email_token(&mut tx, tenant, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What a connector call names, as the call's body shows it.
#[derive(Clone, Debug)]
pub struct CallTarget {
    /// The tenant's slug.
    pub tenant: String,
    pub resource_id: ResourceId,
    pub resource_name: String,
    pub connector: Option<Connector>,
    /// The sealed connector secret.
    pub connector_secret: Option<String>,
    pub role_id: ResourceRoleId,
    pub role_name: String,
    /// What the role means in the target (its name unless set).
    pub role_value: String,
    pub user_id: UserId,
    pub user_email: String,
    pub user_display_name: String,
    pub user_external_id: Option<String>,
}

/// The resource, role and user of a connector call; `None` when one of them no
/// longer exists.
#[tracing::instrument(skip_all)]
pub async fn call_target(
    pool: &PgPool,
    tenant: TenantId,
    resource: ResourceId,
    role: ResourceRoleId,
    user: UserId,
) -> anyhow::Result<Option<CallTarget>> {
    let mut conn = pool.acquire().await?;
    let resource = db::catalogs::get_resources(&mut conn, tenant, &[resource])
        .await?
        .pop();
    let role = db::catalogs::get_roles(&mut conn, tenant, &[role])
        .await?
        .pop();
    let user = db::users::get(&mut conn, tenant, user).await?;
    let slug = db::tenants::get(&mut conn, tenant).await?.slug;
    let (Some(resource), Some(role), Some(user)) = (resource, role, user) else {
        return Ok(None);
    };
    Ok(Some(CallTarget {
        tenant: slug,
        resource_id: resource.id,
        resource_name: resource.display_name,
        connector: resource.connector,
        connector_secret: resource.connector_secret,
        role_id: role.id,
        role_value: role
            .connector_value
            .unwrap_or_else(|| role.display_name.clone()),
        role_name: role.display_name,
        user_id: user.id,
        user_email: user.email,
        user_display_name: user.display_name,
        user_external_id: user.external_id,
    }))
}

/// One connector call of an outbox row.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub outbox_id: OutboxId,
    pub kind: GrantCall,
    pub assignment_id: AssignmentId,
    pub resource_role_id: ResourceRoleId,
}

/// How a connector call went.
pub enum CallOutcome<'a> {
    Delivered,
    /// Not delivered: retried at `retry_at`, or (when `None`) given up.
    Failed {
        error: &'a str,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Records a connector call's outcome on its outbox row and, while the grant still
/// awaits this call, on the grant; then refreshes the assignment's state.
#[tracing::instrument(skip_all)]
pub async fn record_call(
    pool: &PgPool,
    tenant: TenantId,
    call: Call,
    outcome: CallOutcome<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let current = db::assignments::grants_of(&mut tx, tenant, &[call.assignment_id])
        .await?
        .into_iter()
        .find(|g| g.resource_role_id == call.resource_role_id);
    let expected = call.kind.awaiting();
    let update_grant = |state: GrantState, error: Option<String>| GrantRow {
        tenant_id: tenant,
        assignment_id: call.assignment_id,
        resource_role_id: call.resource_role_id,
        state,
        error,
        updated_at: now,
    };
    match outcome {
        CallOutcome::Delivered => {
            db::outbox::complete(&mut tx, tenant, call.outbox_id, now).await?;
            if current.as_ref().is_some_and(|g| g.state == expected) {
                db::assignments::upsert_grant(
                    &mut tx,
                    &update_grant(call.kind.settled(true), None),
                )
                .await?;
            }
        }
        CallOutcome::Failed { error, retry_at } => {
            db::outbox::fail(&mut tx, tenant, call.outbox_id, error, retry_at, now).await?;
            if let Some(g) = current.as_ref().filter(|g| g.state == expected) {
                let state = if retry_at.is_none() {
                    call.kind.settled(false)
                } else {
                    g.state
                };
                db::assignments::upsert_grant(&mut tx, &update_grant(state, Some(error.into())))
                    .await?;
            }
        }
    }
    super::grants::refresh_state(&mut tx, tenant, call.assignment_id, now)
        .await
        .context("refreshing the assignment's state")?;
    tx.commit().await?;
    Ok(())
}

/// Whether the user still holds (or is being given) a role of `resource` in an active
/// assignment: a SCIM connector deactivates the person in the target only when not.
#[tracing::instrument(skip_all)]
pub async fn holds_grant_on_resource(
    pool: &PgPool,
    tenant: TenantId,
    user: UserId,
    resource: ResourceId,
) -> anyhow::Result<bool> {
    let mut conn = pool.acquire().await?;
    Ok(db::assignments::holds_grant_on_resource(&mut conn, tenant, user, resource).await?)
}
