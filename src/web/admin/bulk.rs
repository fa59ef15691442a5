//! Bulk work on a package's assignments: the "Bulk assign" page (pasted addresses, a
//! pasted CSV or a group's direct members) and the removal or extension of the
//! assignments ticked on the assignments page. Each shows a result per row; when any
//! row is refused nothing is done and the page (422) says which rows and why.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::ids::{AssignmentId, GroupId, PackageId, PolicyId};
use crate::services;
use crate::services::bulk::{BulkAssignment, BulkOutcome, People};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, FormData, PageResult, Posted};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, form_when, invalid, parse_when, state_label};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/packages/{id}/assignments/bulk",
            get(bulk_form).post(bulk_assign),
        )
        .route(
            "/t/{slug}/admin/packages/{id}/assignments/bulk-change",
            post(bulk_change),
        )
}

/// One row of a result table.
struct ResultRow {
    row: usize,
    email: String,
    ok: bool,
    message: String,
}

fn result_rows(outcome: &BulkOutcome) -> Vec<ResultRow> {
    outcome
        .rows
        .iter()
        .map(|r| ResultRow {
            row: r.row,
            email: r.email.clone(),
            ok: r.is_ok(),
            message: match (&r.error, &r.request) {
                (Some((_, m)), _) => m.clone(),
                (None, Some(q)) => format!(
                    "Done: the request is {}.",
                    state_label(q.state).to_lowercase()
                ),
                (None, None) => "Good (not done, because of the refused rows).".into(),
            },
        })
        .collect()
}

