//! The policy editor, in Entra's steps: Requests (who can request), Approval (0–3
//! stages with approvers picked from the directory), Requestor information
//! (questions), Lifecycle (expiration, custom schedule, extension), Access reviews,
//! then Review + create. One form carries the whole draft; its buttons either change
//! the draft (add a stage, pick an approver, search the directory), which re-renders
//! it without saving, or save it, which validates on the server
//! (`PolicySettings::validate` through the packages service) and shows each problem
//! next to its field with status 422. Without JavaScript every step is a form
//! round-trip; htmx swaps in search results as one types.
//!
//! Here are the routes and handlers; `draft` holds what the form holds and its
//! buttons, `input` reads it into domain values, `page` renders it (`extensions`: its
//! custom-extension selects) and `summary` says it in English.

mod draft;
mod extensions;
mod input;
mod page;
mod summary;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use self::draft::Draft;
use self::page::render;
use crate::domain::ids::{PackageId, PolicyId};
use crate::model::packages::Policy;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::{Ids, PathIds};
use crate::web::session::{AdminCaller, PageError, PageResult, Posted, redirect_with_flash};
use crate::web::view::{Errors, form_errors, invalid};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/packages/{id}/policies/new",
            get(edit_policy).post(save_policy),
        )
        .route(
            "/t/{slug}/admin/packages/{id}/policies/{pid}",
            get(edit_policy).post(save_policy),
        )
}

/// The policy a page edits, named by its path: a new one of the package
/// (`…/{id}/policies/new`) or an existing one (`…/{id}/policies/{pid}`).
pub(super) struct Target {
    pub(super) package: PackageId,
    pub(super) policy: Option<PolicyId>,
}

impl PathIds for Target {
    fn from_values(values: &[&str]) -> Option<Self> {
        let (package, policy) = match values {
            [package] => (package.parse().ok()?, None),
            [package, policy] => (package.parse().ok()?, Some(policy.parse().ok()?)),
            _ => return None,
        };
        Some(Self { package, policy })
    }
}

async fn edit_policy(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(target): Ids<Target>,
) -> PageResult {
    let editor = services::views::packages::policy_editor(
        state.pool(),
        &who.caller,
        target.package,
        target.policy,
        None,
    )
    .await?;
    let draft = match &editor.policy {
        Some(p) => Draft::from_policy(p),
        None => Draft::new_policy(),
    };
    Ok(render(
        &who,
        &target,
        &editor.package.package.display_name,
        draft,
        &editor.names,
        &[],
        &editor.extensions,
        Errors::none(),
    )
    .into_response())
}

/// Re-renders the draft after a draft-changing button (200), running the searches
/// typed into its pickers.
async fn redraw(
    state: &AppState,
    who: &AdminCaller,
    target: &Target,
    draft: Draft,
    errors: Errors,
    status_invalid: bool,
) -> PageResult {
    let settings = draft.settings_for_names();
    let editor = services::views::packages::policy_editor(
        state.pool(),
        &who.caller,
        target.package,
        target.policy,
        Some(&settings),
    )
    .await?;
    let mut hits = Vec::new();
    for (key, term) in &draft.searches {
        if term.is_empty() {
            continue;
        }
        let found = services::views::directory::search_principals(
            state.pool(),
            &who.caller,
            term,
            true,
            true,
        )
        .await?;
        hits.push((key.clone(), found));
    }
    let page = render(
        who,
        target,
        &editor.package.package.display_name,
        draft,
        &editor.names,
        &hits,
        &editor.extensions,
        errors,
    );
    Ok(if status_invalid {
        invalid(page)
    } else {
        page.into_response()
    })
}

/// A draft button (the draft again, changed) or Save (a redirect, or the draft with
/// its problems, 422).
async fn save_policy(
    State(state): State<AppState>,
    Ids(target): Ids<Target>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let mut draft = Draft::from_form(&form);
    let op = form.text("op");
    if op != "save" {
        if !draft.apply(&op) {
            return Err(PageError::bad_request(
                "That button is not one of this form's.",
            ));
        }
        return redraw(&state, &who, &target, draft, Errors::none(), false).await;
    }
    let previous = match target.policy {
        Some(id) => Some(services::packages::get_policy(state.pool(), &who.caller, id).await?),
        None => None,
    };
    let input = match draft.to_input(state.now(), previous.as_ref().map(|p| &p.settings.0)) {
        Ok(input) => input,
        Err(errors) => return redraw(&state, &who, &target, draft, errors, true).await,
    };
    let saved = match target.policy {
        Some(id) => {
            services::packages::replace_policy(state.pool(), &who.caller, id, input, state.now())
                .await
        }
        None => {
            services::packages::create_policy(
                state.pool(),
                &who.caller,
                target.package,
                input,
                state.now(),
            )
            .await
        }
    };
    match saved {
        Ok(p) => Ok(saved_redirect(&state, &who, &target, &p)),
        Err(e) => {
            let errors = form_errors(e)?;
            redraw(&state, &who, &target, draft, errors, true).await
        }
    }
}

fn saved_redirect(state: &AppState, who: &AdminCaller, target: &Target, p: &Policy) -> Response {
    let verb = if target.policy.is_some() {
        "saved"
    } else {
        "created"
    };
    redirect_with_flash(
        state,
        &who.url(&format!("/admin/packages/{}", target.package)),
        &format!("Policy “{}” {verb}.", p.display_name),
    )
}
