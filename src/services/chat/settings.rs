//! `GET, PUT /tenant/chat`: a tenant's Slack app (bot token, signing secret) and Teams
//! webhook. Every secret is write-only: sealed with the tenant's context before it is
//! stored, kept when an update leaves it out, and shown only as "set".

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::secret_context;
use crate::connectors::outbound::Outbound;
use crate::crypto::Keys;
use crate::db::chat::ChatSettingsRow;
use crate::db::{self, Conn};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::Action;
use crate::domain::chat::{ChatInput, SecretChange, Stored, parse_chat};
use crate::domain::ids::TenantId;
use crate::domain::{DomainError, FieldErrors};
use crate::services::tx::Work;
use crate::services::{Caller, ServiceResult};

const BOT_TOKEN: &str = "slackBotToken";
const SIGNING_SECRET: &str = "slackSigningSecret";
const WEBHOOK_URL: &str = "teamsWebhookUrl";

/// What a tenant admin sees of the chat settings.
#[derive(Clone, Debug, Default)]
pub struct ChatView {
    pub slack: Option<SlackView>,
    pub teams: Option<TeamsView>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct SlackView {
    pub bot_token_set: bool,
    pub signing_secret_set: bool,
}

#[derive(Clone, Debug)]
pub struct TeamsView {
    pub webhook_url_set: bool,
}

fn view(row: Option<&ChatSettingsRow>) -> ChatView {
    let Some(row) = row else {
        return ChatView::default();
    };
    ChatView {
        slack: row.slack_bot_token.as_ref().map(|_| SlackView {
            bot_token_set: true,
            signing_secret_set: row.slack_signing_secret.is_some(),
        }),
        teams: row.teams_webhook_url.as_ref().map(|_| TeamsView {
            webhook_url_set: true,
        }),
        updated_at: Some(row.updated_at),
    }
}

/// The opened secrets of a tenant's chat settings, for delivery and interactions.
#[derive(Clone, Default)]
pub(crate) struct Opened {
    /// `(bot token, signing secret)`
    pub slack: Option<(String, String)>,
    pub teams_webhook_url: Option<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opened(***)")
    }
}

/// The tenant's settings with their secrets opened; an error says which secret no
/// longer opens (the key changed) so an admin knows to set it again.
#[tracing::instrument(skip_all)]
pub(crate) async fn opened(
    conn: &mut Conn,
    keys: &Keys,
    tenant: TenantId,
) -> ServiceResult<Opened> {
    let Some(row) = db::chat::get_settings(conn, tenant).await? else {
        return Ok(Opened::default());
    };
    let open = |sealed: &Option<String>, what: &str| -> ServiceResult<Option<String>> {
        sealed
            .as_deref()
            .map(|s| {
                keys.open(s, &secret_context(tenant, what)).map_err(|e| {
                    DomainError::conflict(format!("the chat settings' {what}: {e}")).into()
                })
            })
            .transpose()
    };
    let token = open(&row.slack_bot_token, BOT_TOKEN)?;
    let signing = open(&row.slack_signing_secret, SIGNING_SECRET)?;
    Ok(Opened {
        slack: token.zip(signing),
        teams_webhook_url: open(&row.teams_webhook_url, WEBHOOK_URL)?,
    })
}

/// The tenant's chat settings (tenant admins).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn get(pool: &PgPool, caller: &Caller) -> ServiceResult<ChatView> {
    caller.require(Action::ManageDirectory)?;
    let mut conn = pool.acquire().await?;
    let row = db::chat::get_settings(&mut conn, caller.tenant_id()).await?;
    Ok(view(row.as_ref()))
}

/// Sets the tenant's chat settings (tenant admins): each of Slack and Teams is set,
/// or removed when sent as null. Every bad field is named at once (422); a left-out
/// secret is kept.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn put(
    pool: &PgPool,
    keys: &Keys,
    http: &Outbound,
    allow_http: bool,
    caller: &Caller,
    input: ChatInput,
    now: DateTime<Utc>,
) -> ServiceResult<ChatView> {
    let permit = caller.require(Action::ManageDirectory)?;
    let tenant = caller.tenant_id();
    let mut work = Work::begin(pool, tenant, now).await?;
    let existing = db::chat::get_settings(work.conn(), tenant).await?;
    let stored = Stored {
        slack: existing
            .as_ref()
            .is_some_and(|r| r.slack_bot_token.is_some()),
        teams: existing
            .as_ref()
            .is_some_and(|r| r.teams_webhook_url.is_some()),
    };
    let change = parse_chat(&input, stored, allow_http)
        .map_err(|e| crate::services::ServiceError::Domain(DomainError::Validation(e)))?;
    if let Some(SecretChange::New(url)) = &change.teams
        && let Err(e) = http.check_url(url)
    {
        let mut errors = FieldErrors::new();
        errors.add("teams.webhookUrl", e.to_string());
        return Err(DomainError::Validation(errors).into());
    }
    let seal = |change: &SecretChange, kept: Option<&String>, what: &str| match change {
        SecretChange::New(v) => Some(keys.seal(v, &secret_context(tenant, what))),
        SecretChange::Keep => kept.cloned(),
    };
    let old = existing.as_ref();
    let (bot_token, signing_secret) = match &change.slack {
        Some((token, signing)) => (
            seal(
                token,
                old.and_then(|r| r.slack_bot_token.as_ref()),
                BOT_TOKEN,
            ),
            seal(
                signing,
                old.and_then(|r| r.slack_signing_secret.as_ref()),
                SIGNING_SECRET,
            ),
        ),
        None => (None, None),
    };
    let webhook = change.teams.as_ref().and_then(|url| {
        seal(
            url,
            old.and_then(|r| r.teams_webhook_url.as_ref()),
            WEBHOOK_URL,
        )
    });
    let row = ChatSettingsRow {
        tenant_id: tenant,
        slack_bot_token: bot_token,
        slack_signing_secret: signing_secret,
        teams_webhook_url: webhook,
        created_at: old.map_or(now, |r| r.created_at),
        updated_at: now,
    };
    db::chat::upsert_settings(work.conn(), &row).await?;
    let changed = |c: Option<&SecretChange>| c.is_some_and(SecretChange::is_new);
    work.audit(
        AuditAction::ChatSet,
        Target::Tenant(tenant),
        json!({
            "slack": change.slack.is_some(),
            "slackBotTokenChanged": changed(change.slack.as_ref().map(|s| &s.0)),
            "slackSigningSecretChanged": changed(change.slack.as_ref().map(|s| &s.1)),
            "teams": change.teams.is_some(),
            "teamsWebhookUrlChanged": changed(change.teams.as_ref()),
        }),
    );
    work.commit(caller.permitted(permit)).await?;
    Ok(view(Some(&row)))
}
