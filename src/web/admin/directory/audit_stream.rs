//! "Audit streaming" (tenant admins, as the `/tenant/auditStream` API): where the audit
//! log is shipped, whether it is on, and how delivery goes (last delivery, last error,
//! next attempt).
//!
//! Invariant: the signing secret is write-only: a blank field keeps it; one Portico
//! generates is shown once, on the answer to the save that generated it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::services::audit_stream::{StreamInput, StreamView};
use crate::services::{self};
use crate::state::AppState;
use crate::time_text::when;
use crate::web::session::{AdminCaller, PageError, PageResult, Posted, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid};

const PAGE: &str = "/admin/audit/stream";

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit_stream.html")]
struct StreamPage {
    shell: Shell,
    csrf: String,
    base: String,
    log: String,
    errors: Errors,
    set_up: bool,
    url: String,
    enabled: bool,
    status: String,
    last_delivered: String,
    last_error: String,
    next_attempt: String,
    delivered_events: i64,
    generated_secret: String,
}

fn label(field: &str) -> Option<String> {
    let label = match field {
        "url" => "Receiver URL",
        "secret" => "Signing secret",
        _ => return None,
    };
    Some(label.into())
}

fn status(v: &StreamView) -> String {
    if !v.enabled {
        "Off: no events are sent.".into()
    } else if v.attempts > 0 {
        format!(
            "Failing: {} attempts since the last delivery; events wait and none is lost.",
            v.attempts
        )
    } else {
        "On: events are sent as they are committed.".into()
    }
}

async fn page(
    state: &AppState,
    who: &AdminCaller,
    errors: Errors,
    typed: Option<(String, bool)>,
    generated_secret: Option<String>,
) -> Result<StreamPage, PageError> {
    let view = services::audit_stream::get(state.pool(), &who.caller).await?;
    let (url, enabled) = typed.unwrap_or_else(|| {
        view.as_ref()
            .map_or((String::new(), true), |v| (v.url.clone(), v.enabled))
    });
    Ok(StreamPage {
        shell: who.shell("Audit streaming", Section::Audit),
        csrf: who.csrf.clone(),
        base: who.url(PAGE),
        log: who.url("/admin/audit"),
        errors: errors.labelled(label),
        set_up: view.is_some(),
        url,
        enabled,
        status: view.as_ref().map(status).unwrap_or_default(),
        last_delivered: view
            .as_ref()
            .and_then(|v| v.last_delivered_at)
            .map(when)
            .unwrap_or_else(|| "never".into()),
        last_error: view
            .as_ref()
            .and_then(|v| v.last_error.clone())
            .unwrap_or_default(),
        next_attempt: view
            .as_ref()
            .filter(|v| v.attempts > 0)
            .map(|v| when(v.next_attempt_at))
            .unwrap_or_default(),
        delivered_events: view.as_ref().map_or(0, |v| v.delivered_events),
        generated_secret: generated_secret.unwrap_or_default(),
    })
}

pub(super) async fn show_audit_stream(
    State(state): State<AppState>,
    who: AdminCaller,
) -> PageResult {
    Ok(page(&state, &who, Errors::none(), None, None)
        .await?
        .into_response())
}

pub(super) async fn save_audit_stream(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let url = form.text("url").trim().to_string();
    let enabled = form.opt("enabled").is_some();
    let saved = services::audit_stream::put(
        state.pool(),
        state.keys(),
        state.http(),
        &who.caller,
        StreamInput {
            url: url.clone(),
            enabled,
            secret: form.opt("secret"),
        },
        state.now(),
    )
    .await;
    match saved {
        Ok(saved) => match saved.generated_secret {
            // Shown once, here: a redirect would lose it.
            Some(secret) => Ok(page(&state, &who, Errors::none(), None, Some(secret))
                .await?
                .into_response()),
            None => Ok(redirect_with_flash(
                &state,
                &who.url(PAGE),
                "Audit streaming saved.",
            )),
        },
        Err(e) => {
            let errors = form_errors(e)?;
            Ok(invalid(
                page(&state, &who, errors, Some((url, enabled)), None).await?,
            ))
        }
    }
}
