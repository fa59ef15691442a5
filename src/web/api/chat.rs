//! `/tenant/chat`: the tenant's Slack app and Teams webhook (INTEGRATIONS.md §5).
//! Secrets are write-only: answers say only whether each is set.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use crate::domain::chat::{ChatInput, SlackInput, TeamsInput};
use crate::services::{self, chat::ChatView};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_chat, put_chat))
}

/// The tenant's chat settings; `null` where a channel is not set up.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    pub slack: Option<SlackSettings>,
    pub teams: Option<TeamsSettings>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlackSettings {
    pub bot_token_set: bool,
    pub signing_secret_set: bool,
    /// Where Slack sends clicks (the app's Interactivity Request URL).
    pub interaction_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamsSettings {
    pub webhook_url_set: bool,
}

/// Slack: the bot token (`xoxb-…`, scopes `chat:write`, `users:read`,
/// `users:read.email`) and the app's signing secret; either may be left out when one
/// is set already (it is kept).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackBody {
    #[schema(example = "xoxb-…")]
    pub bot_token: Option<String>,
    pub signing_secret: Option<String>,
}

/// Teams: the channel's incoming webhook URL (left out: the stored one is kept).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamsBody {
    pub webhook_url: Option<String>,
}

/// The chat settings; a channel sent as `null` (or left out) is not set up.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatBody {
    pub slack: Option<SlackBody>,
    pub teams: Option<TeamsBody>,
}

fn answer(state: &AppState, slug: &str, v: ChatView) -> Chat {
    let interaction_url = state
        .settings()
        .base_url
        .as_ref()
        .and_then(|b| b.join(&format!("/chat/slack/{slug}/interactions")).ok())
        .map(|u| u.to_string());
    Chat {
        slack: v.slack.map(|s| SlackSettings {
            bot_token_set: s.bot_token_set,
            signing_secret_set: s.signing_secret_set,
            interaction_url,
        }),
        teams: v.teams.map(|t| TeamsSettings {
            webhook_url_set: t.webhook_url_set,
        }),
        updated_at: v.updated_at,
    }
}

/// The tenant's chat settings (tenant admins).
#[utoipa::path(get, path = "/tenant/chat", tag = "tenant",
    responses((status = 200, body = Chat), (status = 403, body = Problem)))]
async fn get_chat(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Chat>, AppError> {
    let view = services::chat::get(state.pool(), &caller).await?;
    Ok(Json(answer(&state, &caller.tenant.slug, view)))
}

/// Sets the tenant's chat settings (tenant admins); 422 names every bad field.
#[utoipa::path(put, path = "/tenant/chat", tag = "tenant", request_body = ChatBody,
    responses((status = 200, body = Chat), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn put_chat(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Json<Chat>, AppError> {
    let input = ChatInput {
        slack: body.slack.map(|s| SlackInput {
            bot_token: s.bot_token,
            signing_secret: s.signing_secret,
        }),
        teams: body.teams.map(|t| TeamsInput {
            webhook_url: t.webhook_url,
        }),
    };
    let view = services::chat::put(
        state.pool(),
        state.keys(),
        state.http(),
        state.settings().webhook_allow_private,
        &caller,
        input,
        state.now(),
    )
    .await?;
    Ok(Json(answer(&state, &caller.tenant.slug, view)))
}
