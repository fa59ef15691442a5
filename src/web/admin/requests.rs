//! Requests: the list (filtered by state and package) and one request with its
//! stage-by-stage history: approvers as resolved, every decision, due times, outcome;
//! an open one can be canceled, after a confirmation.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;

use super::confirm::Confirm;

use crate::domain::ids::{PackageId, RequestId};
use crate::domain::policy::DecisionRule;
use crate::domain::request::RequestState;
use crate::services::{self};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, PageError, PageResult, Params, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{
    Badge, ExtensionStep, Pager, RequestTable, RequestTableRow, StageEntry, extension_steps,
    stage_timeline, state_label, when, when_opt,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin/requests", get(list_requests))
        .route("/t/{slug}/admin/requests/{rid}", get(show_request))
        .route(
            "/t/{slug}/admin/requests/{rid}/cancel",
            get(confirm_cancel).post(cancel_request),
        )
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/requests.html")]
struct RequestsView {
    shell: Shell,
    base: String,
    state: String,
    package: String,
    package_name: String,
    states: Vec<(&'static str, String)>,
    table: RequestTable,
    pager: Pager,
}

async fn list_requests(State(state): State<AppState>, who: AdminCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let filter = match q.get("state") {
        None => None,
        Some(s) if RequestState::parse(&s).is_some() => Some(s),
        Some(s) => {
            return Err(PageError::bad_request(format!(
                "'{s}' is not a request state."
            )));
        }
    };
    let package: Option<PackageId> = match q.get("package") {
        None => None,
        Some(p) => Some(
            p.parse()
                .map_err(|_| PageError::bad_request("The package filter is not a package id."))?,
        ),
    };
    let p = services::views::requests::requests_page(
        state.pool(),
        &who.caller,
        package,
        filter.as_deref(),
        page,
    )
    .await?;
    let base = who.url("/admin/requests");
    let mut query = Vec::new();
    if let Some(s) = &filter {
        query.push(format!("state={s}"));
    }
    if let Some(p) = package {
        query.push(format!("package={p}"));
    }
    let filtered = if query.is_empty() {
        base.clone()
    } else {
        format!("{base}?{}", query.join("&"))
    };
    let rows = p
        .requests
        .items
        .iter()
        .map(|v| {
            let r = &v.request;
            RequestTableRow {
                href: format!("{base}/{}", r.id),
                link: when(r.created_at),
                cells: vec![
                    state_label(r.request_type),
                    p.names.package(r.package_id.0),
                    p.names.user(r.target_user_id.0),
                    r.requestor_id
                        .map_or_else(|| "Portico".to_string(), |u| p.names.user(u.0)),
                ],
                state: Badge::state(r.state),
            }
        })
        .collect();
    Ok(RequestsView {
        shell: who.shell("Requests", Section::Requests),
        state: filter.unwrap_or_default(),
        package: package.map(|p| p.to_string()).unwrap_or_default(),
        package_name: package.map(|id| p.names.package(id.0)).unwrap_or_default(),
        states: RequestState::ALL
            .iter()
            .map(|s| (s.as_str(), state_label(s)))
            .collect(),
        table: RequestTable {
            caption: "Requests".into(),
            headings: vec!["Created", "Type", "Access package", "For", "By", "State"],
            rows,
        },
        pager: Pager::new(&filtered, &page, p.requests.next),
        base,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/request.html")]
struct RequestView {
    shell: Shell,
    slug: String,
    package: String,
    package_href: String,
    policy: String,
    kind: String,
    state: Badge,
    target: String,
    requestor: String,
    justification: String,
    answers: Vec<(String, String)>,
    created: String,
    completed: String,
    schedule: String,
    stages: Vec<StageEntry>,
    extension_steps: Vec<ExtensionStep>,
    cancel: Option<String>,
}

async fn show_request(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(rid): Ids<RequestId>,
) -> PageResult {
    let p = services::views::requests::request_page(state.pool(), &who.caller, rid).await?;
    let r = &p.request.request;
    let n = &p.names;
    let answers = r
        .answers
        .0
        .iter()
        .map(|a| (a.question.clone(), a.value.clone()))
        .collect();
    let stages = stage_timeline(
        &p.request.stages,
        |id| n.user(id),
        |st| {
            let rule = if st.decision_rule == DecisionRule::All {
                "Every approver must approve"
            } else {
                "Any one approver decides"
            };
            let escalation = match (st.escalate_at, st.escalated_at) {
                (_, Some(t)) => format!(" · escalated at {}", when(t)),
                (Some(t), None) => format!(" · escalates at {}", when(t)),
                _ => String::new(),
            };
            let approvers: Vec<String> = st
                .approver_ids
                .iter()
                .map(|a| format!("{} ({})", n.user(*a), n.user_email(*a)))
                .collect();
            (
                format!(
                    "{rule} · opened {} · due {}{escalation} · completed {}",
                    when(st.opened_at),
                    when(st.due_at),
                    when_opt(st.completed_at)
                ),
                Some(approvers.join(", ")),
            )
        },
    );
    let schedule = match (r.schedule_start, r.schedule_end) {
        (None, None) => String::new(),
        (s, e) => format!("from {} until {}", when_opt(s), when_opt(e)),
    };
    Ok(RequestView {
        shell: who
            .shell("Request", Section::Requests)
            .history(&who.caller, Some(r.id.0)),
        slug: who.slug().to_string(),
        package: n.package(r.package_id.0),
        package_href: who.url(&format!("/admin/packages/{}", r.package_id)),
        policy: p
            .policy
            .as_ref()
            .map(|x| x.display_name.clone())
            .unwrap_or_default(),
        kind: state_label(r.request_type),
        state: Badge::state(r.state),
        target: format!(
            "{} ({})",
            n.user(r.target_user_id.0),
            n.user_email(r.target_user_id.0)
        ),
        requestor: r
            .requestor_id
            .map_or_else(|| "Portico (system)".to_string(), |u| n.user(u.0)),
        justification: r.justification.clone().unwrap_or_default(),
        answers,
        created: when(r.created_at),
        completed: when_opt(r.completed_at),
        schedule,
        stages,
        extension_steps: extension_steps(&p.extension_steps),
        cancel: p
            .can_cancel
            .then(|| who.url(&format!("/admin/requests/{rid}/cancel"))),
    }
    .into_response())
}

async fn confirm_cancel(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(rid): Ids<RequestId>,
) -> PageResult {
    let p = services::views::requests::request_page(state.pool(), &who.caller, rid).await?;
    let r = &p.request.request;
    let back = who.url(&format!("/admin/requests/{rid}"));
    let package = p.names.package(r.package_id.0);
    let target = p.names.user(r.target_user_id.0);
    let confirm = if p.can_cancel {
        Confirm {
            heading: "Cancel this request?".into(),
            text: vec![
                format!(
                    "{target}'s request for “{package}” will be canceled: its approvers are no longer asked to decide it."
                ),
                "This cannot be undone; a new request can be made.".into(),
            ],
            action: Some(format!("{back}/cancel")),
            button: "Cancel request".into(),
            danger: true,
            back,
            back_label: "The request".into(),
        }
    } else {
        Confirm {
            heading: "This request cannot be canceled".into(),
            text: vec![if r.state.is_open() {
                "Only who manages the assignments of its catalog (or its requestor) may cancel it."
                    .to_string()
            } else {
                format!(
                    "It is {} already; only an open request can be canceled.",
                    state_label(r.state).to_lowercase()
                )
            }],
            action: None,
            button: String::new(),
            danger: false,
            back,
            back_label: "The request".into(),
        }
    };
    Ok(confirm.page(&who, Section::Requests).into_response())
}

async fn cancel_request(
    State(state): State<AppState>,
    Ids(rid): Ids<RequestId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::requests::cancel(state.pool(), &who.caller, rid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!("/admin/requests/{rid}")),
        "Request canceled.",
    ))
}
