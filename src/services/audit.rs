//! Audit events, written in the transaction of the change they describe.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Actor, Caller, ServiceResult};
pub use crate::db::audit::AuditFilter;
use crate::db::audit::{AuditEvent, QueuedEmail};
use crate::db::packages::Policy;
use crate::db::{self, Conn, Page, PageRequest};
use crate::domain::audit::{ActorType, AuditAction, Target, TargetType};
use crate::domain::authz::Action;
use crate::domain::error::FieldErrors;
use crate::domain::ids::{AuditEventId, OutboxId, PackageId, PolicyId, TenantId};
use crate::services::grants::RoleTarget;

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
            actor_name: None,
            target_name: None,
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
/// The emails the transaction queues ride along in the same statement, and the
/// policies it has read are kept so that later steps need not read them again.
#[derive(Default)]
#[must_use = "a trail must be written before its transaction commits"]
pub struct Trail {
    events: Vec<AuditEvent>,
    emails: Vec<QueuedEmail>,
    policies: Vec<Policy>,
    targets: Vec<(PackageId, Vec<RoleTarget>)>,
}

impl Trail {
    pub fn add(&mut self, tenant: TenantId, actor: Actor, entry: Entry, now: DateTime<Utc>) {
        self.events.push(entry.into_event(tenant, actor, now));
    }

    /// `add`, as part of the larger change `correlation`.
    pub fn add_correlated(
        &mut self,
        tenant: TenantId,
        actor: Actor,
        entry: Entry,
        now: DateTime<Utc>,
        correlation: Uuid,
    ) {
        let mut event = entry.into_event(tenant, actor, now);
        event.correlation_id = Some(correlation);
        self.events.push(event);
    }

    /// Queues an email (an outbox row) to be written with the events.
    pub fn email(&mut self, tenant: TenantId, payload: Value, now: DateTime<Utc>) -> OutboxId {
        let id = OutboxId::new();
        self.emails.push(QueuedEmail {
            tenant_id: tenant,
            id,
            payload,
            at: now,
        });
        id
    }

    /// Keeps a policy this transaction has read.
    pub fn know_policy(&mut self, policy: &Policy) {
        if self.known_policy(policy.tenant_id, policy.id).is_none() {
            self.policies.push(policy.clone());
        }
    }

    /// A policy this transaction has read, if it has.
    pub fn known_policy(&self, tenant: TenantId, id: PolicyId) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.tenant_id == tenant && p.id == id)
    }

    /// Keeps the resource roles of a package this transaction has read.
    pub fn know_targets(&mut self, package: PackageId, targets: Vec<RoleTarget>) {
        self.targets.retain(|(p, _)| *p != package);
        self.targets.push((package, targets));
    }

    /// The resource roles of `package`, if this transaction has read them.
    pub fn known_targets(&self, package: PackageId) -> Option<&[RoleTarget]> {
        self.targets
            .iter()
            .find(|(p, _)| *p == package)
            .map(|(_, t)| t.as_slice())
    }

    /// Takes over the events and emails of another trail (a savepoint's, once it is
    /// released).
    pub fn append(&mut self, mut other: Trail) {
        self.events.append(&mut other.events);
        self.emails.append(&mut other.emails);
        for p in other.policies {
            self.know_policy(&p);
        }
    }

    /// How many events and emails wait to be written.
    pub fn pending(&self) -> usize {
        self.events.len() + self.emails.len()
    }

    /// Writes the events and emails gathered so far and forgets them, keeping what the
    /// trail knows: a long transaction (a bulk change) writes its history as it goes
    /// instead of holding all of it, and one statement's parameters for all of it, in
    /// memory.
    pub async fn flush(&mut self, conn: &mut Conn) -> ServiceResult<()> {
        db::audit::insert_many_with_emails(conn, &self.events, &self.emails).await?;
        self.events.clear();
        self.emails.clear();
        Ok(())
    }

    pub async fn write(self, conn: &mut Conn) -> ServiceResult<()> {
        db::audit::insert_many_with_emails(conn, &self.events, &self.emails).await?;
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

/// The log's filters as a person or a client gives them: the actor by email or id, the
/// action and the target type by name. Blank values are left out.
#[derive(Clone, Debug, Default)]
pub struct FilterInput {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<DateTime<Utc>>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Checks `input` and resolves its actor; every bad field is named at once (422).
#[tracing::instrument(skip_all)]
pub(crate) async fn resolve_filter(
    conn: &mut Conn,
    tenant: TenantId,
    input: &FilterInput,
) -> ServiceResult<AuditFilter> {
    let mut errors = FieldErrors::new();
    let actor = match given(&input.actor) {
        None => None,
        Some(raw) => match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) if raw.contains('@') => match db::users::by_email(conn, tenant, raw).await? {
                Some(u) => Some(u.id.0),
                None => {
                    errors.add("actor", "no person with this email");
                    None
                }
            },
            Err(_) => {
                errors.add("actor", "enter a person's email or id");
                None
            }
        },
    };
    let action = given(&input.action).and_then(|raw| {
        let parsed = AuditAction::parse(raw);
        if parsed.is_none() {
            errors.add("action", "not an action of the audit log");
        }
        parsed
    });
    let target_type = given(&input.target_type).and_then(|raw| {
        let parsed = TargetType::parse(raw);
        if parsed.is_none() {
            errors.add("targetType", "not a kind of object of the audit log");
        }
        parsed
    });
    if let (Some(from), Some(to)) = (input.from, input.to)
        && to <= from
    {
        errors.add("to", "must be after the start of the period");
    }
    errors.into_result()?;
    Ok(AuditFilter {
        actor,
        action,
        target_type,
        target: input.target,
        from: input.from,
        to: input.to,
        after: input.after,
    })
}

/// The tenant's audit log matching `input`, newest first (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    input: &FilterInput,
    page: PageRequest,
) -> ServiceResult<Page<AuditEvent>> {
    caller.require(Action::ReadAudit)?;
    let mut conn = pool.acquire().await?;
    let filter = resolve_filter(&mut conn, caller.tenant_id(), input).await?;
    Ok(db::audit::list(&mut conn, caller.tenant_id(), &filter, page).await?)
}

/// Every action the log records, by name (the filters' choices).
pub fn actions() -> impl Iterator<Item = &'static str> {
    AuditAction::ALL.iter().map(|a| a.as_str())
}

/// Every kind of object the log records, by name.
pub fn target_types() -> impl Iterator<Item = &'static str> {
    TargetType::ALL.iter().map(|t| t.as_str())
}

/// The tenant's audit log matching `input` as a report (CSV or JSON), oldest first,
/// streamed a chunk at a time (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn export(
    pool: &PgPool,
    caller: &Caller,
    input: &FilterInput,
    format: super::reports::Format,
) -> ServiceResult<super::reports::Stream> {
    caller.require(Action::ReadAudit)?;
    let filter = {
        let mut conn = pool.acquire().await?;
        resolve_filter(&mut conn, caller.tenant_id(), input).await?
    };
    super::reports::report(pool, caller, super::reports::Source::Audit(filter), format).await
}
