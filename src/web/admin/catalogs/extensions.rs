//! A catalog's custom extensions in the admin portal: the add and edit form (422 with
//! each problem next to its field; the secret is write-only, so a blank field on the
//! edit form keeps the stored one) and deleting one (409 on the catalog page naming
//! the policies that still call it).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::extension::{CallbackOutcome, ExtensionBehavior};
use crate::domain::ids::{CatalogId, ExtensionId};
use crate::model::catalogs::Catalog;
use crate::model::extensions::ExtensionRow;
use crate::services::extensions::ExtensionInput;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, FormData, PageResult, Posted, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid};

use super::detail::catalog_detail;

#[derive(Template, WebTemplate)]
#[template(path = "admin/extension_form.html")]
struct ExtensionFormPage {
    shell: Shell,
    csrf: String,
    base: String,
    action: String,
    catalog_name: String,
    title: String,
    errors: Errors,
    display_name: String,
    url: String,
    /// Editing: a secret is stored, and a blank field keeps it.
    secret_stored: bool,
    behavior: String,
    timeout_minutes: String,
    on_timeout: String,
    behaviors: Vec<(&'static str, &'static str)>,
    outcomes: Vec<(&'static str, &'static str)>,
}

const BEHAVIORS: [(&str, &str); 2] = [
    ("fireAndForget", "Tell it and go on (fire and forget)"),
    ("waitForCallback", "Wait for its answer (wait for callback)"),
];

const OUTCOMES: [(&str, &str); 2] = [
    ("deny", "Deny the request"),
    ("continue", "Let the request continue"),
];

fn label(field: &str) -> Option<String> {
    Some(
        match field {
            "displayName" => "Name",
            "url" => "URL",
            "secret" => "Signing secret",
            "behavior" => "Behavior",
            "timeoutMinutes" => "Timeout (minutes)",
            "onTimeout" => "When it does not answer in time",
            _ => return None,
        }
        .to_string(),
    )
}

fn form_page(
    who: &AdminCaller,
    catalog: &Catalog,
    existing: Option<&ExtensionRow>,
    form: Option<&FormData>,
    errors: Errors,
) -> ExtensionFormPage {
    let base = who.url(&format!("/admin/catalogs/{}", catalog.id));
    let (action, title) = match existing {
        Some(e) => (
            format!("{base}/extensions/{}/edit", e.id),
            format!("Edit “{}”", e.display_name),
        ),
        None => (
            format!("{base}/extensions"),
            "Add a custom extension".to_string(),
        ),
    };
    let pick = |name: &str, stored: String| match form {
        Some(f) => f.text(name),
        None => stored,
    };
    ExtensionFormPage {
        shell: who
            .shell(title.clone(), Section::Catalogs)
            .history(&who.caller, existing.map(|e| e.id.0)),
        csrf: who.csrf.clone(),
        action,
        catalog_name: catalog.display_name.clone(),
        title,
        errors,
        display_name: pick(
            "displayName",
            existing.map(|e| e.display_name.clone()).unwrap_or_default(),
        ),
        url: pick("url", existing.map(|e| e.url.clone()).unwrap_or_default()),
        secret_stored: existing.is_some(),
        behavior: pick(
            "behavior",
            existing
                .map_or("fireAndForget", |e| e.behavior.as_str())
                .to_string(),
        ),
        timeout_minutes: pick(
            "timeoutMinutes",
            existing.map_or(60, |e| e.timeout_minutes).to_string(),
        ),
        on_timeout: pick(
            "onTimeout",
            existing
                .map_or("deny", |e| e.on_timeout.as_str())
                .to_string(),
        ),
        behaviors: BEHAVIORS.to_vec(),
        outcomes: OUTCOMES.to_vec(),
        base,
    }
}

