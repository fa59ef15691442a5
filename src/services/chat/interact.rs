//! `POST /chat/slack/{slug}/interactions`: what Slack sends when an approver clicks
//! Approve or Deny, or sends the reason form. The request must be signed with the
//! tenant's signing secret at a time within five minutes of Portico's clock; the
//! clicking Slack user is mapped to a Portico user by email (the address their message
//! was found with, else `users.info`); the decision is the portal's own use case
//! (`requests::decide_approval`), so only an approver of the open stage decides, never
//! the target, once. A refusal is told to the person in Slack, never as a server error.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ChatContext;
use super::queue;
use super::render::{self, REASON_BLOCK};
use super::settings::opened;
use crate::connectors::slack::{self, Slack};
use crate::db;
use crate::db::tenants::Tenant;
use crate::db::users::User;
use crate::domain::DomainError;
use crate::domain::chat::{REASON_VIEW, StageRef, decision_of, needs_reason};
use crate::domain::ids::UserId;
use crate::domain::request::Decision;
use crate::services::approval_links::{self, LinkStatus, LinkView};
use crate::services::audit::Trail;
use crate::services::{Actor, ServiceError, requests};

/// How the edge answers Slack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// 200 with nothing to show (the message is updated through the outbox; a form
    /// closes).
    Ack,
    /// 200, and a text only the clicking person sees.
    Ephemeral(String),
    /// The reason form stays open with this message under the reason field.
    FormError(String),
    /// Not a request Portico takes (unsigned, stale, unknown tenant): the status
    /// and the text.
    Refused(u16, String),
}

/// An interaction as it arrived.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    pub slug: &'a str,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    /// The raw body, exactly as signed.
    pub body: &'a [u8],
}

/// What the person asked for, read from Slack's payload.
struct Asked {
    slack_user: String,
    channel: Option<String>,
    stage: StageRef,
    decision: Decision,
    kind: Kind,
}

enum Kind {
    /// A button: decide, or open the reason form with this trigger.
    Click { trigger_id: Option<String> },
    /// The reason form was sent.
    Form { reason: Option<String> },
}

const NOT_RECORDED: &str = "Portico recorded no decision.";

/// Handles one interaction at `now`.
#[tracing::instrument(skip_all, fields(tenant = %incoming.slug))]
pub async fn interact(ctx: ChatContext<'_>, incoming: Incoming<'_>, now: DateTime<Utc>) -> Reply {
    match handle(ctx, incoming, now).await {
        Ok(reply) | Err(reply) => reply,
    }
}

fn internal(e: impl std::fmt::Display) -> Reply {
    tracing::error!(error = %e, "a Slack interaction could not be handled");
    Reply::Ephemeral(format!(
        "Portico could not handle this just now; try again in a minute, or use the link in your email. {NOT_RECORDED}"
    ))
}

async fn handle(
    ctx: ChatContext<'_>,
    incoming: Incoming<'_>,
    now: DateTime<Utc>,
) -> Result<Reply, Reply> {
    let mut conn = ctx.pool.acquire().await.map_err(internal)?;
    let unknown = || {
        Reply::Refused(
            404,
            "Slack is not set up for this Portico tenant.".to_string(),
        )
    };
    let tenant = db::tenants::by_slug(&mut conn, incoming.slug)
        .await
        .map_err(internal)?
        .ok_or_else(unknown)?;
    let settings = opened(&mut conn, ctx.keys, tenant.id).await.map_err(|e| {
        tracing::warn!(error = %e, "the Slack signing secret does not open");
        Reply::Refused(
            503,
            "Portico cannot check Slack's signature: a tenant admin needs to set the Slack signing secret again.".into(),
        )
    })?;
    let (token, signing) = settings.slack.ok_or_else(unknown)?;
    drop(conn);
    slack::verify(
        &signing,
        incoming.timestamp.unwrap_or_default(),
        incoming.body,
        incoming.signature.unwrap_or_default(),
        now.timestamp(),
    )
    .map_err(|e| Reply::Refused(401, format!("Portico refused this request: {e}.")))?;
    let asked = read(incoming.body)?;
    let api = Slack::new(ctx.http, &ctx.settings.slack_api_url, &token);
    let refuse = |text: String| refusal(ctx, &tenant, &asked, text, now);
    let user = match who(ctx, &tenant, &api, &asked.slack_user).await? {
        Some(u) => u,
        None => {
            return Ok(refuse(format!(
                "Portico has no active user with your Slack account's email address, so you cannot decide here. {NOT_RECORDED}"
            ))
            .await);
        }
    };
    let view = match check(ctx, &tenant, &user, asked.stage, now).await? {
        Ok(view) => view,
        Err(text) => return Ok(refuse(text).await),
    };
    match &asked.kind {
        Kind::Click { trigger_id } if needs_reason(asked.decision, view.require_justification) => {
            let Some(trigger) = trigger_id else {
                return Ok(refuse(format!(
                    "Slack sent no trigger for the form. {NOT_RECORDED}"
                ))
                .await);
            };
            let form = render::reason_form(&view, asked.stage, asked.decision);
            // The trigger lives three seconds: the form is opened now, not queued.
            match api.open_view(trigger, &form).await {
                Ok(()) => Ok(Reply::Ack),
                Err(e) => Ok(refuse(format!(
                    "Slack did not open the form ({e}); use the link in your email. {NOT_RECORDED}"
                ))
                .await),
            }
        }
        Kind::Click { .. } => decide(ctx, &tenant, user, &asked, None, now).await,
        Kind::Form { reason } => decide(ctx, &tenant, user, &asked, reason.clone(), now).await,
    }
}

