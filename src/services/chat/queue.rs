//! What is queued for chat in the transaction of the change that causes it: when a
//! stage asks its approvers, a Slack message per approver and one Teams card naming
//! them all; when a request changes, an update of each of its Slack messages; after a
//! refused click, a reply only the clicking person sees. Delivery is `deliver`'s.
//!
//! The message row is written here, before anything is sent, so a change that comes
//! before the message is posted still finds it: the post and its updates share a
//! sequence, and each reads the request as it is when sent.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::chat::ChatMessage;
use crate::db::outbox::NewOutbox;
use crate::db::requests::StageRow;
use crate::db::{self, Conn};
use crate::domain::chat::ChatMessageState;
use crate::domain::ids::{OutboxId, RequestId, TenantId, UserId};
use crate::domain::outbox::OutboxKind;
use crate::services::ServiceResult;
use crate::services::notify::AskReason;

/// The outbox sequence of one Slack message: its post, then its updates, in order.
pub(crate) fn sequence_key(message: Uuid) -> String {
    format!("slack:{message}")
}

async fn enqueue(
    conn: &mut Conn,
    tenant: TenantId,
    kind: OutboxKind,
    payload: &Value,
    sequence_key: Option<&str>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    db::outbox::enqueue(
        conn,
        NewOutbox {
            id: OutboxId::new(),
            tenant,
            kind,
            payload,
            sequence_key,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Asks `asked` (each approver with the plain token of their emailed link) in the
/// tenant's chat: a Slack direct message each, and one Teams card. Reminders stay in
/// email: a chat message already waits in the approver's Slack.
#[tracing::instrument(skip_all)]
pub(crate) async fn ask(
    conn: &mut Conn,
    stage: &StageRow,
    asked: &[(UserId, String)],
    reason: AskReason,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    if reason == AskReason::Reminder || asked.is_empty() {
        return Ok(());
    }
    let tenant = stage.tenant_id;
    let Some(settings) = db::chat::get_settings(conn, tenant).await? else {
        return Ok(());
    };
    if settings.slack_bot_token.is_some() {
        for (approver, _) in asked {
            let message = ChatMessage {
                tenant_id: tenant,
                id: Uuid::now_v7(),
                request_id: stage.request_id,
                stage_index: stage.stage_index,
                approver_id: *approver,
                state: ChatMessageState::Queued,
                slack_user_id: None,
                channel: None,
                ts: None,
                error: None,
                created_at: now,
                updated_at: now,
            };
            if let Some(id) = db::chat::insert_message(conn, &message).await? {
                let payload = json!({"type": "post", "messageId": id});
                let key = sequence_key(id);
                enqueue(conn, tenant, OutboxKind::Slack, &payload, Some(&key), now).await?;
            }
        }
    }
    if settings.teams_webhook_url.is_some() {
        let approvers: Vec<Value> = asked
            .iter()
            .map(|(a, token)| json!({"userId": a, "token": token}))
            .collect();
        let payload = json!({
            "requestId": stage.request_id,
            "stageIndex": stage.stage_index,
            "approvers": approvers,
        });
        enqueue(conn, tenant, OutboxKind::Teams, &payload, None, now).await?;
    }
    Ok(())
}

/// A request changed (a decision, here or elsewhere, a new stage, a cancellation, a
/// time-out): each of its Slack messages still in someone's Slack is updated to show
/// where it stands. A message whose post or update still waits is left to it.
#[tracing::instrument(skip_all)]
pub(crate) async fn request_changed(
    conn: &mut Conn,
    tenant: TenantId,
    request: RequestId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    for m in db::chat::live_messages_of_request(conn, tenant, request).await? {
        let key = sequence_key(m.id);
        if db::chat::send_waiting(conn, tenant, &key).await? {
            continue;
        }
        let payload = json!({"type": "update", "messageId": m.id});
        enqueue(conn, tenant, OutboxKind::Slack, &payload, Some(&key), now).await?;
    }
    Ok(())
}

/// A reply in Slack only `user` sees, in `channel` (a refused click).
#[tracing::instrument(skip_all)]
pub(crate) async fn tell(
    conn: &mut Conn,
    tenant: TenantId,
    channel: &str,
    user: &str,
    text: &str,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let payload = json!({"type": "ephemeral", "channel": channel, "user": user, "text": text});
    enqueue(conn, tenant, OutboxKind::Slack, &payload, None, now).await
}
