//! The person's own settings in My Access: the time zone they read and type times in
//! (empty: the tenant's). Each person changes only their own; there is no id in the
//! path to point at anyone else.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::services;
use crate::state::AppState;
use crate::web::session::{
    FormData, PageResult, Posted, SessionCaller, redirect_with_flash, zone_of,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid, when};

pub fn router() -> Router<AppState> {
    Router::new().route("/t/{slug}/settings", get(show_settings).post(save_settings))
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/settings.html")]
struct SettingsPage {
    shell: Shell,
    csrf: String,
    action: String,
    errors: Errors,
    /// The person's own zone as typed or stored; "" is the tenant's.
    time_zone: String,
    tenant_zone: String,
    /// The zone pages use for them now, and the time there.
    effective_zone: String,
    now: String,
}

fn settings_page(
    state: &AppState,
    who: &SessionCaller,
    form: Option<&FormData>,
    errors: Errors,
) -> SettingsPage {
    SettingsPage {
        shell: who.shell("Settings", Section::MySettings),
        csrf: who.csrf.clone(),
        action: who.url("/settings"),
        errors,
        time_zone: form.map_or_else(
            || who.caller.user.time_zone.clone().unwrap_or_default(),
            |f| f.text("timeZone"),
        ),
        tenant_zone: who.caller.tenant.time_zone.clone(),
        effective_zone: zone_of(&who.caller).name().to_string(),
        now: when(state.now()),
    }
}

async fn show_settings(State(state): State<AppState>, who: SessionCaller) -> PageResult {
    Ok(settings_page(&state, &who, None, Errors::none()).into_response())
}

async fn save_settings(
    State(state): State<AppState>,
    Posted { who, form }: Posted<SessionCaller>,
) -> PageResult {
    match services::profile::set_time_zone(
        state.pool(),
        &who.caller,
        form.opt("timeZone"),
        state.now(),
    )
    .await
    {
        Ok(_) => Ok(redirect_with_flash(
            &state,
            &who.url("/settings"),
            "Settings saved.",
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            Ok(invalid(settings_page(&state, &who, Some(&form), errors)))
        }
    }
}
