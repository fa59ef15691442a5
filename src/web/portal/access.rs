//! The person's access: active assignments with their end, asking to extend one (a
//! `userUpdate` request, when the policy allows it) and giving one up (`userRemove`,
//! after a confirmation page).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::domain::DomainError;
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::ids::AssignmentId;
use crate::domain::policy::Expiration;
use crate::domain::request::RequestState;
use crate::domain::request::extension_window_opens;
use crate::model::assignments::AssignmentRow;
use crate::services::views::assignments::AccessDetail;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{PageResult, Params, Posted, SessionCaller, redirect_with_flash};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Badge, Errors, form_errors, invalid, when, when_opt};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/access", get(list_access))
        .route(
            "/t/{slug}/access/{id}/extend",
            get(extend_form).post(extend_access),
        )
        .route(
            "/t/{slug}/access/{id}/remove",
            get(remove_form).post(remove_access),
        )
}

struct AccessRow {
    package: String,
    package_href: String,
    state: Badge,
    start: String,
    end: String,
    extend: Option<String>,
    /// When Extend will be offered, for extensible access outside its window.
    extend_opens: Option<String>,
    remove: String,
}

/// An assignment that ended, with why.
struct EndedRow {
    package: String,
    package_href: String,
    start: String,
    ended: String,
    why: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/access.html")]
struct AccessPage {
    shell: Shell,
    base: String,
    browse: String,
    expired: bool,
    rows: Vec<AccessRow>,
    ended: Vec<EndedRow>,
    ended_shown: i64,
}

/// Why an assignment ended, as its holder reads it.
fn ended_because(state: AssignmentState, reason: Option<RemovalReason>) -> &'static str {
    match (state, reason) {
        (AssignmentState::Expired, _) => "It reached its end date.",
        (_, Some(RemovalReason::User)) => "You gave it up.",
        (_, Some(RemovalReason::Admin)) => "An admin removed it.",
        (_, Some(RemovalReason::Review)) => "An access review removed it.",
        (_, Some(RemovalReason::UserDeactivated)) => "Your account was deactivated.",
        (_, Some(RemovalReason::PolicyChanged)) => "Its policy changed and no longer includes you.",
        (_, Some(RemovalReason::OutOfScope)) => {
            "You are no longer among the people its policy lets request it (you left a group it names, or became a guest)."
        }
        _ => "It was removed.",
    }
}

