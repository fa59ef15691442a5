//! The requester portal, My Access, at `/t/{slug}/`: the home overview, access
//! packages to browse and request, the person's requests and access, their approvals
//! and access reviews, and their own settings (time zone). Every handler extracts a `SessionCaller` (anyone signed in),
//! calls one `services` function and renders one template; what a person sees
//! is only their own (the service answers 404 for anything else). Every page works
//! without JavaScript; htmx only swaps the package list while typing a search.

mod access;
mod approvals;
mod packages;
mod requests;
mod reviews;
mod settings;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;

use super::session::{PageResult, SessionCaller};
use super::shell::{Section, Shell};
use super::view::{Badge, request_kind, when, when_opt};
use crate::domain::request::{RequestState, StageState};
use crate::model::requests::RequestRow;
use crate::services::requests::RequestView;
use crate::services::views::Names;
use crate::services::{self};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/", get(home))
        .merge(packages::router())
        .merge(requests::router())
        .merge(access::router())
        .merge(approvals::router())
        .merge(reviews::router())
        .merge(settings::router())
}

/// A request as a row of a list: package, state, progress and who decides now.
pub struct RequestLine {
    pub href: String,
    pub package: String,
    pub kind: String,
    pub state: Badge,
    pub created: String,
    /// "Stage 1 of 2: waiting for Megan Bowen until 2027-01-18 09:00 UTC".
    pub waiting: String,
    pub progress: Vec<StageDot>,
}

/// One stage of a request's progress.
pub struct StageDot {
    pub label: String,
    pub state: Badge,
}

/// Stage-by-stage progress and who is deciding now, in words.
pub fn progress(v: &RequestView, names: &Names) -> (Vec<StageDot>, String) {
    let total = names
        .policy(v.request.policy_id)
        .map_or(v.stages.len(), |p| {
            if request_kind(v.request.request_type) == "Access" {
                p.settings.0.approval.stages.len()
            } else {
                v.stages.len()
            }
        })
        .max(v.stages.len());
    let mut dots = Vec::new();
    for i in 0..total {
        let state = v
            .stages
            .iter()
            .find(|s| usize::try_from(s.stage.stage_index).ok() == Some(i))
            .map_or_else(
                || Badge::neutral("Not started"),
                |s| Badge::state(s.stage.state),
            );
        dots.push(StageDot {
            label: format!("Stage {}", i + 1),
            state,
        });
    }
    let waiting = match v.stages.last() {
        Some(s)
            if s.stage.state == StageState::Pending
                && v.request.state == RequestState::PendingApproval =>
        {
            let who: Vec<String> = s
                .stage
                .approver_ids
                .iter()
                .filter(|a| !s.decisions.iter().any(|d| d.approver_id.0 == **a))
                .map(|a| names.user(*a))
                .collect();
            format!(
                "Stage {} of {}: waiting for {} until {}",
                s.stage.stage_index + 1,
                total,
                who.join(", "),
                when(s.stage.due_at)
            )
        }
        _ if v.request.state == RequestState::WaitingForCallback => {
            "Waiting for an outside system to confirm this request.".to_string()
        }
        _ => String::new(),
    };
    (dots, waiting)
}

pub fn request_line(slug: &str, v: &RequestView, names: &Names, base: &str) -> RequestLine {
    let r: &RequestRow = &v.request;
    let (progress, waiting) = progress(v, names);
    RequestLine {
        href: format!("/t/{slug}{base}/{}", r.id),
        package: names.package(r.package_id.0),
        kind: request_kind(r.request_type).into(),
        state: Badge::state(r.state),
        created: when(r.created_at),
        waiting,
        progress,
    }
}

// ---------------------------------------------------------------------------------
// Home

struct Ending {
    package: String,
    end: String,
    extend: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    shell: Shell,
    slug: String,
    name: String,
    email: String,
    is_admin: bool,
    pending_approvals: i64,
    open_requests: i64,
    pending_reviews: i64,
    ending: Vec<Ending>,
}

async fn home(State(state): State<AppState>, who: SessionCaller) -> PageResult {
    let o = services::views::overview::overview(state.pool(), &who.caller, state.now()).await?;
    let c = &who.caller;
    Ok(HomePage {
        shell: who.shell("My Access", Section::Home),
        slug: who.slug().to_string(),
        name: c.user.display_name.clone(),
        email: c.user.email.clone(),
        is_admin: c.roles.is_any_admin(),
        pending_approvals: o.counts.pending_approvals,
        open_requests: o.counts.open_requests,
        pending_reviews: o.counts.pending_reviews,
        ending: o
            .ending_soon
            .iter()
            .map(|a| Ending {
                package: o.names.package(a.package_id.0),
                end: when_opt(a.end_at),
                extend: who.url(&format!("/access/{}/extend", a.id)),
            })
            .collect(),
    }
    .into_response())
}
