//! Deliveries (emails and connector calls) in the admin portal, failed ones first:
//! each with its attempts and last error, and a Reprocess button that puts a failed
//! one back in the queue (tenant admins; audited).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::ids::OutboxId;
use crate::domain::outbox::{OutboxKind, OutboxState};
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, PageError, PageResult, Params, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Pager, state_label, when, when_opt};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin/outbox", get(list_outbox))
        .route(
            "/t/{slug}/admin/outbox/{id}/reprocess",
            post(reprocess_delivery),
        )
}

struct DeliveryRow {
    what: String,
    to: String,
    state: Badge,
    attempts: i32,
    error: String,
    created: String,
    completed: String,
    reprocess: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/outbox.html")]
struct OutboxView {
    shell: Shell,
    csrf: String,
    base: String,
    state: String,
    /// The kind shown (empty: every kind).
    kind: String,
    states: Vec<(&'static str, String)>,
    rows: Vec<DeliveryRow>,
    pager: Pager,
}

async fn list_outbox(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let filter = q.get("state").unwrap_or_else(|| "failed".to_string());
    let chosen = (filter != "all").then_some(filter.as_str());
    if let Some(s) = chosen
        && OutboxState::parse(s).is_none()
    {
        return Err(PageError::bad_request(format!(
            "'{s}' is not a delivery state."
        )));
    }
    let kind = q.get("kind").filter(|k| !k.is_empty());
    if let Some(k) = &kind
        && OutboxKind::parse(k).is_none()
    {
        return Err(PageError::bad_request(format!(
            "'{k}' is not a kind of delivery."
        )));
    }
    let p = services::outbox::outbox_page(state.pool(), &who.caller, chosen, kind.as_deref(), page)
        .await?;
    let base = who.url("/admin/outbox");
    let rows = p
        .page
        .items
        .iter()
        .map(|r| {
            let (what, to) = match r.kind {
                OutboxKind::Email => (
                    format!(
                        "Email: {}",
                        state_label(r.payload["notice"]["template"].as_str().unwrap_or("email"))
                    ),
                    services::outbox::recipient(r).map_or_else(String::new, |u| {
                        format!("{} ({})", p.names.user(u), p.names.user_email(u))
                    }),
                ),
                OutboxKind::Webhook | OutboxKind::Scim | OutboxKind::Ldap => (
                    format!(
                        "Connector call: {}",
                        r.payload["type"].as_str().unwrap_or("call")
                    ),
                    r.payload["resourceName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
                OutboxKind::Slack => (
                    format!(
                        "Slack message: {}",
                        r.payload["type"].as_str().unwrap_or("message")
                    ),
                    String::new(),
                ),
                OutboxKind::Teams => ("Teams card".to_string(), String::new()),
                OutboxKind::Extension => (
                    format!(
                        "Custom extension call: {}",
                        r.payload["stage"].as_str().unwrap_or("call")
                    ),
                    String::new(),
                ),
            };
            DeliveryRow {
                what,
                to,
                state: Badge::state(r.state),
                attempts: r.attempts,
                error: r.last_error.clone().unwrap_or_default(),
                created: when(r.created_at),
                completed: when_opt(r.completed_at),
                reprocess: (r.state == OutboxState::Failed)
                    .then(|| format!("{base}/{}/reprocess", r.id)),
            }
        })
        .collect();
    let filtered = match &kind {
        Some(k) => format!("{base}?state={filter}&kind={k}"),
        None => format!("{base}?state={filter}"),
    };
    let mut states = vec![("all", "All".to_string())];
    states.extend(
        OutboxState::ALL
            .iter()
            .map(|s| (s.as_str(), state_label(s))),
    );
    Ok(OutboxView {
        shell: who.shell("Deliveries", Section::Overview),
        csrf: who.csrf.clone(),
        pager: Pager::new(&filtered, &page, p.page.next),
        base,
        state: filter,
        kind: kind.unwrap_or_default(),
        states,
        rows,
    }
    .into_response())
}

async fn reprocess_delivery(
    State(state): State<AppState>,
    Ids(id): Ids<OutboxId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::outbox::reprocess(state.pool(), &who.caller, id, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url("/admin/outbox"),
        "Delivery queued again; it is tried at once.",
    ))
}
