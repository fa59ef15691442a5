//! `POST /chat/slack/{slug}/interactions`: Slack's Interactivity Request URL for a
//! tenant. The raw body is handed on untouched (the signature covers it); what Slack
//! should show the person comes back from `services::chat::interact`. No session, no
//! CSRF token: Slack's signature is the credential.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::services::chat::ChatContext;
use crate::services::chat::interact::{Incoming, Reply, interact};
use crate::services::chat::render::REASON_BLOCK;
use crate::state::AppState;

/// Slack's payloads are small; a larger body is not Slack's.
const MAX_BODY: usize = 256 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/chat/slack/{slug}/interactions", post(slack_interaction))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn slack_interaction(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ctx = ChatContext {
        pool: state.pool(),
        keys: state.keys(),
        http: state.http(),
        settings: state.settings(),
    };
    let incoming = Incoming {
        slug: &slug,
        timestamp: header("x-slack-request-timestamp"),
        signature: header("x-slack-signature"),
        body: &body,
    };
    match interact(ctx, incoming, state.now()).await {
        Reply::Ack => StatusCode::OK.into_response(),
        Reply::Ephemeral(text) => axum::Json(json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": text,
        }))
        .into_response(),
        Reply::FormError(text) => axum::Json(json!({
            "response_action": "errors",
            "errors": {REASON_BLOCK: text},
        }))
        .into_response(),
        Reply::Refused(status, text) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            axum::Json(json!({"response_type": "ephemeral", "text": text})),
        )
            .into_response(),
    }
}
