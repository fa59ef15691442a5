//! "Slack and Teams" (people who manage the directory, as the `/tenant/chat` API): the
//! tenant's Slack app (bot token and signing secret) and Teams workflow webhook, with
//! the interactivity URL to paste into the Slack app. Saving one channel keeps the
//! other as it is; each can be removed on its own.
//!
//! Invariant: a stored token, secret or webhook URL never appears on the page (they are
//! write-only: a blank field keeps the stored one).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::chat::{ChatInput, SlackInput, TeamsInput};
use crate::services::chat::ChatView;
use crate::services::{self};
use crate::state::AppState;
use crate::time_text::when;
use crate::web::session::{
    AdminCaller, FormData, PageError, PageResult, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid};

const PAGE: &str = "/admin/chat";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin/chat", get(show))
        .route("/t/{slug}/admin/chat/slack", post(save_slack))
        .route("/t/{slug}/admin/chat/slack/remove", post(remove_slack))
        .route("/t/{slug}/admin/chat/teams", post(save_teams))
        .route("/t/{slug}/admin/chat/teams/remove", post(remove_teams))
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/chat.html")]
struct ChatPage {
    shell: Shell,
    csrf: String,
    base: String,
    errors: Errors,
    slack_set: bool,
    teams_set: bool,
    updated: String,
    interaction_url: String,
}

fn label(field: &str) -> Option<String> {
    let label = match field {
        "slack.botToken" => "Bot token",
        "slack.signingSecret" => "Signing secret",
        "teams.webhookUrl" => "Workflow webhook URL",
        _ => return None,
    };
    Some(label.into())
}

async fn page(state: &AppState, who: &AdminCaller, errors: Errors) -> Result<ChatPage, PageError> {
    let view = services::chat::get(state.pool(), &who.caller).await?;
    let slug = who.slug();
    let path = format!("/chat/slack/{slug}/interactions");
    let interaction_url = state
        .settings()
        .base_url
        .as_ref()
        .and_then(|b| b.join(&path).ok())
        .map_or_else(
            || format!("{path} (set PORTICO_BASE_URL to the address Slack reaches Portico at)"),
            |u| u.to_string(),
        );
    Ok(ChatPage {
        shell: who.shell("Slack and Teams", Section::Chat),
        csrf: who.csrf.clone(),
        base: who.url(PAGE),
        errors: errors.labelled(label),
        slack_set: view.slack.is_some(),
        teams_set: view.teams.is_some(),
        updated: view.updated_at.map(when).unwrap_or_default(),
        interaction_url,
    })
}

async fn show(State(state): State<AppState>, who: AdminCaller) -> PageResult {
    Ok(page(&state, &who, Errors::none()).await?.into_response())
}

/// What is stored, as an input that keeps it (`None`: not set up).
fn kept(view: &ChatView) -> ChatInput {
    ChatInput {
        slack: view.slack.as_ref().map(|_| SlackInput {
            bot_token: None,
            signing_secret: None,
        }),
        teams: view
            .teams
            .as_ref()
            .map(|_| TeamsInput { webhook_url: None }),
    }
}

async fn save(
    state: &AppState,
    who: &AdminCaller,
    change: impl FnOnce(&mut ChatInput),
    done: &str,
) -> PageResult {
    let view = services::chat::get(state.pool(), &who.caller).await?;
    let mut input = kept(&view);
    change(&mut input);
    let saved = services::chat::put(
        state.pool(),
        state.keys(),
        state.http(),
        state.settings().webhook_allow_private,
        &who.caller,
        input,
        state.now(),
    )
    .await;
    match saved {
        Ok(_) => Ok(redirect_with_flash(state, &who.url(PAGE), done)),
        Err(e) => {
            let errors = form_errors(e)?;
            Ok(invalid(page(state, who, errors).await?))
        }
    }
}

fn posted(form: &FormData, name: &str) -> Option<String> {
    form.opt(name).filter(|v| !v.trim().is_empty())
}

async fn save_slack(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let slack = SlackInput {
        bot_token: posted(&form, "slack.botToken"),
        signing_secret: posted(&form, "slack.signingSecret"),
    };
    save(
        &state,
        &who,
        |input| input.slack = Some(slack),
        "Slack saved: approvers get a direct message with Approve and Deny buttons.",
    )
    .await
}

async fn remove_slack(
    State(state): State<AppState>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    save(
        &state,
        &who,
        |input| input.slack = None,
        "Slack removed: approvers are no longer messaged there.",
    )
    .await
}

async fn save_teams(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let teams = TeamsInput {
        webhook_url: posted(&form, "teams.webhookUrl"),
    };
    save(
        &state,
        &who,
        |input| input.teams = Some(teams),
        "Teams saved: approval cards are posted to the channel's workflow.",
    )
    .await
}

async fn remove_teams(
    State(state): State<AppState>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    save(
        &state,
        &who,
        |input| input.teams = None,
        "Teams removed: no more approval cards are posted.",
    )
    .await
}
