//! The person's requests: the history with state badges and stage-by-stage progress,
//! one request in detail, and canceling an open one.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::{RequestLine, StageDot, progress, request_line};
use crate::domain::ids::RequestId;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{PageResult, Params, Posted, SessionCaller, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{
    Badge, ExtensionStep, Pager, StageEntry, extension_steps, request_kind, stage_timeline, when,
    when_opt,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/requests", get(list_requests))
        .route("/t/{slug}/requests/{id}", get(show_request))
        .route("/t/{slug}/requests/{id}/cancel", post(cancel_request))
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/requests.html")]
struct RequestsPage {
    shell: Shell,
    browse: String,
    rows: Vec<RequestLine>,
    pager: Pager,
}

async fn list_requests(State(state): State<AppState>, who: SessionCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let list = services::views::requests::my_requests(state.pool(), &who.caller, page).await?;
    let rows = list
        .page
        .items
        .iter()
        .map(|v| request_line(who.slug(), v, &list.names, "/requests"))
        .collect();
    Ok(RequestsPage {
        shell: who.shell("My requests", Section::MyRequests),
        browse: who.url("/packages"),
        rows,
        pager: Pager::new(&who.url("/requests"), &page, list.page.next),
    }
    .into_response())
}

/// The stage timeline of a request in the requester portal: approvers and due time on
/// one line.
pub fn stage_entries(
    v: &crate::services::requests::RequestView,
    names: &crate::services::views::Names,
) -> Vec<StageEntry> {
    stage_timeline(
        &v.stages,
        |id| names.user(id),
        |st| {
            let approvers: Vec<String> = st.approver_ids.iter().map(|a| names.user(*a)).collect();
            (
                format!(
                    "Approvers: {} · due {}",
                    approvers.join(", "),
                    when(st.due_at)
                ),
                None,
            )
        },
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/request.html")]
struct RequestPage {
    shell: Shell,
    slug: String,
    package: String,
    package_href: String,
    policy: String,
    kind: String,
    state: Badge,
    created: String,
    completed: String,
    schedule: String,
    justification: String,
    answers: Vec<(String, String)>,
    waiting: String,
    progress: Vec<StageDot>,
    stages: Vec<StageEntry>,
    extension_steps: Vec<ExtensionStep>,
    cancel: Option<String>,
}

async fn show_request(
    State(state): State<AppState>,
    who: SessionCaller,
    Ids(id): Ids<RequestId>,
) -> PageResult {
    let d = services::views::requests::my_request(state.pool(), &who.caller, id).await?;
    let r = &d.view.request;
    let (dots, waiting) = progress(&d.view, &d.names);
    let open = r.state.is_open();
    Ok(RequestPage {
        shell: who.shell("Request", Section::MyRequests),
        slug: who.slug().to_string(),
        package: d.names.package(r.package_id.0),
        package_href: who.url(&format!("/packages/{}", r.package_id)),
        policy: d
            .names
            .policy(r.policy_id)
            .map(|p| p.display_name.clone())
            .unwrap_or_default(),
        kind: request_kind(r.request_type).into(),
        state: Badge::state(r.state),
        created: when(r.created_at),
        completed: when_opt(r.completed_at),
        schedule: match (r.schedule_start, r.schedule_end) {
            (None, None) => String::new(),
            (s, e) => format!("from {} until {}", when_opt(s), when_opt(e)),
        },
        justification: r.justification.clone().unwrap_or_default(),
        answers: r
            .answers
            .0
            .iter()
            .map(|a| (a.question.clone(), a.value.clone()))
            .collect(),
        waiting,
        progress: dots,
        stages: stage_entries(&d.view, &d.names),
        extension_steps: extension_steps(&d.extension_steps),
        cancel: open.then(|| who.url(&format!("/requests/{}/cancel", r.id))),
    }
    .into_response())
}

async fn cancel_request(
    State(state): State<AppState>,
    Ids(id): Ids<RequestId>,
    posted: Posted<SessionCaller>,
) -> PageResult {
    let who = &posted.who;
    services::requests::cancel_my_request(state.pool(), &who.caller, id, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/requests/{id}")),
        "Request canceled.",
    ))
}
