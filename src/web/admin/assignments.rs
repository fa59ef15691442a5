//! Assignments of a package: the list (filtered by state) with each grant's state and
//! error, direct assignment by an admin (`adminAdd`, optional start and end), removal
//! (`adminRemove`) and reprocessing of failed grants.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::DomainError;
use crate::domain::assignment::{AssignmentState, GrantState};
use crate::domain::authz::Action;
use crate::domain::ids::{AssignmentId, PackageId, PolicyId};
use crate::services::assignments::DirectAssignment;
use crate::services::views::assignments::AssignmentsPage;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{AdminCaller, FormData, PageResult, Params, Posted, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{
    Badge, Errors, Pager, form_errors, form_when, invalid, state_label, when, when_opt,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/packages/{id}/assignments",
            get(list_assignments).post(add_assignment),
        )
        .route(
            "/t/{slug}/admin/assignments/{aid}/remove",
            post(remove_assignment),
        )
        .route(
            "/t/{slug}/admin/assignments/{aid}/reprocess",
            post(reprocess_assignment),
        )
}

struct GrantView {
    role: String,
    state: Badge,
    error: String,
}

struct AssignmentRow {
    id: String,
    user: String,
    email: String,
    state: Badge,
    reason: String,
    policy: String,
    start: String,
    end: String,
    grants: Vec<GrantView>,
    active: bool,
    failed: bool,
    remove: String,
    reprocess: String,
    /// The assignment's history in the audit log ("" for those who may not read it).
    history: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/assignments.html")]
struct AssignmentsView {
    shell: Shell,
    csrf: String,
    slug: String,
    package_name: String,
    package_href: String,
    base: String,
    state: String,
    states: Vec<(&'static str, String)>,
    rows: Vec<AssignmentRow>,
    any_active: bool,
    pager: Pager,
    can_manage: bool,
    policies: Vec<(String, String)>,
    errors: Errors,
    email: String,
    policy: String,
    start: String,
    end: String,
    justification: String,
}

fn view(
    who: &AdminCaller,
    p: AssignmentsPage,
    state: Option<String>,
    page: &crate::paging::PageRequest,
    form: Option<&FormData>,
    errors: Errors,
) -> AssignmentsView {
    let pkg = &p.package;
    let id = pkg.package.package.id;
    let base = who.url(&format!("/admin/packages/{id}/assignments"));
    let filtered = match &state {
        Some(s) => format!("{base}?state={s}"),
        None => base.clone(),
    };
    let rows = p
        .assignments
        .items
        .iter()
        .map(|v| {
            let a = &v.assignment;
            let active = a.state.is_active();
            AssignmentRow {
                id: a.id.to_string(),
                user: pkg.names.user(a.target_user_id.0),
                email: pkg.names.user_email(a.target_user_id.0),
                state: Badge::state(a.state),
                reason: a.removal_reason.map(|r| r.to_string()).unwrap_or_default(),
                policy: pkg.names.policy_name(a.policy_id.0),
                start: when(a.start_at),
                end: when_opt(a.end_at),
                grants: v
                    .grants
                    .iter()
                    .map(|g| GrantView {
                        role: pkg.names.role(g.resource_role_id.0),
                        state: Badge::state(g.state),
                        error: g.error.clone().unwrap_or_default(),
                    })
                    .collect(),
                active,
                failed: a.state.may_reprocess()
                    && v.grants.iter().any(|g| g.state == GrantState::Failed),
                remove: who.url(&format!("/admin/assignments/{}/remove", a.id)),
                history: if who.caller.roles.allows(Action::ReadAudit) {
                    who.url(&format!("/admin/audit?target={}", a.id))
                } else {
                    String::new()
                },
                reprocess: who.url(&format!("/admin/assignments/{}/reprocess", a.id)),
            }
        })
        .collect::<Vec<AssignmentRow>>();
    let f = |name: &str| form.map(|f| f.text(name)).unwrap_or_default();
    AssignmentsView {
        any_active: rows.iter().any(|r| r.active),
        shell: who.shell(
            format!("Assignments of {}", pkg.package.package.display_name),
            Section::Packages,
        ),
        csrf: who.csrf.clone(),
        slug: who.slug().to_string(),
        package_name: pkg.package.package.display_name.clone(),
        package_href: who.url(&format!("/admin/packages/{id}")),
        state: state.clone().unwrap_or_default(),
        states: AssignmentState::ALL
            .iter()
            .map(|s| (s.as_str(), state_label(s)))
            .collect(),
        rows,
        pager: Pager::new(&filtered, page, p.assignments.next),
        can_manage: pkg.can_assign,
        policies: pkg
            .policies
            .iter()
            .map(|pol| (pol.id.to_string(), pol.display_name.clone()))
            .collect(),
        errors,
        email: f("email"),
        policy: f("policyId"),
        start: f("start"),
        end: f("end"),
        justification: f("justification"),
        base,
    }
}

fn state_filter(q: &Params) -> Result<Option<String>, crate::web::session::PageError> {
    match q.get("state") {
        None => Ok(None),
        Some(s) if AssignmentState::parse(&s).is_some() => Ok(Some(s)),
        Some(s) => Err(crate::web::session::PageError::bad_request(format!(
            "'{s}' is not an assignment state."
        ))),
    }
}

async fn list_assignments(
    State(state): State<AppState>,
    who: AdminCaller,
    Ids(id): Ids<PackageId>,
    q: Params,
) -> PageResult {
    let filter = state_filter(&q)?;
    let page = q.page()?;
    let p = services::views::assignments::assignments_page(
        state.pool(),
        &who.caller,
        id,
        filter.as_deref(),
        page,
    )
    .await?;
    Ok(view(&who, p, filter, &page, None, Errors::none()).into_response())
}

async fn add_assignment(
    State(state): State<AppState>,
    Ids(id): Ids<PackageId>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let mut errors = Errors::none();
    let start = form_when(&form, "start", &mut errors);
    let end = form_when(&form, "end", &mut errors);
    if errors.is_empty() {
        let input = DirectAssignment {
            email: form.text("email"),
            policy_id: form
                .get("policyId")
                .and_then(|p| p.parse::<PolicyId>().ok()),
            start,
            end,
            justification: form.opt("justification"),
        };
        match services::assignments::assign_directly(
            state.pool(),
            &who.caller,
            id,
            input,
            state.now(),
        )
        .await
        {
            Ok(r) => {
                return Ok(redirect_with_flash(
                    &state,
                    &who.url(&format!("/admin/packages/{id}/assignments")),
                    &format!(
                        "Assigned to {}: the request is {}.",
                        form.text("email").trim(),
                        state_label(r.request.state).to_lowercase()
                    ),
                ));
            }
            // The state of things blocking it (already assigned, disabled…) is told at the form.
            Err(ServiceError::Domain(DomainError::Conflict(m))) => errors.add("email", m),
            Err(e) => errors = form_errors(e)?,
        }
    }
    // Schedule fields of the API are named start/end here too.
    let page = crate::paging::PageRequest::first(25);
    let p =
        services::views::assignments::assignments_page(state.pool(), &who.caller, id, None, page)
            .await?;
    Ok(invalid(view(&who, p, None, &page, Some(&form), errors)))
}

async fn remove_assignment(
    State(state): State<AppState>,
    Ids(aid): Ids<AssignmentId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let r = services::assignments::remove_assignment(state.pool(), &who.caller, aid, state.now())
        .await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!(
            "/admin/packages/{}/assignments",
            r.request.package_id
        )),
        "Assignment removed; its access has been revoked.",
    ))
}

async fn reprocess_assignment(
    State(state): State<AppState>,
    Ids(aid): Ids<AssignmentId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    let v = services::assignments::reprocess(state.pool(), &who.caller, aid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(&format!(
            "/admin/packages/{}/assignments",
            v.assignment.package_id
        )),
        "The failed grants are being delivered again.",
    ))
}
