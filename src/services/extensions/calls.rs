//! The calls a request's life makes to custom extensions, queued in the transaction of
//! the change that reaches their stage (outbox kind `extension`): the request's steps
//! (`requestCreated`, `requestApproved`) from the lifecycle's transition, the
//! assignment's (`assignmentGranted`, `assignmentRemoved`, `assignmentExpiringSoon`)
//! from where access is granted, ends and is about to end. A call that holds the
//! request carries a fresh single-use callback token; only its SHA-256 is kept, on the
//! hold (`request_callbacks`), and the plain token leaves the outbox row once sent.
//! The call's body is written now, as things stand at this step; the callback URL is
//! added when it is sent (it needs the public base URL).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::at_stage;
use crate::db::assignments::AssignmentRow;
use crate::db::extensions::{CallbackRow, ExtensionRow};
use crate::db::outbox::NewOutbox;
use crate::db::packages::Policy;
use crate::db::requests::RequestRow;
use crate::db::{self, Conn};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::extension::{CallbackState, ExtensionBehavior, ExtensionStage};
use crate::domain::ids::{CallbackId, OutboxId, PolicyId, TenantId};
use crate::domain::lifecycle::Transition;
use crate::domain::outbox::OutboxKind;
use crate::services::audit::{self, Entry, Trail};
use crate::services::requests::note;
use crate::services::{Actor, ServiceResult, links};

/// The package and the person a call is about, as its body shows them.
async fn subject(
    conn: &mut Conn,
    tenant: TenantId,
    package: crate::domain::ids::PackageId,
    user: crate::domain::ids::UserId,
) -> ServiceResult<(Value, Value)> {
    let package = db::packages::get(conn, tenant, package).await?;
    let user = db::users::get(conn, tenant, user).await?;
    Ok((
        package.map_or(Value::Null, |p| {
            json!({"id": p.id, "displayName": p.display_name, "catalogId": p.catalog_id})
        }),
        user.map_or(Value::Null, |u| {
            json!({"id": u.id, "email": u.email, "displayName": u.display_name, "externalId": u.external_id})
        }),
    ))
}

/// Queues one call of `extension`; returns the outbox row's id.
async fn enqueue(
    conn: &mut Conn,
    extension: &ExtensionRow,
    stage: ExtensionStage,
    body: Value,
    callback_token: Option<&str>,
    now: DateTime<Utc>,
) -> ServiceResult<OutboxId> {
    let payload = json!({
        "extensionId": extension.id,
        "stage": stage,
        "requestId": body["request"]["id"],
        "assignmentId": body["assignment"]["id"],
        "body": body,
        "callbackToken": callback_token,
        "waits": callback_token.is_some(),
    });
    let id = OutboxId::new();
    db::outbox::enqueue(
        conn,
        NewOutbox {
            id,
            tenant: extension.tenant_id,
            kind: OutboxKind::Extension,
            payload: &payload,
            sequence_key: None,
        },
        now,
    )
    .await?;
    Ok(id)
}

