//! Delivers the chat rows of the outbox (the scheduler claims them and decides when to
//! retry): a Slack message is posted to its approver (found by email with
//! `users.lookupByEmail`, then `chat.postMessage` to their user id) and its channel and
//! ts kept; an update re-renders a posted message from the request as it is now
//! (`chat.update`); a reply goes to one person (`chat.postEphemeral`); a Teams card is
//! posted to the tenant's webhook.
//!
//! An approver Slack does not know is recorded on their message and not tried again;
//! a message whose stage no longer waits for its approver when its turn comes is not
//! posted. Nothing here runs inside a transaction.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::ChatContext;
use super::render::{self, CardLinks};
use super::settings::{Opened, opened};
use crate::connectors::slack::{Slack, SlackError};
use crate::connectors::teams;
use crate::db;
use crate::db::chat::ChatMessage;
use crate::domain::chat::{ChatMessageState, StageRef};
use crate::domain::ids::{OutboxId, RequestId, TenantId, UserId};
use crate::services::approval_links::{self, LinkStatus};
use crate::services::delivery::Claimed;

/// What became of one attempt.
#[derive(Debug)]
pub enum Outcome {
    /// Sent, or nothing (left) to send; the reason is logged.
    Done(Option<String>),
    /// Worth trying again later.
    Retry(String),
    /// Trying again will not help.
    Failed(String),
}

impl From<SlackError> for Outcome {
    fn from(e: SlackError) -> Self {
        match e {
            SlackError::Transient(m) => Self::Retry(m),
            SlackError::Permanent(m) => Self::Failed(m),
        }
    }
}