/// The form's fields as the service takes them, or the first field that is not even
/// of the right kind.
fn input(f: &FormData) -> Result<ExtensionInput, ServiceError> {
    let minutes = f.text("timeoutMinutes");
    let timeout_minutes = if minutes.is_empty() {
        None
    } else {
        Some(minutes.parse::<i64>().map_err(|_| {
            DomainError::field(
                "timeoutMinutes",
                "enter the timeout as a whole number of minutes",
            )
        })?)
    };
    Ok(ExtensionInput {
        display_name: Some(f.text("displayName")),
        url: Some(f.text("url")),
        secret: Some(f.text("secret")),
        behavior: ExtensionBehavior::parse(&f.text("behavior")),
        timeout_minutes,
        on_timeout: CallbackOutcome::parse(&f.text("onTimeout")),
    })
}

pub(super) async fn new_extension(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<CatalogId>,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    who.caller.require(Action::EditCatalog(id))?;
    Ok(form_page(&who, &catalog, None, None, Errors::none()).into_response())
}

pub(super) async fn add_extension(
    State(state): State<AppState>,
    Ids(id): Ids<CatalogId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let created = match input(&form) {
        Err(e) => Err(e),
        Ok(input) => {
            services::extensions::create(
                state.pool(),
                &who.caller,
                id,
                input,
                state.settings().webhook_allow_private,
                state.keys(),
                state.now(),
            )
            .await
        }
    };
    answer(&state, &who, id, None, &form, created, "added").await
}

/// Back to the catalog once the form is saved, or the form again with its errors.
async fn answer(
    state: &AppState,
    who: &AdminCaller,
    id: CatalogId,
    existing: Option<&ExtensionRow>,
    form: &FormData,
    saved: services::ServiceResult<ExtensionRow>,
    done: &str,
) -> PageResult {
    match saved {
        Ok(e) => Ok(redirect_with_flash(
            state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &format!("Custom extension “{}” {done}.", e.display_name),
        )),
        Err(e) => {
            let errors = form_errors(e)?.labelled(label);
            let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
            Ok(invalid(form_page(
                who,
                &catalog,
                existing,
                Some(form),
                errors,
            )))
        }
    }
}

pub(super) async fn edit_extension(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids((id, eid)): Ids<(CatalogId, ExtensionId)>,
) -> PageResult {
    let catalog = services::catalogs::get(state.pool(), &who.caller, id).await?;
    who.caller.require(Action::EditCatalog(id))?;
    let existing = services::extensions::get_in_catalog(state.pool(), &who.caller, id, eid).await?;
    Ok(form_page(&who, &catalog, Some(&existing), None, Errors::none()).into_response())
}

pub(super) async fn update_extension(
    State(state): State<AppState>,
    Ids((id, eid)): Ids<(CatalogId, ExtensionId)>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let existing = services::extensions::get_in_catalog(state.pool(), &who.caller, id, eid).await?;
    let updated = match input(&form) {
        Err(e) => Err(e),
        Ok(input) => {
            services::extensions::update(
                state.pool(),
                &who.caller,
                eid,
                input,
                state.settings().webhook_allow_private,
                state.keys(),
                state.now(),
            )
            .await
        }
    };
    answer(&state, &who, id, Some(&existing), &form, updated, "saved").await
}

pub(super) async fn delete_extension(
    State(state): State<AppState>,
    Ids((id, eid)): Ids<(CatalogId, ExtensionId)>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let existing = services::extensions::get_in_catalog(state.pool(), &who.caller, id, eid).await?;
    match services::extensions::delete(state.pool(), &who.caller, eid, state.now()).await {
        Ok(()) => Ok(redirect_with_flash(
            &state,
            &who.url(&format!("/admin/catalogs/{id}")),
            &format!("Custom extension “{}” deleted.", existing.display_name),
        )),
        Err(ServiceError::Domain(DomainError::Conflict(message))) => {
            let page =
                services::views::catalogs::catalog_page(state.pool(), &who.caller, id).await?;
            Ok((
                StatusCode::CONFLICT,
                catalog_detail(&who, page, Some(message), None),
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}
