//! Reports in the admin portal: every assignment matching a filter as a CSV download
//! (streamed by the same service as the API's), and what one person can access and
//! why, shown as a table with its CSV.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::reviews::file_stem;
use crate::domain::assignment::AssignmentState;
use crate::domain::ids::{CatalogId, UserId};
use crate::services;
use crate::services::reports::Format;
use crate::services::reports::{AssignmentFilter, Source};
use crate::state::AppState;
use crate::web::api::reports::{ChunkBody, headers};
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, PageError, Params};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, invalid, parse_when, state_label};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin/reports", get(reports_page))
        .route(
            "/t/{slug}/admin/reports/assignments.csv",
            get(assignments_csv),
        )
        .route(
            "/t/{slug}/admin/reports/conflicts.csv",
            get(|state: State<AppState>, who: AdminCaller| async move {
                whole_csv(
                    state,
                    who,
                    Source::Conflicts { catalogs: None },
                    "conflicts",
                )
                .await
            }),
        )
        .route(
            "/t/{slug}/admin/reports/access-reviews.csv",
            get(|state: State<AppState>, who: AdminCaller| async move {
                let source = Source::Reviews {
                    package: None,
                    catalogs: None,
                };
                whole_csv(state, who, source, "access-reviews").await
            }),
        )
        .route("/t/{slug}/admin/reports/people/{id}", get(person_csv))
}

struct AccessLine {
    kind: &'static str,
    name: String,
    via: String,
    state: String,
    since: String,
    until: String,
    requested_by: String,
    approved_by: String,
}

/// The filter form's values, as typed.
#[derive(Default)]
struct Filter {
    catalog: String,
    state: String,
    email: String,
    ending_before: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/reports.html")]
struct ReportsView {
    shell: Shell,
    base: String,
    catalogs: Vec<(String, String)>,
    states: Vec<(&'static str, String)>,
    filter: Filter,
    errors: Errors,
    is_admin: bool,
    person: String,
    person_errors: Errors,
    person_found: Option<(String, String)>,
    lines: Vec<AccessLine>,
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "assignment" => "Access package",
        "groupMembership" => "Group",
        _ => "Role",
    }
}

/// The assignment filter of the query, with the errors of its fields.
async fn read_filter(
    state: &AppState,
    who: &AdminCaller,
    q: &Params,
) -> Result<(Filter, AssignmentFilter, Errors), PageError> {
    let typed = Filter {
        catalog: q.get("catalog").unwrap_or_default(),
        state: q.get("state").unwrap_or_default(),
        email: q.get("email").unwrap_or_default(),
        ending_before: q.get("endingBefore").unwrap_or_default(),
    };
    let mut errors = Errors::none();
    let mut filter = AssignmentFilter::default();
    if !typed.catalog.is_empty() {
        match typed.catalog.parse() {
            Ok(id) => filter.catalog = Some(CatalogId(id)),
            Err(_) => errors.add("catalog", "Choose a catalog from the list."),
        }
    }
    if !typed.state.is_empty() {
        match AssignmentState::parse(&typed.state) {
            Some(s) => filter.state = Some(s),
            None => errors.add("state", "Choose a state from the list."),
        }
    }
    match parse_when(&typed.ending_before) {
        Ok(t) => filter.ending_before = t,
        Err(e) => errors.add("endingBefore", e),
    }
    if !typed.email.trim().is_empty() {
        match services::reports::person_by_email(state.pool(), &who.caller, &typed.email).await? {
            Some(id) => filter.user = Some(id),
            None => errors.add("email", "Nobody in this tenant has this email address."),
        }
    }
    Ok((typed, filter, errors))
}

async fn render(
    state: &AppState,
    who: &AdminCaller,
    filter: Filter,
    errors: Errors,
    person: String,
) -> Result<Response, PageError> {
    let catalogs = services::catalogs::list(
        state.pool(),
        &who.caller,
        crate::paging::PageRequest::first(crate::paging::PageRequest::MAX),
    )
    .await?
    .items
    .into_iter()
    .map(|c| (c.id.to_string(), c.display_name))
    .collect();
    let is_admin = who.caller.roles.is_tenant_admin();
    let mut person_errors = Errors::none();
    let mut person_found = None;
    let mut lines = Vec::new();
    if is_admin && !person.trim().is_empty() {
        match services::reports::person_by_email(state.pool(), &who.caller, &person).await? {
            None => {
                person_errors.add("person", "Nobody in this tenant has this email address.");
            }
            Some(id) => {
                let (email, rows) =
                    services::reports::person_rows(state.pool(), &who.caller, id).await?;
                person_found = Some((email, who.url(&format!("/admin/reports/people/{id}"))));
                lines = rows
                    .into_iter()
                    .map(|r| AccessLine {
                        kind: kind_label(&r.kind),
                        name: r.name,
                        via: r.via,
                        state: r.state.map(|s| state_label(&s)).unwrap_or_default(),
                        since: r.since.map(crate::web::view::when).unwrap_or_default(),
                        until: r.until.map(crate::web::view::when).unwrap_or_default(),
                        requested_by: r.requested_by.unwrap_or_default(),
                        approved_by: r.approved_by.unwrap_or_default(),
                    })
                    .collect();
            }
        }
    }
    let failed = !errors.is_empty() || !person_errors.is_empty();
    let view = ReportsView {
        shell: who.shell("Reports", Section::Reports),
        base: who.url("/admin/reports"),
        catalogs,
        states: AssignmentState::ALL
            .iter()
            .map(|s| (s.as_str(), state_label(s.as_str())))
            .collect(),
        filter,
        errors,
        is_admin,
        person,
        person_errors,
        person_found,
        lines,
    };
    Ok(if failed {
        invalid(view)
    } else {
        view.into_response()
    })
}

async fn reports_page(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> Result<Response, PageError> {
    let person = q.get("person").unwrap_or_default();
    render(&state, &who, Filter::default(), Errors::none(), person).await
}

fn download(format: Format, stem: &str, body: Body) -> Response {
    (headers(format, stem), body).into_response()
}

async fn assignments_csv(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> Result<Response, PageError> {
    let (typed, filter, errors) = read_filter(&state, &who, &q).await?;
    if !errors.is_empty() {
        return render(&state, &who, typed, errors, String::new()).await;
    }
    whole_csv(
        State(state),
        who,
        Source::Assignments(filter),
        "assignments",
    )
    .await
}

/// A whole report as a CSV download.
async fn whole_csv(
    State(state): State<AppState>,
    who: AdminCaller,
    source: Source,
    stem: &str,
) -> Result<Response, PageError> {
    let stream = services::reports::report(state.pool(), &who.caller, source, Format::Csv).await?;
    Ok(download(
        Format::Csv,
        stem,
        Body::new(ChunkBody(stream.chunks)),
    ))
}

async fn person_csv(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<UserId>,
) -> Result<Response, PageError> {
    let (email, body) =
        services::reports::person_access(state.pool(), &who.caller, id, Format::Csv).await?;
    let stem = format!("access-{}", file_stem(&email));
    Ok(download(Format::Csv, &stem, Body::from(Bytes::from(body))))
}
