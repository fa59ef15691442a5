//! Importing users from CSV: a per-row report, and nothing half imported.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;

use crate::services::users::{ImportOutcome, RowError};
use crate::services::{self};
use crate::state::AppState;
use crate::web::session::{AdminCaller, PageResult, Posted, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::invalid;

use super::require_directory;

#[derive(Template, WebTemplate)]
#[template(path = "admin/import.html")]
struct ImportPage {
    shell: Shell,
    csrf: String,
    base: String,
    csv: String,
    rejected: Vec<RowError>,
}

pub(super) async fn import_form(who: AdminCaller) -> PageResult {
    require_directory(&who)?;
    Ok(ImportPage {
        shell: who.shell("Import users", Section::Users),
        csrf: who.csrf.clone(),
        base: who.url("/admin/users"),
        csv: String::new(),
        rejected: Vec::new(),
    }
    .into_response())
}

pub(super) async fn import_users(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let csv = form.text("csv");
    let outcome = services::users::import_csv(state.pool(), &who.caller, &csv, state.now()).await?;
    match outcome {
        ImportOutcome::Imported(users) => Ok(redirect_with_flash(
            &state,
            &who.url("/admin/users"),
            &format!("{} users imported.", users.len()),
        )),
        ImportOutcome::Rejected(rejected) => Ok(invalid(ImportPage {
            shell: who.shell("Import users", Section::Users),
            csrf: who.csrf.clone(),
            base: who.url("/admin/users"),
            csv,
            rejected,
        })),
    }
}