/// Reads Slack's `payload=` form field.
fn read(body: &[u8]) -> Result<Asked, Reply> {
    let bad = |what: &str| {
        Reply::Refused(
            400,
            format!("Portico does not take this interaction: {what}."),
        )
    };
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| bad("no payload"))?;
    let p: Value = serde_json::from_str(&payload).map_err(|_| bad("the payload is not JSON"))?;
    let text = |v: &Value| v.as_str().map(String::from);
    let slack_user = text(&p["user"]["id"]).ok_or_else(|| bad("no user"))?;
    let channel = text(&p["channel"]["id"]).or_else(|| text(&p["container"]["channel_id"]));
    match p["type"].as_str() {
        Some("block_actions") => {
            let action = &p["actions"][0];
            let decision = action["action_id"]
                .as_str()
                .and_then(decision_of)
                .ok_or_else(|| bad("an unknown action"))?;
            let stage = action["value"]
                .as_str()
                .and_then(StageRef::parse)
                .ok_or_else(|| bad("an unknown button"))?;
            Ok(Asked {
                slack_user,
                channel,
                stage,
                decision,
                kind: Kind::Click {
                    trigger_id: text(&p["trigger_id"]),
                },
            })
        }
        Some("view_submission") if p["view"]["callback_id"] == REASON_VIEW => {
            let (stage, decision) = p["view"]["private_metadata"]
                .as_str()
                .and_then(render::parse_form_metadata)
                .ok_or_else(|| bad("an unknown form"))?;
            let reason = p["view"]["state"]["values"][REASON_BLOCK][REASON_BLOCK]["value"]
                .as_str()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(String::from);
            Ok(Asked {
                slack_user,
                channel,
                stage,
                decision,
                kind: Kind::Form { reason },
            })
        }
        _ => Err(bad("an unknown kind of interaction")),
    }
}