async fn list_access(State(state): State<AppState>, who: SessionCaller, q: Params) -> PageResult {
    let expired = q.get("tab").as_deref() == Some("expired");
    let list = services::views::assignments::my_access(state.pool(), &who.caller, expired).await?;
    let now = state.now();
    let package_href = |a: &AssignmentRow| who.url(&format!("/packages/{}", a.package_id));
    let ended = if expired {
        list.items
            .iter()
            .map(|a| EndedRow {
                package: list.names.package(a.package_id.0),
                package_href: package_href(a),
                start: when(a.start_at),
                ended: when(a.ended_at.or(a.end_at).unwrap_or(a.updated_at)),
                why: ended_because(a.state, a.removal_reason),
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows = if expired { &[][..] } else { &list.items[..] }
        .iter()
        .map(|a| {
            let extensible = list
                .names
                .policy(a.policy_id)
                .is_some_and(|p| p.settings.0.extension.allowed)
                && a.end_at.is_some();
            // Extend is offered inside its window; before, the row says when it opens.
            let opens = a.end_at.map(extension_window_opens).filter(|o| now < *o);
            AccessRow {
                package: list.names.package(a.package_id.0),
                package_href: package_href(a),
                state: Badge::state(a.state),
                start: when(a.start_at),
                end: a.end_at.map_or_else(|| "Does not expire".to_string(), when),
                extend: (extensible && opens.is_none())
                    .then(|| who.url(&format!("/access/{}/extend", a.id))),
                extend_opens: opens
                    .filter(|_| extensible)
                    .map(|o| format!("Extend from {}", o.format("%Y-%m-%d"))),
                remove: who.url(&format!("/access/{}/remove", a.id)),
            }
        })
        .collect();
    Ok(AccessPage {
        shell: who.shell("My access", Section::MyAccess),
        base: who.url("/access"),
        browse: who.url("/packages"),
        expired,
        rows,
        ended,
        ended_shown: services::views::assignments::ENDED_SHOWN,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/extend.html")]
struct ExtendPage {
    shell: Shell,
    slug: String,
    action: String,
    package: String,
    end: String,
    rule: String,
    allowed: bool,
    hint: &'static str,
    justification: String,
    errors: Errors,
    refusal: String,
}

fn extend_page(
    who: &SessionCaller,
    d: &AccessDetail,
    justification: String,
    errors: Errors,
    refusal: String,
) -> ExtendPage {
    let s = &d.policy.settings.0;
    ExtendPage {
        shell: who.shell("Extend access", Section::MyAccess),
        slug: who.slug().to_string(),
        action: who.url(&format!("/access/{}/extend", d.assignment.id)),
        package: d.package.clone(),
        end: when_opt(d.assignment.end_at),
        rule: match s.expiration {
            Expiration::Never => "This access does not expire.".into(),
            Expiration::AfterDays { days } => format!("An extension adds {days} days."),
            Expiration::AfterHours { hours } => format!("An extension adds {hours} hours."),
            Expiration::OnDate { date } => format!(
                "Access under this policy ends on {} at the latest.",
                when(date)
            ),
        } + if s.extension.require_approval {
            " Your approvers decide."
        } else {
            ""
        },
        allowed: s.extension.allowed && d.assignment.end_at.is_some(),
        hint: if s.require_justification {
            "Required by this policy."
        } else {
            "Optional."
        },
        justification,
        errors,
        refusal,
    }
}

async fn extend_form(
    State(state): State<AppState>,
    who: SessionCaller,
    Ids(id): Ids<AssignmentId>,
) -> PageResult {
    let d = services::views::assignments::my_assignment(state.pool(), &who.caller, id).await?;
    Ok(extend_page(&who, &d, String::new(), Errors::none(), String::new()).into_response())
}

async fn extend_access(
    State(state): State<AppState>,
    Ids(id): Ids<AssignmentId>,
    posted: Posted<SessionCaller>,
) -> PageResult {
    let who = &posted.who;
    let justification = posted.form.opt("justification");
    match services::assignments::extend_access(
        state.pool(),
        &who.caller,
        id,
        justification,
        state.now(),
    )
    .await
    {
        Ok(view) => {
            let message = if view.request.state == RequestState::PendingApproval {
                "Extension requested; your approvers have been asked."
            } else {
                "Your access has been extended."
            };
            Ok(redirect_with_flash(
                &state,
                &who.url(&format!("/requests/{}", view.request.id)),
                message,
            ))
        }
        Err(e) => {
            let (errors, refusal, status) = match e {
                ServiceError::Domain(DomainError::Conflict(m)) => {
                    (Errors::none(), m, axum::http::StatusCode::CONFLICT)
                }
                other => (
                    form_errors(other)?,
                    String::new(),
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                ),
            };
            let d =
                services::views::assignments::my_assignment(state.pool(), &who.caller, id).await?;
            let page = extend_page(who, &d, posted.form.text("justification"), errors, refusal);
            if status == axum::http::StatusCode::CONFLICT {
                Ok((status, page).into_response())
            } else {
                Ok(invalid(page))
            }
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/remove.html")]
struct RemovePage {
    shell: Shell,
    slug: String,
    action: String,
    package: String,
    end: String,
}

async fn remove_form(
    State(state): State<AppState>,
    who: SessionCaller,
    Ids(id): Ids<AssignmentId>,
) -> PageResult {
    let d = services::views::assignments::my_assignment(state.pool(), &who.caller, id).await?;
    Ok(RemovePage {
        shell: who.shell("Remove access", Section::MyAccess),
        slug: who.slug().to_string(),
        action: who.url(&format!("/access/{id}/remove")),
        package: d.package,
        end: when_opt(d.assignment.end_at),
    }
    .into_response())
}

async fn remove_access(
    State(state): State<AppState>,
    Ids(id): Ids<AssignmentId>,
    posted: Posted<SessionCaller>,
) -> PageResult {
    let who = &posted.who;
    services::assignments::remove_access(state.pool(), &who.caller, id, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url("/access"),
        "Your access has been removed.",
    ))
}