#[derive(Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
enum SlackRow {
    Post {
        message_id: Uuid,
    },
    Update {
        message_id: Uuid,
    },
    Ephemeral {
        channel: String,
        user: String,
        text: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardRow {
    request_id: RequestId,
    stage_index: i32,
    approvers: Vec<CardApprover>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CardApprover {
    user_id: UserId,
    #[serde(default)]
    token: Option<String>,
}

async fn settings_of(ctx: ChatContext<'_>, tenant: TenantId) -> Result<Opened, Outcome> {
    let mut conn = ctx
        .pool
        .acquire()
        .await
        .map_err(|e| Outcome::Retry(format!("loading the chat settings: {e}")))?;
    // A secret that no longer opens (the key changed) is retried: setting it again
    // lets the message through before it is given up.
    opened(&mut conn, ctx.keys, tenant)
        .await
        .map_err(|e| Outcome::Retry(format!("{e:#}")))
}

/// A row's payload and the tenant's opened settings, or the outcome that ends the
/// attempt (an unreadable row fails for good; unreadable settings are retried).
async fn read<T: serde::de::DeserializeOwned>(
    ctx: ChatContext<'_>,
    row: &Claimed,
    what: &str,
) -> Result<(T, Opened), Outcome> {
    let payload = serde_json::from_value(row.payload.clone())
        .map_err(|e| Outcome::Failed(format!("unreadable {what} row: {e}")))?;
    Ok((payload, settings_of(ctx, row.tenant_id).await?))
}

/// One attempt at a `slack` row.
#[tracing::instrument(skip_all, fields(tenant = %row.tenant_id, id = %row.id))]
pub async fn slack(ctx: ChatContext<'_>, row: &Claimed, now: DateTime<Utc>) -> Outcome {
    let (parsed, opened): (SlackRow, _) = match read(ctx, row, "Slack").await {
        Ok(read) => read,
        Err(outcome) => return outcome,
    };
    let Some((token, _)) = opened.slack else {
        return Outcome::Done(Some("Slack is no longer set up for the tenant".into()));
    };
    let api = Slack::new(ctx.http, &ctx.settings.slack_api_url, &token);
    match parsed {
        SlackRow::Post { message_id } => post(ctx, &api, row.tenant_id, message_id, now).await,
        SlackRow::Update { message_id } => update(ctx, &api, row.tenant_id, message_id, now).await,
        SlackRow::Ephemeral {
            channel,
            user,
            text,
        } => match api.post_ephemeral(&channel, &user, &text).await {
            Ok(()) => Outcome::Done(None),
            Err(e) => e.into(),
        },
    }
}

async fn message(ctx: ChatContext<'_>, tenant: TenantId, id: Uuid) -> Result<ChatMessage, Outcome> {
    let mut conn = ctx
        .pool
        .acquire()
        .await
        .map_err(|e| Outcome::Retry(format!("loading the message: {e}")))?;
    db::chat::get_message(&mut conn, tenant, id)
        .await
        .map_err(|e| Outcome::Retry(format!("loading the message: {e}")))?
        .ok_or_else(|| Outcome::Done(Some(format!("message {id} no longer exists"))))
}

/// What Slack told about a message: whom it went to and where it is.
#[derive(Default)]
struct Found<'a> {
    slack_user: Option<&'a str>,
    channel: Option<&'a str>,
    ts: Option<&'a str>,
}

/// A failed load or write: tried again later.
fn retry(what: &'static str) -> impl Fn(db::DbError) -> Outcome {
    move |e| Outcome::Retry(format!("{what}: {e}"))
}

/// Records where a message stands; a failure to record is retried.
async fn record(
    ctx: ChatContext<'_>,
    m: &ChatMessage,
    state: ChatMessageState,
    found: Found<'_>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Outcome> {
    let mut conn = ctx
        .pool
        .acquire()
        .await
        .map_err(|e| Outcome::Retry(format!("recording the message: {e}")))?;
    db::chat::set_message_state(
        &mut conn,
        m.tenant_id,
        m.id,
        state,
        found.slack_user,
        found.channel,
        found.ts,
        error,
        now,
    )
    .await
    .map_err(retry("recording the message"))
}

/// The message is not sent, for `why` (kept on it): done with this row.
async fn settle(
    ctx: ChatContext<'_>,
    m: &ChatMessage,
    state: ChatMessageState,
    why: String,
    now: DateTime<Utc>,
) -> Result<Outcome, Outcome> {
    record(ctx, m, state, Found::default(), Some(&why), now).await?;
    Ok(Outcome::Done(Some(why)))
}

/// The request as the message's approver would see it now, rendered.
async fn rendered(
    ctx: ChatContext<'_>,
    m: &ChatMessage,
    now: DateTime<Utc>,
) -> Result<Option<(LinkStatus, String, serde_json::Value)>, Outcome> {
    let mut conn = ctx
        .pool
        .acquire()
        .await
        .map_err(|e| Outcome::Retry(format!("loading the request: {e}")))?;
    let view = approval_links::stage_view(
        &mut conn,
        m.tenant_id,
        m.request_id,
        m.stage_index,
        m.approver_id,
        now,
    )
    .await
    .map_err(|e| Outcome::Retry(format!("loading the request: {e:#}")))?;
    Ok(view.map(|v| {
        let stage = StageRef {
            request: m.request_id,
            stage_index: m.stage_index,
        };
        let (text, blocks) = render::slack_message(&v, stage);
        (v.status, text, blocks)
    }))
}

async fn post(
    ctx: ChatContext<'_>,
    api: &Slack<'_>,
    tenant: TenantId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Outcome {
    post_once(ctx, api, tenant, id, now)
        .await
        .unwrap_or_else(|outcome| outcome)
}

async fn post_once(
    ctx: ChatContext<'_>,
    api: &Slack<'_>,
    tenant: TenantId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Outcome, Outcome> {
    use ChatMessageState::{Failed, NotFound, Posted, Queued, Skipped};
    let m = message(ctx, tenant, id).await?;
    // A failed message is tried again when an admin reprocesses its row.
    if !matches!(m.state, Queued | Failed) {
        return Ok(Outcome::Done(Some(format!(
            "the message is {} already",
            m.state
        ))));
    }
    let Some((status, text, blocks)) = rendered(ctx, &m, now).await? else {
        return settle(ctx, &m, Skipped, "the stage is gone".into(), now).await;
    };
    if status != LinkStatus::Open {
        let why = "the stage no longer waits for this approver".into();
        return settle(ctx, &m, Skipped, why, now).await;
    }
    // Found on an earlier attempt: not looked up again.
    let slack_user = match &m.slack_user_id {
        Some(u) => u.clone(),
        None => {
            let approver = {
                let mut conn = ctx
                    .pool
                    .acquire()
                    .await
                    .map_err(|e| Outcome::Retry(format!("loading the approver: {e}")))?;
                db::users::get(&mut conn, tenant, m.approver_id)
                    .await
                    .map_err(retry("loading the approver"))?
            };
            let Some(approver) = approver.filter(|u| u.active) else {
                let why = "the approver is no longer active".into();
                return settle(ctx, &m, Skipped, why, now).await;
            };
            match api.lookup_by_email(&approver.email).await {
                Ok(Some(u)) => {
                    let found = Found {
                        slack_user: Some(&u),
                        ..Found::default()
                    };
                    record(ctx, &m, Queued, found, None, now).await?;
                    u
                }
                Ok(None) => {
                    let why = format!(
                        "Slack has no user with the email address {}",
                        approver.email
                    );
                    return settle(ctx, &m, NotFound, why, now).await;
                }
                Err(e) => return Err(give_up(ctx, &m, e, now).await),
            }
        }
    };
    match api.post_message(&slack_user, &text, &blocks).await {
        Ok((channel, ts)) => {
            let found = Found {
                slack_user: None,
                channel: Some(&channel),
                ts: Some(&ts),
            };
            record(ctx, &m, Posted, found, None, now).await?;
            Ok(Outcome::Done(None))
        }
        Err(e) => Err(give_up(ctx, &m, e, now).await),
    }
}

/// A Slack error as the outcome; a permanent one is recorded on the message too.
async fn give_up(
    ctx: ChatContext<'_>,
    m: &ChatMessage,
    e: SlackError,
    now: DateTime<Utc>,
) -> Outcome {
    if let SlackError::Permanent(why) = &e
        && let Err(outcome) = settle(ctx, m, ChatMessageState::Failed, why.clone(), now).await
    {
        return outcome;
    }
    e.into()
}

async fn update(
    ctx: ChatContext<'_>,
    api: &Slack<'_>,
    tenant: TenantId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Outcome {
    let run = async {
        let m = message(ctx, tenant, id).await?;
        let (Some(channel), Some(ts), ChatMessageState::Posted) = (&m.channel, &m.ts, m.state)
        else {
            return Ok(Outcome::Done(Some(format!(
                "the message is {}, not posted",
                m.state
            ))));
        };
        let Some((_, text, blocks)) = rendered(ctx, &m, now).await? else {
            return Ok(Outcome::Done(Some("the stage is gone".into())));
        };
        Ok(match api.update(channel, ts, &text, &blocks).await {
            Ok(()) => Outcome::Done(None),
            Err(e) => e.into(),
        })
    };
    run.await.unwrap_or_else(|outcome| outcome)
}

/// One attempt at a `teams` row: the card names each approver still asked, with the
/// buttons of their emailed link.
#[tracing::instrument(skip_all, fields(tenant = %row.tenant_id, id = %row.id))]
pub async fn teams(ctx: ChatContext<'_>, row: &Claimed, now: DateTime<Utc>) -> Outcome {
    let (card, opened): (CardRow, _) = match read(ctx, row, "Teams").await {
        Ok(read) => read,
        Err(outcome) => return outcome,
    };
    let Some(url) = opened.teams_webhook_url else {
        return Outcome::Done(Some("Teams is no longer set up for the tenant".into()));
    };
    let base = ctx.settings.public_url();
    let mut shown = None;
    let mut links = Vec::new();
    {
        let mut conn = match ctx.pool.acquire().await {
            Ok(c) => c,
            Err(e) => return Outcome::Retry(format!("loading the request: {e}")),
        };
        for a in &card.approvers {
            let Some(token) = &a.token else {
                return Outcome::Failed("the card's one-time links were removed".into());
            };
            let view = match approval_links::stage_view(
                &mut conn,
                row.tenant_id,
                card.request_id,
                card.stage_index,
                a.user_id,
                now,
            )
            .await
            {
                Ok(v) => v,
                Err(e) => return Outcome::Retry(format!("loading the request: {e:#}")),
            };
            let Some(view) = view.filter(|v| v.status == LinkStatus::Open) else {
                continue;
            };
            links.push(CardLinks {
                approver: view.approver.clone(),
                approve: format!("{base}/links/{token}/approve"),
                deny: format!("{base}/links/{token}/deny"),
            });
            shown.get_or_insert(view);
        }
    }
    let Some(view) = shown else {
        return Outcome::Done(Some("the stage no longer waits for these approvers".into()));
    };
    let message = render::teams_card(&view, &links);
    match teams::post(ctx.http, &url, &message).await {
        Ok(()) => Outcome::Done(None),
        Err(e) => Outcome::Retry(e),
    }
}

/// Records an attempt's outcome on its row: done, retried at `retry_at`, or (when
/// `retry_at` is `None`, or the failure is permanent) failed for good. A Teams card's
/// link tokens go once the row is done or failed.
#[tracing::instrument(skip_all, fields(tenant = %tenant, id = %id))]
pub async fn finish(
    pool: &sqlx::PgPool,
    tenant: TenantId,
    id: OutboxId,
    outcome: &Outcome,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let closed = match outcome {
        Outcome::Done(_) => {
            db::outbox::complete(&mut tx, tenant, id, now).await?;
            true
        }
        Outcome::Retry(error) if retry_at.is_some() => {
            db::outbox::fail(&mut tx, tenant, id, error, retry_at, now).await?;
            false
        }
        Outcome::Retry(error) | Outcome::Failed(error) => {
            db::outbox::fail(&mut tx, tenant, id, error, None, now).await?;
            true
        }
    };
    if closed {
        db::chat::forget_card_tokens(&mut tx, tenant, id).await?;
    }
    tx.commit().await?;
    Ok(())
}