/// After a transition of `row` was written: calls the policy's extension of each
/// stage the request reached, and when the transition holds the request, records the
/// hold with its token's hash and due time.
#[tracing::instrument(skip_all, fields(request = %row.id))]
pub async fn request_reached(
    conn: &mut Conn,
    trail: &mut Trail,
    row: &RequestRow,
    t: &Transition,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if t.reached.is_empty() {
        return Ok(());
    }
    let tenant = row.tenant_id;
    let policy = match trail.known_policy(tenant, row.policy_id) {
        Some(p) => p.clone(),
        None => match db::packages::get_policy(conn, tenant, row.policy_id).await? {
            Some(p) => p,
            None => return Ok(()),
        },
    };
    if policy.settings.0.custom_extensions.is_empty() {
        return Ok(());
    }
    let mut subject_parts = None;
    for stage in &t.reached {
        let Some(extension) = at_stage(conn, tenant, &policy.settings.0, *stage).await? else {
            continue;
        };
        let (package, user) = match &subject_parts {
            Some(parts) => parts,
            None => subject_parts
                .insert(subject(conn, tenant, row.package_id, row.target_user_id).await?),
        };
        let body = json!({
            "type": "portico.customExtension",
            "stage": stage,
            "occurredAt": now,
            "tenantId": tenant,
            "request": {
                "id": row.id, "type": row.request_type, "state": t.state,
                "justification": row.justification, "answers": row.answers.0,
                "requestorId": row.requestor_id,
            },
            "accessPackage": package,
            "targetUser": user,
            "assignment": null,
        });
        let waits =
            t.holds_at == Some(*stage) && extension.behavior == ExtensionBehavior::WaitForCallback;
        let token = waits.then(links::new_token);
        let outbox = enqueue(conn, &extension, *stage, body, token.as_deref(), now).await?;
        let mut details = json!({"stage": stage, "extensionId": extension.id,
                                 "extension": extension.display_name, "behavior": extension.behavior,
                                 "outboxId": outbox});
        if let Some(token) = &token {
            let due_at = now + Duration::minutes(i64::from(extension.timeout_minutes));
            db::extensions::insert_callback(
                conn,
                &CallbackRow {
                    tenant_id: tenant,
                    id: CallbackId::new(),
                    request_id: row.id,
                    extension_id: extension.id,
                    stage: *stage,
                    token_hash: links::hash(token),
                    on_timeout: extension.on_timeout,
                    state: CallbackState::Waiting,
                    outcome: None,
                    message: None,
                    due_at,
                    created_at: now,
                    completed_at: None,
                },
            )
            .await?;
            details["dueAt"] = json!(due_at);
            details["onTimeout"] = json!(extension.on_timeout);
        }
        note(
            trail,
            Actor::System,
            AuditAction::RequestExtensionCalled,
            row,
            details,
            now,
        );
    }
    Ok(())
}

/// Calls the extension each assignment's policy names for `stage` (granted, removed,
/// expiring soon), with the assignment as it is now. Policies are read once each.
#[tracing::instrument(skip_all, fields(stage = %stage, count = assignments.len()))]
pub async fn assignments_reached(
    conn: &mut Conn,
    assignments: &[AssignmentRow],
    stage: ExtensionStage,
    known: Option<&Policy>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut policies: Vec<((TenantId, PolicyId), Option<Policy>)> = known
        .map(|p| ((p.tenant_id, p.id), Some(p.clone())))
        .into_iter()
        .collect();
    for a in assignments {
        let key = (a.tenant_id, a.policy_id);
        let policy = match policies.iter().find(|(k, _)| *k == key) {
            Some((_, p)) => p.clone(),
            None => {
                let p = db::packages::get_policy(conn, a.tenant_id, a.policy_id).await?;
                policies.push((key, p.clone()));
                p
            }
        };
        let Some(policy) = policy.filter(|p| !p.settings.0.custom_extensions.is_empty()) else {
            continue;
        };
        let Some(extension) = at_stage(conn, a.tenant_id, &policy.settings.0, stage).await? else {
            continue;
        };
        let (package, user) = subject(conn, a.tenant_id, a.package_id, a.target_user_id).await?;
        let body = json!({
            "type": "portico.customExtension",
            "stage": stage,
            "occurredAt": now,
            "tenantId": a.tenant_id,
            "request": {"id": a.request_id},
            "accessPackage": package,
            "targetUser": user,
            "assignment": {
                "id": a.id, "state": a.state, "startDateTime": a.start_at, "endDateTime": a.end_at,
                "removalReason": a.removal_reason, "policyId": a.policy_id,
            },
        });
        let outbox = enqueue(conn, &extension, stage, body, None, now).await?;
        audit::record(
            conn,
            a.tenant_id,
            Actor::System,
            Entry::new(
                AuditAction::AssignmentExtensionCalled,
                Target::Assignment(a.id),
                json!({"stage": stage, "extensionId": extension.id, "extension": extension.display_name,
                       "outboxId": outbox}),
            ),
            now,
        )
        .await?;
    }
    Ok(())
}