/// What the page says about the outcome.
fn summary(outcome: &BulkOutcome, verb: &str) -> String {
    if outcome.done {
        format!("Done: {} {verb}.", outcome.rows.len())
    } else {
        format!(
            "Nothing was done: {} of {} rows were refused. Correct them and send all rows again.",
            outcome.failed(),
            outcome.rows.len()
        )
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/bulk_assign.html")]
struct BulkAssignView {
    shell: Shell,
    csrf: String,
    slug: String,
    package_name: String,
    package_href: String,
    assignments_href: String,
    action: String,
    policies: Vec<(String, String)>,
    groups: Vec<(String, String)>,
    errors: Errors,
    source: String,
    emails: String,
    csv: String,
    group: String,
    policy: String,
    start: String,
    end: String,
    justification: String,
    done: bool,
    outcome: String,
    results: Vec<ResultRow>,
}

async fn page(
    state: &AppState,
    who: &AdminCaller,
    id: PackageId,
    form: Option<&FormData>,
    errors: Errors,
    outcome: Option<&BulkOutcome>,
) -> Result<BulkAssignView, services::ServiceError> {
    let p = services::views::packages::package_page(state.pool(), &who.caller, id).await?;
    if !p.can_assign {
        return Err(crate::domain::DomainError::forbidden(
            "You may not assign this access package (you are not an assignment manager of its catalog).",
        )
        .into());
    }
    let groups = services::groups::list(
        state.pool(),
        &who.caller,
        None,
        crate::paging::PageRequest::first(500),
    )
    .await?
    .items
    .into_iter()
    .map(|g| (g.group.id.to_string(), g.group.display_name))
    .collect();
    let f = |name: &str| form.map(|f| f.text(name)).unwrap_or_default();
    let source = form
        .and_then(|f| f.opt("source"))
        .unwrap_or_else(|| "emails".into());
    Ok(BulkAssignView {
        shell: who.shell(
            format!("Bulk assign {}", p.package.package.display_name),
            Section::Packages,
        ),
        csrf: who.csrf.clone(),
        slug: who.slug().to_string(),
        package_name: p.package.package.display_name.clone(),
        package_href: who.url(&format!("/admin/packages/{id}")),
        assignments_href: who.url(&format!("/admin/packages/{id}/assignments")),
        action: who.url(&format!("/admin/packages/{id}/assignments/bulk")),
        policies: p
            .policies
            .iter()
            .map(|pol| (pol.id.to_string(), pol.display_name.clone()))
            .collect(),
        groups,
        errors,
        source,
        emails: f("emails"),
        csv: f("csv"),
        group: f("groupId"),
        policy: f("policyId"),
        start: f("start"),
        end: f("end"),
        justification: f("justification"),
        done: outcome.is_some_and(|o| o.done),
        outcome: outcome.map(|o| summary(o, "assigned")).unwrap_or_default(),
        results: outcome.map(result_rows).unwrap_or_default(),
    })
}

async fn bulk_form(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<PackageId>,
) -> PageResult {
    Ok(page(&state, &who, id, None, Errors::none(), None)
        .await?
        .into_response())
}

async fn bulk_assign(
    State(state): State<AppState>,
    Ids(id): Ids<PackageId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let mut errors = Errors::none();
    let start = form_when(&form, "start", &mut errors);
    let end = form_when(&form, "end", &mut errors);
    let people = match form.text("source").as_str() {
        "csv" => Some(People::Csv(form.text("csv"))),
        "group" => match form.opt("groupId").map(|g| g.parse::<GroupId>()) {
            Some(Ok(g)) => Some(People::Group(g)),
            _ => {
                errors.add("groupId", "choose a group");
                None
            }
        },
        _ => Some(People::Emails(form.text("emails"))),
    };
    let mut outcome = None;
    if let (true, Some(people)) = (errors.is_empty(), people) {
        let input = BulkAssignment {
            policy_id: form
                .get("policyId")
                .and_then(|p| p.parse::<PolicyId>().ok()),
            start,
            end,
            justification: form.opt("justification"),
            people,
        };
        match services::bulk::assign(state.pool(), &who.caller, id, input, state.now()).await {
            Ok(o) => outcome = Some(o),
            Err(e) => errors = form_errors(e)?,
        }
    }
    let done = outcome.as_ref().is_some_and(|o| o.done);
    let view = page(&state, &who, id, Some(&form), errors, outcome.as_ref()).await?;
    Ok(if done {
        view.into_response()
    } else {
        invalid(view)
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/bulk_results.html")]
struct BulkResultsView {
    shell: Shell,
    slug: String,
    package_name: String,
    package_href: String,
    assignments_href: String,
    title: String,
    done: bool,
    outcome: String,
    results: Vec<ResultRow>,
}

/// Removes or extends the assignments ticked on the assignments page.
async fn bulk_change(
    State(state): State<AppState>,
    Ids(id): Ids<PackageId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let p = services::views::packages::package_page(state.pool(), &who.caller, id).await?;
    let mut ids = Vec::new();
    for raw in form.all("ids") {
        match raw.parse::<AssignmentId>() {
            Ok(a) => ids.push(a),
            Err(_) => {
                return Err(crate::web::session::PageError::bad_request(format!(
                    "'{raw}' is not an assignment id."
                )));
            }
        }
    }
    if ids.is_empty() {
        return Err(crate::web::session::PageError::bad_request(
            "Tick the assignments to act on first.",
        ));
    }
    let (title, verb, outcome) = if form.text("action") == "extend" {
        let end = match parse_when(&form.text("bulkEnd")) {
            Ok(Some(end)) => end,
            Ok(None) => {
                return Err(crate::web::session::PageError::bad_request(
                    "Give the new end of the ticked assignments.",
                ));
            }
            Err(m) => return Err(crate::web::session::PageError::bad_request(m)),
        };
        let o = services::bulk::extend(state.pool(), &who.caller, ids, end, state.now()).await?;
        ("Extend assignments", "extended", o)
    } else {
        let o = services::bulk::remove(state.pool(), &who.caller, ids, state.now()).await?;
        ("Remove assignments", "removed", o)
    };
    let view = BulkResultsView {
        shell: who.shell(title.to_string(), Section::Packages),
        slug: who.slug().to_string(),
        package_name: p.package.package.display_name.clone(),
        package_href: who.url(&format!("/admin/packages/{id}")),
        assignments_href: who.url(&format!("/admin/packages/{id}/assignments")),
        title: title.to_string(),
        done: outcome.done,
        outcome: summary(&outcome, verb),
        results: result_rows(&outcome),
    };
    Ok(if outcome.done {
        view.into_response()
    } else {
        invalid(view)
    })
}
