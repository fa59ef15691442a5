//! Approvals: the requests waiting for the person's decision (and those they
//! decided), one request with its justification, answers, stage and due time, and
//! the approve/deny form.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use super::requests::stage_entries;
use crate::domain::DomainError;
use crate::domain::ids::RequestId;
use crate::domain::request::{Decision, RequestState, StageState};
use crate::services::views::requests::RequestDetail;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{PageResult, Params, Posted, SessionCaller, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{
    Badge, Errors, Pager, RequestTable, RequestTableRow, StageEntry, form_errors, invalid, when,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/approvals", get(list_approvals))
        .route("/t/{slug}/approvals/{id}", get(show_approval))
        .route("/t/{slug}/approvals/{id}/decide", post(decide_approval))
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/approvals.html")]
struct ApprovalsPage {
    shell: Shell,
    base: String,
    decided: bool,
    table: RequestTable,
    pager: Pager,
}

async fn list_approvals(
    State(state): State<AppState>,
    who: SessionCaller,
    q: Params,
) -> PageResult {
    let page = q.page()?;
    let decided = q.get("tab").as_deref() == Some("decided");
    let list =
        services::views::requests::approvals(state.pool(), &who.caller, decided, page).await?;
    let base = who.url("/approvals");
    let me = who.caller.user_id();
    let rows = list
        .items
        .iter()
        .map(|(stage, v)| {
            let r = &v.request;
            let s = v.stages.iter().find(|s| s.stage.stage_index == *stage);
            let mut cells = vec![
                list.names.user(r.target_user_id.0),
                format!("Stage {}", stage + 1),
            ];
            if decided {
                // What the caller decided, and when (or how the stage ended without them).
                let mine = s.and_then(|s| s.decisions.iter().find(|d| d.approver_id == me));
                cells.push(mine.map_or_else(
                    || "Decided by another approver".to_string(),
                    |d| match d.decision {
                        Decision::Approve => "You approved".to_string(),
                        Decision::Deny => "You denied".to_string(),
                    },
                ));
                cells.push(
                    mine.map(|d| d.decided_at)
                        .or_else(|| s.and_then(|s| s.stage.completed_at))
                        .map(when)
                        .unwrap_or_default(),
                );
            } else {
                cells.push(s.map(|s| when(s.stage.due_at)).unwrap_or_default());
            }
            RequestTableRow {
                href: format!("{base}/{}", r.id),
                link: list.names.package(r.package_id.0),
                cells,
                state: Badge::state(r.state),
            }
        })
        .collect();
    let filtered = if decided {
        format!("{base}?tab=decided")
    } else {
        base.clone()
    };
    Ok(ApprovalsPage {
        shell: who.shell("Approvals", Section::Approvals),
        pager: Pager::new(&filtered, &page, list.next),
        base,
        decided,
        table: RequestTable {
            caption: if decided {
                "Requests you decided"
            } else {
                "Requests waiting for your decision"
            }
            .into(),
            headings: if decided {
                vec![
                    "Access package",
                    "For",
                    "Stage",
                    "Your decision",
                    "Decided on",
                    "State",
                ]
            } else {
                vec!["Access package", "For", "Stage", "Due", "State"]
            },
            rows,
        },
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/approval.html")]
struct ApprovalPage {
    shell: Shell,
    slug: String,
    action: String,
    package: String,
    requestor: String,
    state: Badge,
    created: String,
    justification: String,
    answers: Vec<(String, String)>,
    stages: Vec<StageEntry>,
    /// The open stage the person may still decide: (number, due, justification required).
    open: Option<(i32, String, &'static str)>,
    errors: Errors,
    note: String,
    refusal: String,
}

fn approval_page(
    who: &SessionCaller,
    d: &RequestDetail,
    errors: Errors,
    note: String,
    refusal: String,
) -> ApprovalPage {
    let r = &d.view.request;
    let me = who.caller.user_id();
    let open = d.view.stages.last().filter(|s| {
        s.stage.state == StageState::Pending
            && r.state == RequestState::PendingApproval
            && s.stage.approver_ids.contains(&me.0)
            && !s.decisions.iter().any(|x| x.approver_id == me)
    });
    ApprovalPage {
        shell: who.shell("Approval", Section::Approvals),
        slug: who.slug().to_string(),
        action: who.url(&format!("/approvals/{}/decide", r.id)),
        package: d.names.package(r.package_id.0),
        requestor: d.names.user(r.target_user_id.0),
        state: Badge::state(r.state),
        created: when(r.created_at),
        justification: r.justification.clone().unwrap_or_default(),
        answers: r
            .answers
            .0
            .iter()
            .map(|a| (a.question.clone(), a.value.clone()))
            .collect(),
        stages: stage_entries(&d.view, &d.names),
        open: open.map(|s| {
            (
                s.stage.stage_index + 1,
                when(s.stage.due_at),
                if s.stage.require_justification {
                    "Required for this stage."
                } else {
                    "Optional; the requestor sees it."
                },
            )
        }),
        errors,
        note,
        refusal,
    }
}

async fn show_approval(
    State(state): State<AppState>,
    who: SessionCaller,
    Ids(id): Ids<RequestId>,
) -> PageResult {
    let d = services::views::requests::approval(state.pool(), &who.caller, id).await?;
    Ok(approval_page(&who, &d, Errors::none(), String::new(), String::new()).into_response())
}

async fn decide_approval(
    State(state): State<AppState>,
    Ids(id): Ids<RequestId>,
    posted: Posted<SessionCaller>,
) -> PageResult {
    let who = &posted.who;
    let note = posted.form.text("justification");
    let decision = posted.form.get("decision").and_then(Decision::parse);
    let result = match decision {
        Some(d) => {
            services::requests::decide_approval(
                state.pool(),
                &who.caller,
                id,
                d,
                posted.form.opt("justification"),
                state.now(),
            )
            .await
        }
        None => Err(DomainError::field("decision", "choose Approve or Deny").into()),
    };
    match result {
        Ok(_) => {
            let message = if decision == Some(Decision::Approve) {
                "You approved the request."
            } else {
                "You denied the request."
            };
            Ok(redirect_with_flash(&state, &who.url("/approvals"), message))
        }
        Err(e) => {
            let (errors, refusal, status) = match e {
                ServiceError::Domain(DomainError::Conflict(m) | DomainError::Forbidden(m)) => {
                    (Errors::none(), m, StatusCode::CONFLICT)
                }
                other => (
                    form_errors(other)?,
                    String::new(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ),
            };
            let d = services::views::requests::approval(state.pool(), &who.caller, id).await?;
            let page = approval_page(who, &d, errors, note, refusal);
            if status == StatusCode::CONFLICT {
                Ok((status, page).into_response())
            } else {
                Ok(invalid(page))
            }
        }
    }
}
