//! Audit events, written in the transaction of the change they describe.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Actor, Caller, ServiceResult};
use crate::db::audit::AuditEvent;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::audit::{ActorType, AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::{AuditEventId, TenantId};

/// What changed, on what.
pub struct Entry {
    pub action: AuditAction,
    pub target: Target,
    pub details: Value,
}

impl Entry {
    pub fn new(action: AuditAction, target: Target, details: Value) -> Self {
        Self {
            action,
            target,
            details,
        }
    }

    fn into_event(self, tenant: TenantId, actor: Actor, now: DateTime<Utc>) -> AuditEvent {
        let (actor_type, actor_id, actor_token_id) = actor_columns(actor);
        let (target_type, target_id) = self.target.parts();
        AuditEvent {
            tenant_id: tenant,
            id: AuditEventId::new(),
            at: now,
            actor_type,
            actor_id,
            actor_token_id,
            action: self.action,
            target_type,
            target_id: Some(target_id),
            details: self.details,
            correlation_id: None,
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn record(
    conn: &mut Conn,
    tenant: TenantId,
    actor: Actor,
    entry: Entry,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    db::audit::insert(conn, &entry.into_event(tenant, actor, now)).await?;
    Ok(())
}

/// The events of one transaction, gathered as it goes and written together (one
/// statement) just before it commits. Their ids are time-ordered as they were added.
#[derive(Default)]
#[must_use = "a trail must be written before its transaction commits"]
pub struct Trail(Vec<AuditEvent>);

impl Trail {
    pub fn add(&mut self, tenant: TenantId, actor: Actor, entry: Entry, now: DateTime<Utc>) {
        self.0.push(entry.into_event(tenant, actor, now));
    }

    /// Takes over the events of another trail (a savepoint's, once it is released).
    pub fn append(&mut self, mut other: Trail) {
        self.0.append(&mut other.0);
    }

    pub async fn write(self, conn: &mut Conn) -> ServiceResult<()> {
        if !self.0.is_empty() {
            db::audit::insert_many(conn, &self.0).await?;
        }
        Ok(())
    }
}

fn actor_columns(actor: Actor) -> (ActorType, Option<Uuid>, Option<Uuid>) {
    match actor {
        Actor::User { id, token: None } => (ActorType::User, Some(id.0), None),
        Actor::User {
            id,
            token: Some(token),
        } => (ActorType::Token, Some(id.0), Some(token.0)),
        Actor::System => (ActorType::System, None, None),
        Actor::Directory { token } => (ActorType::Directory, None, Some(token.0)),
    }
}

/// The tenant's audit log, newest first (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    target: Option<Uuid>,
    after: Option<DateTime<Utc>>,
    page: PageRequest,
) -> ServiceResult<Page<AuditEvent>> {
    caller.require(Action::ReadAudit)?;
    let mut conn = pool.acquire().await?;
    Ok(db::audit::list(&mut conn, caller.tenant_id(), target, after, page).await?)
}
