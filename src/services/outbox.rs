//! What the outbox holds for a tenant: tenant admins see queued, sent and failed
//! deliveries (emails and connector calls), most usefully the permanent failures, and
//! put a failed one back in the queue (reprocess), audited.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::tx::Work;
use super::views::names::{Names, Wanted};
use super::{Caller, ServiceResult, grants};
use crate::db::assignments::GrantRow;
use crate::db::outbox::OutboxRow;
use crate::db::{self, Page, PageRequest};
use crate::domain::DomainError;
use crate::domain::assignment::{GrantCall, GrantState};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::ids::{AssignmentId, OutboxId, ResourceRoleId};
use crate::domain::outbox::{OutboxKind, OutboxState};

/// `values` as a list for a message: "a, b, c".
fn one_of<T: Copy + std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn list(
    pool: &PgPool,
    caller: &Caller,
    state: Option<&str>,
    kind: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<OutboxRow>> {
    if !caller.roles.is_tenant_admin() {
        return Err(DomainError::forbidden("Only tenant admins can see the outbox.").into());
    }
    let state = match state {
        None => None,
        Some(s) => Some(OutboxState::parse(s).ok_or_else(|| {
            DomainError::field(
                "state",
                format!(
                    "unknown state '{s}'; use one of {}",
                    one_of(OutboxState::ALL)
                ),
            )
        })?),
    };
    let kind = match kind {
        None => None,
        Some(k) => Some(OutboxKind::parse(k).ok_or_else(|| {
            DomainError::field(
                "kind",
                format!("unknown kind '{k}'; use one of {}", one_of(OutboxKind::ALL)),
            )
        })?),
    };
    let mut conn = pool.acquire().await?;
    Ok(db::outbox::list(&mut conn, caller.tenant_id(), state, kind, page).await?)
}

/// Email templates whose link token is removed once they fail for good: sending them
/// again would send a dead link, so they are not reprocessed (the person asks anew, or
/// the approver gets the next reminder).
const LINK_TEMPLATES: [&str; 2] = ["approvalNeeded", "signInLink"];

/// Puts a failed delivery back in the queue, due now (tenant admins). A connector
/// call's failed grant waits for it again, and its assignment shows it on its way. The
/// attempt that follows may fail again; the row then shows the new error.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn reprocess(
    pool: &PgPool,
    caller: &Caller,
    id: OutboxId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if !caller.roles.is_tenant_admin() {
        return Err(
            DomainError::forbidden("Only tenant admins can reprocess failed deliveries.").into(),
        );
    }
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, tenant, now).await?;
    let row = db::outbox::lock(work.conn(), tenant, id)
        .await?
        .ok_or(DomainError::NotFound("delivery"))?;
    if row.state != OutboxState::Failed {
        return Err(DomainError::conflict(format!(
            "This delivery is {}; only failed deliveries can be reprocessed.",
            row.state
        ))
        .into());
    }
    match row.kind {
        OutboxKind::Email => {
            let notice = &row.payload["notice"];
            let template = notice["template"].as_str().unwrap_or_default();
            if LINK_TEMPLATES.contains(&template) && notice.get("token").is_none() {
                return Err(DomainError::conflict(
                    "This email carried a one-time link, removed when it failed for good; it cannot be sent again. The person can ask for a new sign-in link, and approvers get the next reminder.",
                )
                .into());
            }
        }
        OutboxKind::Webhook | OutboxKind::Scim | OutboxKind::Ldap => {
            if db::outbox::has_later_in_sequence(work.conn(), tenant, id).await? {
                return Err(DomainError::conflict(
                    "A later call for the same grant was queued after this one; sending this one again would overtake it. Reprocess the assignment instead.",
                )
                .into());
            }
            rearm_grant(&mut work, &row, now).await?;
        }
        // A Slack message is rendered from the request as it is when sent again.
        OutboxKind::Slack => {}
        OutboxKind::Extension => {
            if row.payload["waits"].as_bool() == Some(true)
                && row.payload.get("callbackToken").is_none()
            {
                return Err(DomainError::conflict(
                    "This extension call carried a one-time callback token, removed when it failed for good; it cannot be sent again. The request it held is settled by the extension's timeout.",
                )
                .into());
            }
        }
        OutboxKind::Teams => {
            if super::chat::links_removed(&row.payload) {
                return Err(DomainError::conflict(
                    "This Teams card carried one-time approval links, removed when it failed for good; it cannot be sent again. Approvers still have their emailed links.",
                )
                .into());
            }
        }
    }
    db::outbox::requeue(work.conn(), tenant, id, now).await?;
    work.audit(
        AuditAction::OutboxReprocessed,
        Target::OutboxItem(id),
        json!({"kind": row.kind, "attempts": row.attempts, "lastError": row.last_error}),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(())
}

/// The grant a failed connector call left failed waits for the call again.
async fn rearm_grant(work: &mut Work, row: &OutboxRow, now: DateTime<Utc>) -> ServiceResult<()> {
    let tenant = work.tenant();
    let p = &row.payload;
    let call = p["type"].as_str().and_then(GrantCall::parse);
    let assignment = p["assignmentId"]
        .as_str()
        .and_then(|s| s.parse::<AssignmentId>().ok());
    let role = p["resourceRoleId"]
        .as_str()
        .and_then(|s| s.parse::<ResourceRoleId>().ok());
    let (Some(call), Some(assignment), Some(role)) = (call, assignment, role) else {
        return Ok(());
    };
    let grant = db::assignments::grants_of(work.conn(), tenant, &[assignment])
        .await?
        .into_iter()
        .find(|g| g.resource_role_id == role);
    if let Some(g) = grant.filter(|g| g.state == GrantState::Failed) {
        db::assignments::upsert_grant(
            work.conn(),
            &GrantRow {
                state: call.awaiting(),
                error: None,
                updated_at: now,
                ..g
            },
        )
        .await?;
        grants::refresh_state(work.conn(), tenant, assignment, now).await?;
    }
    Ok(())
}

/// A page of the outbox with the names of the people its emails go to.
pub struct OutboxPage {
    pub page: Page<OutboxRow>,
    pub names: Names,
}

/// The outbox page of the admin portal: failed deliveries first of all (`state`),
/// optionally of one kind (a connector's Delivery page links to its kind).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn outbox_page(
    pool: &PgPool,
    caller: &Caller,
    state: Option<&str>,
    kind: Option<&str>,
    page: PageRequest,
) -> ServiceResult<OutboxPage> {
    let page = list(pool, caller, state, kind, page).await?;
    let mut wanted = Wanted::default();
    for r in &page.items {
        if let Some(to) = recipient(r) {
            wanted.user(to);
        }
    }
    let mut conn = pool.acquire().await?;
    let names = wanted.resolve(&mut conn, caller.tenant_id()).await?;
    Ok(OutboxPage { page, names })
}

/// The user an email row is addressed to.
pub fn recipient(row: &OutboxRow) -> Option<uuid::Uuid> {
    if row.kind != OutboxKind::Email {
        return None;
    }
    row.payload
        .get("to")
        .and_then(|v| v.as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
}
