//! The bookkeeping of extension calls for the scheduler: the extension a call goes to
//! (as it is when the call is made) and the outcome of each attempt. A call that
//! succeeds, or fails for good, leaves no plain callback token in the outbox. A final
//! failure is written into the history of the request (or assignment) it was about;
//! a request held by a call that never arrived is settled by its time-out.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::db::extensions::ExtensionRow;
use crate::db::{self};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::ids::{AssignmentId, ExtensionId, OutboxId, RequestId, TenantId};
use crate::services::audit::{self, Entry};
use crate::services::{Actor, ServiceResult};

/// The extension a call goes to, with its sealed secret (`None`: deleted since).
#[tracing::instrument(skip_all)]
pub async fn extension(
    pool: &PgPool,
    tenant: TenantId,
    id: ExtensionId,
) -> ServiceResult<Option<ExtensionRow>> {
    let mut conn = pool.acquire().await?;
    Ok(db::extensions::get(&mut conn, tenant, id).await?)
}

/// How an attempt went.
pub enum Attempt<'a> {
    Delivered,
    /// Failed: retried at `retry_at`, or failed for good when `None`.
    Failed {
        error: &'a str,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Records an attempt of the call `id` (whose payload is `payload`).
#[tracing::instrument(skip_all, fields(outbox = %id))]
pub async fn record(
    pool: &PgPool,
    tenant: TenantId,
    id: OutboxId,
    payload: &Value,
    attempt: Attempt<'_>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut tx = pool.begin().await?;
    match attempt {
        Attempt::Delivered => {
            db::outbox::complete(&mut tx, tenant, id, now).await?;
            db::extensions::forget_call_token(&mut tx, tenant, id).await?;
        }
        Attempt::Failed {
            error,
            retry_at: Some(at),
        } => db::outbox::fail(&mut tx, tenant, id, error, Some(at), now).await?,
        Attempt::Failed {
            error,
            retry_at: None,
        } => {
            db::outbox::fail(&mut tx, tenant, id, error, None, now).await?;
            db::extensions::forget_call_token(&mut tx, tenant, id).await?;
            let details = json!({"stage": payload["stage"], "extensionId": payload["extensionId"],
                                 "outboxId": id, "error": error});
            let request = payload["requestId"]
                .as_str()
                .and_then(|s| s.parse::<RequestId>().ok());
            let assignment = payload["assignmentId"]
                .as_str()
                .and_then(|s| s.parse::<AssignmentId>().ok());
            let entry = match (assignment, request) {
                (Some(a), _) => Some(Entry::new(
                    AuditAction::AssignmentExtensionFailed,
                    Target::Assignment(a),
                    details,
                )),
                (None, Some(r)) => Some(Entry::new(
                    AuditAction::RequestExtensionFailed,
                    Target::AssignmentRequest(r),
                    details,
                )),
                (None, None) => None,
            };
            if let Some(entry) = entry {
                audit::record(&mut tx, tenant, Actor::System, entry, now).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
