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
//! buttons, `input` reads it into domain values, `page` renders it and `summary` says
//! it in English.

mod draft;
mod input;
mod page;
mod summary;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use self::draft::Draft;
use self::page::render;
use super::parse_id;
use crate::db::packages::Policy;
use crate::domain::ids::{PackageId, PolicyId};
use crate::services::{self};
use crate::startup::AppState;
use crate::web::session::{AdminCaller, PageResult, Posted, redirect_with_flash};
use crate::web::view::{Errors, form_errors, invalid};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/packages/{id}/policies/new",
            get(new_policy).post(post_new_policy),
        )
        .route(
            "/t/{slug}/admin/packages/{id}/policies/{pid}",
            get(edit_policy).post(post_policy),
        )
}

/// The policy a page edits: a new one of `package`, or `policy`.
pub(super) struct Target {
    pub(super) package: PackageId,
    pub(super) policy: Option<PolicyId>,
}

async fn show(state: &AppState, who: &AdminCaller, target: Target) -> PageResult {
    let editor = services::admin::policy_editor(
        state.pool(),
        &who.caller,
        target.package,
        target.policy,
        None,
    )
    .await
    .map_err(|e| who.fail(e))?;
    let draft = match &editor.policy {
        Some(p) => Draft::from_policy(p),
        None => Draft::new_policy(),
    };
    Ok(render(
        who,
        &target,
        &editor.package.package.display_name,
        draft,
        &editor.names,
        &[],
        Errors::none(),
    )
    .into_response())
}

async fn new_policy(
    State(state): State<AppState>,
    who: AdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> PageResult {
    let package: PackageId = parse_id(&id).map_err(|e| who.fail(e))?;
    show(
        &state,
        &who,
        Target {
            package,
            policy: None,
        },
    )
    .await
}

async fn edit_policy(
    State(state): State<AppState>,
    who: AdminCaller,
    Path((_, id, pid)): Path<(String, String, String)>,
) -> PageResult {
    let package: PackageId = parse_id(&id).map_err(|e| who.fail(e))?;
    let policy: PolicyId = parse_id(&pid).map_err(|e| who.fail(e))?;
    show(
        &state,
        &who,
        Target {
            package,
            policy: Some(policy),
        },
    )
    .await
}

async fn post_new_policy(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    posted: Posted<AdminCaller>,
) -> PageResult {
    let package: PackageId = parse_id(&id).map_err(|e| posted.who.fail(e))?;
    submit(
        &state,
        posted,
        Target {
            package,
            policy: None,
        },
    )
    .await
}

async fn post_policy(
    State(state): State<AppState>,
    Path((_, id, pid)): Path<(String, String, String)>,
    posted: Posted<AdminCaller>,
) -> PageResult {
    let package: PackageId = parse_id(&id).map_err(|e| posted.who.fail(e))?;
    let policy: PolicyId = parse_id(&pid).map_err(|e| posted.who.fail(e))?;
    submit(
        &state,
        posted,
        Target {
            package,
            policy: Some(policy),
        },
    )
    .await
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
    let editor = services::admin::policy_editor(
        state.pool(),
        &who.caller,
        target.package,
        target.policy,
        Some(&settings),
    )
    .await
    .map_err(|e| who.fail(e))?;
    let mut hits = Vec::new();
    for (key, term) in &draft.searches {
        if term.is_empty() {
            continue;
        }
        let found = services::admin::search_principals(state.pool(), &who.caller, term, true, true)
            .await
            .map_err(|e| who.fail(e))?;
        hits.push((key.clone(), found));
    }
    let page = render(
        who,
        target,
        &editor.package.package.display_name,
        draft,
        &editor.names,
        &hits,
        errors,
    );
    Ok(if status_invalid {
        invalid(page)
    } else {
        page.into_response()
    })
}

async fn submit(state: &AppState, posted: Posted<AdminCaller>, target: Target) -> PageResult {
    let Posted { who, form } = posted;
    let mut draft = Draft::from_form(&form);
    let op = form.text("op");
    if op != "save" {
        if !draft.apply(&op) {
            return Err(who.fail(crate::web::session::PageError::bad_request(
                "That button is not one of this form's.",
            )));
        }
        return redraw(state, &who, &target, draft, Errors::none(), false).await;
    }
    let input = match draft.to_input() {
        Ok(input) => input,
        Err(errors) => return redraw(state, &who, &target, draft, errors, true).await,
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
        Ok(p) => Ok(saved_redirect(state, &who, &target, &p)),
        Err(e) => {
            let errors = form_errors(e).map_err(|e| who.fail(e))?;
            redraw(state, &who, &target, draft, errors, true).await
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
