//! Audit events, written in the transaction of the change they describe.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Actor, Caller, ServiceResult};
use crate::db::audit::AuditEvent;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::authz::Action;
use crate::domain::ids::{AuditEventId, TenantId};

/// What changed, on what.
pub struct Entry<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<Uuid>,
    pub details: Value,
}

pub async fn record(
    conn: &mut Conn,
    tenant: TenantId,
    actor: Actor,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let (actor_type, actor_id, actor_token_id) = actor_columns(actor);
    db::audit::insert(
        conn,
        &AuditEvent {
            tenant_id: tenant,
            id: AuditEventId::new(),
            at: now,
            actor_type: actor_type.into(),
            actor_id,
            actor_token_id,
            action: entry.action.into(),
            target_type: entry.target_type.into(),
            target_id: entry.target_id,
            details: entry.details,
            correlation_id: None,
        },
    )
    .await?;
    Ok(())
}

/// The events of one transaction, gathered as it goes and written together (one
/// statement) just before it commits. Their ids are time-ordered as they were added.
#[derive(Default)]
#[must_use = "a trail must be written before its transaction commits"]
pub struct Trail(Vec<AuditEvent>);

impl Trail {
    pub fn add(&mut self, tenant: TenantId, actor: Actor, entry: Entry<'_>, now: DateTime<Utc>) {
        let (actor_type, actor_id, actor_token_id) = actor_columns(actor);
        self.0.push(AuditEvent {
            tenant_id: tenant,
            id: AuditEventId::new(),
            at: now,
            actor_type: actor_type.into(),
            actor_id,
            actor_token_id,
            action: entry.action.into(),
            target_type: entry.target_type.into(),
            target_id: entry.target_id,
            details: entry.details,
            correlation_id: None,
        });
    }

    pub async fn write(self, conn: &mut Conn) -> ServiceResult<()> {
        if !self.0.is_empty() {
            db::audit::insert_many(conn, &self.0).await?;
        }
        Ok(())
    }
}

fn actor_columns(actor: Actor) -> (&'static str, Option<Uuid>, Option<Uuid>) {
    match actor {
        Actor::User { id, token: None } => ("user", Some(id.0), None),
        Actor::User {
            id,
            token: Some(token),
        } => ("token", Some(id.0), Some(token.0)),
        Actor::System => ("system", None, None),
    }
}

/// The tenant's audit log, newest first (tenant admins).
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
