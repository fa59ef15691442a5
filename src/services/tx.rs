//! The scaffold of a use case that changes something: open the transaction, load and
//! check, change, note the audit events as the change goes, and commit them all
//! together (`Work`).
//!
//! Committing takes an `Authority`, and the only way to build one is from the `Permit`
//! a role check returned (`Caller::permitted`), so a use case that never checks has
//! nothing to commit with and does not compile. Dropping a `Work` without committing
//! rolls everything back.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};

use super::audit::{Entry, Trail};
use super::{Actor, Caller, ServiceResult};
use crate::db::Conn;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Permit;
use crate::domain::ids::TenantId;

/// Who commits a change, and the proof they may.
#[derive(Clone, Copy, Debug)]
pub struct Authority {
    actor: Actor,
}

impl Caller {
    /// The authority to commit a change the caller's role check allowed.
    pub fn permitted(&self, permit: Permit) -> Authority {
        tracing::debug!(action = ?permit.action(), "permitted");
        Authority {
            actor: self.actor(),
        }
    }
}

/// One use case's transaction, with the audit events that go with it.
#[must_use = "a change is kept only when its work is committed"]
pub struct Work {
    tx: Transaction<'static, Postgres>,
    tenant: TenantId,
    now: DateTime<Utc>,
    events: Vec<Entry>,
    /// Set when the change is part of a larger one (configuration as code): every
    /// event carries its correlation id and says what made it (`via`).
    tag: Option<(uuid::Uuid, &'static str)>,
}

impl Work {
    pub async fn begin(pool: &PgPool, tenant: TenantId, now: DateTime<Utc>) -> ServiceResult<Self> {
        Ok(Self {
            tx: pool.begin().await?,
            tenant,
            now,
            events: Vec::new(),
            tag: None,
        })
    }

    /// The transaction, for loads and writes.
    pub fn conn(&mut self) -> &mut Conn {
        &mut self.tx
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Notes an audit event, written with the change.
    pub fn audit(&mut self, action: AuditAction, target: Target, details: Value) {
        self.events.push(Entry::new(action, target, details));
    }

    /// Marks every event of this work as part of `correlation`, made by `via`.
    pub fn tag(&mut self, correlation: uuid::Uuid, via: &'static str) {
        self.tag = Some((correlation, via));
    }

    /// Writes the noted events (one statement), then commits.
    pub async fn commit(mut self, authority: Authority) -> ServiceResult<()> {
        let mut trail = Trail::default();
        for mut entry in self.events {
            match self.tag {
                Some((correlation, via)) => {
                    if let Value::Object(d) = &mut entry.details {
                        d.insert("via".into(), via.into());
                    }
                    trail.add_correlated(
                        self.tenant,
                        authority.actor,
                        entry,
                        self.now,
                        correlation,
                    );
                }
                None => trail.add(self.tenant, authority.actor, entry, self.now),
            }
        }
        trail.write(&mut self.tx).await?;
        self.tx.commit().await?;
        Ok(())
    }
}

impl Authority {
    /// The authority of the tenant's directory: the SCIM token that
    /// `services::scim::tokens::authenticate` accepted is its proof (the directory is
    /// trusted like a tenant admin for the people and groups it pushes).
    pub(crate) fn directory(token: crate::domain::ids::ScimTokenId) -> Self {
        Self {
            actor: Actor::Directory { token },
        }
    }
}
