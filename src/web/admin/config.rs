//! "Configuration" (tenant admins, as `/tenant/config`): download the tenant's
//! configuration as YAML, paste a document to see its plan, and apply it. The plan is
//! shown as the command line prints it; a wrong document lists every error with its
//! path and changes nothing.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::domain::DomainError;
use crate::services::ServiceError;
use crate::services::config::{self as svc, ChangeAction, Env, Plan};
use crate::state::AppState;
use crate::web::session::{AdminCaller, PageError, PageResult, Posted};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, invalid};

const PAGE: &str = "/admin/config";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin/config", get(show).post(run))
        .route("/t/{slug}/admin/config/export.yaml", get(download))
}

/// One line of a plan, with its sign for the page's styling.
struct Line {
    sign: &'static str,
    text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/config.html")]
struct ConfigPage {
    shell: Shell,
    csrf: String,
    base: String,
    document: String,
    prune: bool,
    /// `Some` once a document was planned or applied.
    outcome: Option<Outcome>,
    /// path, message
    problems: Vec<(String, String)>,
    errors: Errors,
}

struct Outcome {
    applied: bool,
    lines: Vec<Line>,
    summary: Vec<String>,
}

fn outcome(plan: &Plan) -> Outcome {
    let lines = plan
        .changes
        .iter()
        .zip(plan.lines())
        .map(|(c, text)| Line {
            sign: match c.action {
                ChangeAction::Create => "create",
                ChangeAction::Update => "update",
                ChangeAction::Delete => "delete",
            },
            text,
        })
        .collect();
    Outcome {
        applied: plan.applied,
        lines,
        summary: plan.lines().split_off(plan.changes.len()),
    }
}

fn page(who: &AdminCaller, document: String, prune: bool) -> ConfigPage {
    ConfigPage {
        shell: who.shell("Configuration", Section::Config),
        csrf: who.csrf.clone(),
        base: who.url(PAGE),
        document,
        prune,
        outcome: None,
        problems: Vec::new(),
        errors: Errors::none(),
    }
}

async fn show(State(state): State<AppState>, who: AdminCaller) -> PageResult {
    let doc = svc::export(state.pool(), &who.caller).await?;
    let yaml = svc::to_yaml(&doc)?;
    Ok(page(&who, yaml, false).into_response())
}

async fn download(State(state): State<AppState>, who: AdminCaller) -> Result<Response, PageError> {
    let doc = svc::export(state.pool(), &who.caller).await?;
    let yaml = svc::to_yaml(&doc)?;
    let mut response = yaml.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"{}-config.yaml\"", who.slug());
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

async fn run(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let text = form.opt("document").unwrap_or_default();
    let prune = form.checked("prune");
    let applying = form.opt("action").as_deref() == Some("apply");
    let env = Env {
        keys: state.keys(),
        allow_private: state.settings().webhook_allow_private,
        now: state.now(),
    };
    let result = match svc::from_yaml(&text) {
        Ok(doc) if applying => svc::apply(state.pool(), &who.caller, env, &doc, prune).await,
        Ok(doc) => svc::plan(state.pool(), &who.caller, env, &doc, prune).await,
        Err(e) => Err(e),
    };
    let mut view = page(&who, text, prune);
    match result {
        Ok(plan) => {
            view.outcome = Some(outcome(&plan));
            Ok(view.into_response())
        }
        Err(ServiceError::Domain(DomainError::Validation(errors))) => {
            view.problems = errors.0.into_iter().collect();
            Ok(invalid(view))
        }
        Err(e) => Err(e.into()),
    }
}
