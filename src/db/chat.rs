//! The tenant's chat settings (one row per tenant) and the Slack messages sent to
//! approvers. A message row is written with the stage that asks its approver and is
//! the only place its Slack channel and ts are kept.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Conn, DbResult};
use crate::domain::chat::ChatMessageState;
use crate::domain::ids::{RequestId, TenantId, UserId};
pub use crate::model::chat::{ChatMessage, ChatSettingsRow};

pub async fn get_settings(conn: &mut Conn, tenant: TenantId) -> DbResult<Option<ChatSettingsRow>> {
    Ok(sqlx::query_as(
        "select tenant_id, slack_bot_token, slack_signing_secret, teams_webhook_url, created_at, updated_at
         from chat_settings where tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(conn)
    .await?)
}

/// Inserts or replaces the tenant's settings (`created_at` of an existing row stays).
pub async fn upsert_settings(conn: &mut Conn, s: &ChatSettingsRow) -> DbResult<()> {
    sqlx::query(
        "insert into chat_settings (tenant_id, slack_bot_token, slack_signing_secret, teams_webhook_url,
             created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (tenant_id) do update set slack_bot_token = excluded.slack_bot_token,
             slack_signing_secret = excluded.slack_signing_secret,
             teams_webhook_url = excluded.teams_webhook_url, updated_at = excluded.updated_at",
    )
    .bind(s.tenant_id)
    .bind(&s.slack_bot_token)
    .bind(&s.slack_signing_secret)
    .bind(&s.teams_webhook_url)
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

const MESSAGE_COLUMNS: &str = "tenant_id, id, request_id, stage_index, approver_id, state, slack_user_id, \
     channel, ts, error, created_at, updated_at";

/// Adds the message to an approver of a stage; `None` when one was queued for them
/// already (an approver asked again keeps their one message).
pub async fn insert_message(conn: &mut Conn, m: &ChatMessage) -> DbResult<Option<Uuid>> {
    Ok(sqlx::query_scalar(
        "insert into chat_messages (tenant_id, id, request_id, stage_index, approver_id, state,
             slack_user_id, channel, ts, error, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict on constraint chat_messages_approver_key do nothing
         returning id",
    )
    .bind(m.tenant_id)
    .bind(m.id)
    .bind(m.request_id)
    .bind(m.stage_index)
    .bind(m.approver_id)
    .bind(m.state)
    .bind(&m.slack_user_id)
    .bind(&m.channel)
    .bind(&m.ts)
    .bind(&m.error)
    .bind(m.created_at)
    .bind(m.updated_at)
    .fetch_optional(conn)
    .await?)
}

pub async fn get_message(
    conn: &mut Conn,
    tenant: TenantId,
    id: Uuid,
) -> DbResult<Option<ChatMessage>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MESSAGE_COLUMNS} from chat_messages where tenant_id = $1 and id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// The messages of a request that are, or may yet be, in someone's Slack.
pub async fn live_messages_of_request(
    conn: &mut Conn,
    tenant: TenantId,
    request: RequestId,
) -> DbResult<Vec<ChatMessage>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MESSAGE_COLUMNS} from chat_messages
         where tenant_id = $1 and request_id = $2 and state in ('queued', 'posted')
         order by stage_index, created_at, id"
    )))
    .bind(tenant)
    .bind(request)
    .fetch_all(conn)
    .await?)
}

/// The message of `approver` on a stage, if one was queued.
pub async fn message_of(
    conn: &mut Conn,
    tenant: TenantId,
    request: RequestId,
    stage_index: i32,
    approver: UserId,
) -> DbResult<Option<ChatMessage>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MESSAGE_COLUMNS} from chat_messages
         where tenant_id = $1 and request_id = $2 and stage_index = $3 and approver_id = $4"
    )))
    .bind(tenant)
    .bind(request)
    .bind(stage_index)
    .bind(approver)
    .fetch_optional(conn)
    .await?)
}

/// The Portico user whose email address Slack last matched to `slack_user`, if any.
pub async fn user_of_slack_id(
    conn: &mut Conn,
    tenant: TenantId,
    slack_user: &str,
) -> DbResult<Option<UserId>> {
    Ok(sqlx::query_scalar(
        "select approver_id from chat_messages where tenant_id = $1 and slack_user_id = $2
         order by updated_at desc limit 1",
    )
    .bind(tenant)
    .bind(slack_user)
    .fetch_optional(conn)
    .await?)
}

/// Records where a message stands after an attempt.
#[allow(clippy::too_many_arguments)]
pub async fn set_message_state(
    conn: &mut Conn,
    tenant: TenantId,
    id: Uuid,
    state: ChatMessageState,
    slack_user_id: Option<&str>,
    channel: Option<&str>,
    ts: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "update chat_messages set state = $3, slack_user_id = coalesce($4, slack_user_id),
             channel = coalesce($5, channel), ts = coalesce($6, ts), error = $7, updated_at = $8
         where tenant_id = $1 and id = $2",
    )
    .bind(tenant)
    .bind(id)
    .bind(state)
    .bind(slack_user_id)
    .bind(channel)
    .bind(ts)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a post or update of the message is queued and not yet picked up: it will
/// read the request when it is sent, so another would show the same.
pub async fn send_waiting(conn: &mut Conn, tenant: TenantId, sequence_key: &str) -> DbResult<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from outbox where tenant_id = $1 and kind = 'slack'
             and sequence_key = $2 and state = 'pending' and attempts = 0)",
    )
    .bind(tenant)
    .bind(sequence_key)
    .fetch_one(conn)
    .await?)
}

/// Removes the one-time approval-link tokens from a Teams card row once it no longer
/// needs them (sent, or failed for good).
pub async fn forget_card_tokens(
    conn: &mut Conn,
    tenant: TenantId,
    id: crate::domain::ids::OutboxId,
) -> DbResult<()> {
    sqlx::query(
        "update outbox set payload = jsonb_set(payload, '{approvers}',
             coalesce((select jsonb_agg(a - 'token') from jsonb_array_elements(payload -> 'approvers') a), '[]'::jsonb))
         where tenant_id = $1 and id = $2 and kind = 'teams'",
    )
    .bind(tenant)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