/// A refusal told to the person: in the form when they sent one, otherwise as a reply
/// only they see (queued), and in the answer.
async fn refusal(
    ctx: ChatContext<'_>,
    tenant: &Tenant,
    asked: &Asked,
    text: String,
    now: DateTime<Utc>,
) -> Reply {
    if let Kind::Form { .. } = asked.kind {
        return Reply::FormError(text);
    }
    if let Some(channel) = &asked.channel {
        let queued = match ctx.pool.acquire().await {
            Ok(mut conn) => {
                queue::tell(&mut conn, tenant.id, channel, &asked.slack_user, &text, now).await
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = queued {
            tracing::warn!(error = %e, "a reply to a refused Slack click was not queued");
        }
    }
    Reply::Ephemeral(text)
}

/// The active Portico user behind a Slack user: the one whose email address Slack
/// matched to them when a message was sent, else the one with the email address Slack
/// gives for them.
async fn who(
    ctx: ChatContext<'_>,
    tenant: &Tenant,
    api: &Slack<'_>,
    slack_user: &str,
) -> Result<Option<User>, Reply> {
    let known = {
        let mut conn = ctx.pool.acquire().await.map_err(internal)?;
        match db::chat::user_of_slack_id(&mut conn, tenant.id, slack_user)
            .await
            .map_err(internal)?
        {
            Some(id) => db::users::get(&mut conn, tenant.id, id)
                .await
                .map_err(internal)?,
            None => None,
        }
    };
    let user = match known {
        Some(u) => Some(u),
        None => {
            let email = api.email_of(slack_user).await.map_err(|e| {
                Reply::Ephemeral(format!(
                    "Portico could not ask Slack who you are ({e}). {NOT_RECORDED}"
                ))
            })?;
            match email {
                Some(email) => {
                    let mut conn = ctx.pool.acquire().await.map_err(internal)?;
                    db::users::by_email(&mut conn, tenant.id, &email)
                        .await
                        .map_err(internal)?
                }
                None => None,
            }
        }
    };
    Ok(user.filter(|u| u.active))
}

/// Whether `user` may decide the stage the button names, by the rules of the link
/// pages: the view of the stage as they would see it, or why not.
async fn check(
    ctx: ChatContext<'_>,
    tenant: &Tenant,
    user: &User,
    stage: StageRef,
    now: DateTime<Utc>,
) -> Result<Result<LinkView, String>, Reply> {
    let mut conn = ctx.pool.acquire().await.map_err(internal)?;
    let request = db::requests::get(&mut conn, tenant.id, stage.request)
        .await
        .map_err(internal)?;
    let gone = || Ok(Err(format!("Portico has no such request. {NOT_RECORDED}")));
    let Some(request) = request else {
        return gone();
    };
    if request.target_user_id == user.id {
        return Ok(Err(format!(
            "You cannot decide a request for your own access. {NOT_RECORDED}"
        )));
    }
    let view = approval_links::stage_view(
        &mut conn,
        tenant.id,
        stage.request,
        stage.stage_index,
        user.id,
        now,
    )
    .await
    .map_err(internal)?;
    let Some(view) = view else {
        return gone();
    };
    Ok(match &view.status {
        LinkStatus::Open => Ok(view),
        LinkStatus::NotAnApprover => Err(format!(
            "You are not an approver of this stage of the request. {NOT_RECORDED}"
        )),
        LinkStatus::Decided(sentence) => Err(format!("{sentence} {NOT_RECORDED}")),
        LinkStatus::Expired => Err(format!(
            "This request expired before a decision. {NOT_RECORDED}"
        )),
    })
}

/// Decides as the portal does, as `user`, for the stage the button names only: the
/// request is locked first and the stage checked again under the lock, so a click on
/// a stage that closed meanwhile never lands on the next one.
async fn decide(
    ctx: ChatContext<'_>,
    tenant: &Tenant,
    user: User,
    asked: &Asked,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<Reply, Reply> {
    let approver: UserId = user.id;
    let decided = decide_stage(ctx, tenant, approver, asked, reason, now).await;
    let text = match decided {
        Ok(_) => {
            tracing::info!(approver = %approver, request = %asked.stage.request, decision = %asked.decision, "decided in Slack");
            return Ok(Reply::Ack);
        }
        Err(ServiceError::Domain(DomainError::Validation(errors))) => errors
            .0
            .get("justification")
            .cloned()
            .unwrap_or_else(|| errors.0.values().cloned().collect::<Vec<_>>().join("; ")),
        Err(ServiceError::Domain(DomainError::Conflict(m) | DomainError::Forbidden(m))) => {
            format!("{m} {NOT_RECORDED}")
        }
        Err(ServiceError::Domain(DomainError::NotFound(_))) => {
            format!("You are not an approver of this request. {NOT_RECORDED}")
        }
        Err(e) => return Err(internal(format!("{e:#}"))),
    };
    Ok(refusal(ctx, tenant, asked, text, now).await)
}

/// The locked decision of [`decide`]: `Conflict` when the named stage is no longer the
/// open one for this approver.
async fn decide_stage(
    ctx: ChatContext<'_>,
    tenant: &Tenant,
    approver: UserId,
    asked: &Asked,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let mut tx = ctx.pool.begin().await?;
    let request = db::requests::lock(&mut tx, tenant.id, asked.stage.request)
        .await?
        .ok_or(DomainError::NotFound("request"))?;
    let view = approval_links::stage_view(
        &mut tx,
        tenant.id,
        asked.stage.request,
        asked.stage.stage_index,
        approver,
        now,
    )
    .await?;
    match view.map(|v| v.status) {
        Some(LinkStatus::Open) => {}
        Some(LinkStatus::Decided(sentence)) => return Err(DomainError::conflict(sentence).into()),
        Some(LinkStatus::Expired) => {
            return Err(DomainError::conflict("This request expired before a decision.").into());
        }
        Some(LinkStatus::NotAnApprover) => {
            return Err(DomainError::Forbidden(
                "You are not an approver of this stage of the request.".into(),
            )
            .into());
        }
        None => return Err(DomainError::NotFound("request").into()),
    }
    let actor = Actor::User {
        id: approver,
        token: None,
    };
    let mut trail = Trail::default();
    requests::decide_locked(
        &mut tx,
        &mut trail,
        request,
        approver,
        actor,
        asked.decision,
        reason,
        now,
    )
    .await?;
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
