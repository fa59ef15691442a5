//! Access packages in My Access: the searchable list (an htmx fragment while typing),
//! a package's page with what it grants and its policies, and the request form with
//! its field errors (422) and refusals explained (403/409, with what to do instead).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::domain::DomainError;
use crate::domain::ids::{PackageId, PolicyId};
use crate::domain::policy::{Expiration, QuestionKind};
use crate::domain::request::{AnswerInput, RequestState};
use crate::services::requests::RequestForm;
use crate::services::views::packages::PackageDetail;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::path::Ids;
use crate::web::session::{
    FormData, PageResult, Params, Posted, SessionCaller, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, Pager, form_errors, form_when, invalid, when};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/packages", get(list_packages))
        .route("/t/{slug}/packages/{id}", get(show_package))
        .route(
            "/t/{slug}/packages/{id}/request",
            get(request_form).post(submit_request),
        )
}

struct PackageCard {
    href: String,
    name: String,
    description: String,
    catalog: String,
    /// The caller holds this package: its Extend and Remove pages.
    held: Option<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/packages.html")]
struct PackagesPage {
    shell: Shell,
    base: String,
    q: String,
    no_match: String,
    cards: Vec<PackageCard>,
    pager: Pager,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/_package_cards.html")]
struct PackageCards {
    q: String,
    no_match: String,
    cards: Vec<PackageCard>,
    pager: Pager,
}

async fn list_packages(State(state): State<AppState>, who: SessionCaller, q: Params) -> PageResult {
    let page = q.page()?;
    let search = q.get("q");
    let found =
        services::views::packages::packages(state.pool(), &who.caller, search.as_deref(), page)
            .await?;
    let base = who.url("/packages");
    let filtered = match &search {
        Some(s) => format!(
            "{base}?q={}",
            url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        ),
        None => base.clone(),
    };
    let cards = found
        .items
        .iter()
        .map(|p| PackageCard {
            href: format!("{base}/{}", p.package.id),
            name: p.package.display_name.clone(),
            description: p.package.description.clone(),
            catalog: p.catalog_name.clone(),
            held: p.held.map(|a| {
                (
                    who.url(&format!("/access/{a}/extend")),
                    who.url(&format!("/access/{a}/remove")),
                )
            }),
        })
        .collect();
    let pager = Pager::new(&filtered, &page, found.next);
    let q = search.unwrap_or_default();
    let no_match = format!("No access package matches “{q}”. Try another word.");
    if who.htmx_target.as_deref() == Some("package-results") {
        return Ok(PackageCards {
            q,
            no_match,
            cards,
            pager,
        }
        .into_response());
    }
    Ok(PackagesPage {
        shell: who.shell("Access packages", Section::MyPackages),
        base,
        q,
        no_match,
        cards,
        pager,
    }
    .into_response())
}

struct StageLine {
    n: usize,
    approvers: String,
    timeout_days: i64,
    justification: bool,
}

struct QuestionField {
    name: String,
    text: String,
    required: bool,
    kind: &'static str,
    options: Vec<String>,
    value: String,
}

struct PolicyBlock {
    id: String,
    name: String,
    description: String,
    stages: Vec<StageLine>,
    justification: bool,
    questions: Vec<QuestionField>,
    duration: String,
    custom_schedule: bool,
    extension: String,
    selected: bool,
}

/// A refusal in words, with a link to what to do instead.
struct Refusal {
    message: String,
    href: String,
    action: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "portal/package.html")]
struct PackagePage {
    shell: Shell,
    slug: String,
    action: String,
    name: String,
    description: String,
    catalog: String,
    catalog_enabled: bool,
    grants: Vec<(String, String)>,
    policies: Vec<PolicyBlock>,
    several: bool,
    refusal: Option<Refusal>,
    errors: Errors,
    justification: String,
    start: String,
    end: String,
}

fn duration(e: &Expiration) -> String {
    match e {
        Expiration::Never => "Access does not expire.".into(),
        Expiration::AfterDays { days } => format!("Access lasts {days} days."),
        Expiration::AfterHours { hours } => format!("Access lasts {hours} hours."),
        Expiration::OnDate { date } => format!("Access ends on {}.", when(*date)),
    }
}

/// The standing refusal of a package for this person (already assigned, open request).
fn standing_refusal(who: &SessionCaller, d: &PackageDetail) -> Option<Refusal> {
    if let Some(a) = &d.active {
        return Some(Refusal {
            message:
                "You already have this access package. Extend it instead of requesting it again."
                    .into(),
            href: who.url(&format!("/access/{}/extend", a.id)),
            action: "Extend your access".into(),
        });
    }
    if let Some(r) = d.open_request {
        return Some(Refusal {
            message: "You already have an open request for this access package. Wait for its decision, or cancel it to request again.".into(),
            href: who.url(&format!("/requests/{r}")),
            action: "See your open request".into(),
        });
    }
    if d.policies.is_empty() {
        return Some(Refusal {
            message: "No policy of this access package lets you request it. Ask your manager or an administrator who can assign it to you.".into(),
            href: who.url("/packages"),
            action: "Browse other access packages".into(),
        });
    }
    if !d.catalog.enabled {
        return Some(Refusal {
            message:
                "The catalog of this access package is disabled, so it cannot be requested now."
                    .into(),
            href: who.url("/packages"),
            action: "Browse other access packages".into(),
        });
    }
    None
}

fn render(
    who: &SessionCaller,
    d: &PackageDetail,
    form: Option<&FormData>,
    errors: Errors,
    refusal: Option<Refusal>,
) -> PackagePage {
    let chosen = form.and_then(|f| f.opt("policy"));
    let policies: Vec<PolicyBlock> = d
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let s = &p.policy.settings.0;
            let id = p.policy.id.to_string();
            PolicyBlock {
                selected: chosen.as_deref().map_or(i == 0, |c| c == id),
                id,
                name: p.policy.display_name.clone(),
                description: s.description.clone(),
                stages: p
                    .stages
                    .iter()
                    .enumerate()
                    .map(|(n, st)| StageLine {
                        n: n + 1,
                        approvers: st.approvers.clone(),
                        timeout_days: st.timeout_days,
                        justification: st.require_justification,
                    })
                    .collect(),
                justification: s.require_justification,
                questions: s
                    .questions
                    .iter()
                    .filter_map(|q| {
                        let qid = q.id?;
                        let name = format!("answers.{qid}");
                        Some(QuestionField {
                            value: form.map(|f| f.text(&name)).unwrap_or_default(),
                            name,
                            text: q.text.clone(),
                            required: q.required,
                            kind: match q.kind {
                                QuestionKind::ShortText => "shortText",
                                QuestionKind::LongText => "longText",
                                QuestionKind::Choice => "choice",
                            },
                            options: q.options.clone(),
                        })
                    })
                    .collect(),
                duration: duration(&s.expiration),
                custom_schedule: s.allow_custom_schedule,
                extension: if s.extension.allowed {
                    if s.extension.require_approval {
                        "You can ask to extend it in its last 14 days (with approval).".into()
                    } else {
                        "You can extend it in its last 14 days.".into()
                    }
                } else {
                    String::new()
                },
            }
        })
        .collect();
    PackagePage {
        shell: who.shell(d.package.display_name.clone(), Section::MyPackages),
        slug: who.slug().to_string(),
        action: who.url(&format!("/packages/{}/request", d.package.id)),
        name: d.package.display_name.clone(),
        description: d.package.description.clone(),
        catalog: d.catalog.display_name.clone(),
        catalog_enabled: d.catalog.enabled,
        grants: d.grants.clone(),
        several: policies.len() > 1,
        policies,
        refusal: refusal.or_else(|| standing_refusal(who, d)),
        errors,
        justification: form.map(|f| f.text("justification")).unwrap_or_default(),
        start: form.map(|f| f.text("start")).unwrap_or_default(),
        end: form.map(|f| f.text("end")).unwrap_or_default(),
    }
}

async fn show_package(
    State(state): State<AppState>,
    who: SessionCaller,
    Ids(id): Ids<PackageId>,
) -> PageResult {
    let d = services::views::packages::package(state.pool(), &who.caller, id).await?;
    Ok(render(&who, &d, None, Errors::none(), None).into_response())
}

async fn request_form(who: SessionCaller, Ids(id): Ids<PackageId>) -> Response {
    Redirect::to(&who.url(&format!("/packages/{id}#request"))).into_response()
}

/// The request form as the service takes it; unreadable dates are field errors.
fn read_form(form: &FormData, errors: &mut Errors) -> RequestForm {
    let policy_id = form.opt("policy").and_then(|p| p.parse::<PolicyId>().ok());
    let answers = form
        .0
        .iter()
        .filter_map(|(k, v)| {
            let id = k.strip_prefix("answers.")?.parse().ok()?;
            Some(AnswerInput {
                question_id: id,
                value: v.trim().to_string(),
            })
        })
        .filter(|a| !a.value.is_empty())
        .collect();
    let start = form_when(form, "start", errors);
    let end = form_when(form, "end", errors);
    RequestForm {
        policy_id,
        justification: form.opt("justification"),
        answers,
        start,
        end,
    }
}

async fn submit_request(
    State(state): State<AppState>,
    Ids(id): Ids<PackageId>,
    posted: Posted<SessionCaller>,
) -> PageResult {
    let who = &posted.who;
    let mut errors = Errors::none();
    let input = read_form(&posted.form, &mut errors);
    if !errors.is_empty() {
        let d = services::views::packages::package(state.pool(), &who.caller, id).await?;
        return Ok(invalid(render(who, &d, Some(&posted.form), errors, None)));
    }
    match services::requests::request_package(state.pool(), &who.caller, id, input, state.now())
        .await
    {
        Ok(view) => {
            let message = match view.request.state {
                RequestState::Delivered => "Request delivered: you have the access now.",
                RequestState::PendingApproval => {
                    "Request submitted. Your approvers have been asked; you will get an email when they decide."
                }
                RequestState::Scheduled => {
                    "Request approved; your access starts at the time you chose."
                }
                _ => "Request submitted.",
            };
            Ok(redirect_with_flash(
                &state,
                &who.url(&format!("/requests/{}", view.request.id)),
                message,
            ))
        }
        Err(e) => {
            // Field errors and refusals show on the package page again, with the
            // form as sent; anything else (404, 5xx) is an error page.
            let (errors, refusal, status) = match e {
                ServiceError::Domain(DomainError::Conflict(m)) => (
                    Errors::none(),
                    Some(Refusal {
                        message: m,
                        href: String::new(),
                        action: String::new(),
                    }),
                    StatusCode::CONFLICT,
                ),
                ServiceError::Domain(DomainError::Forbidden(m)) => (
                    Errors::none(),
                    Some(Refusal {
                        message: m,
                        href: who.url("/packages"),
                        action: "Browse other access packages".into(),
                    }),
                    StatusCode::FORBIDDEN,
                ),
                other => (form_errors(other)?, None, StatusCode::UNPROCESSABLE_ENTITY),
            };
            let d = services::views::packages::package(state.pool(), &who.caller, id).await?;
            let refusal = refusal.map(|r| {
                // A refusal about the state of things links to what to do instead.
                standing_refusal(who, &d)
                    .map(|s| Refusal {
                        message: r.message.clone(),
                        ..s
                    })
                    .unwrap_or(r)
            });
            let page = render(who, &d, Some(&posted.form), errors, refusal);
            if status == StatusCode::UNPROCESSABLE_ENTITY {
                Ok(invalid(page))
            } else {
                Ok((status, page).into_response())
            }
        }
    }
}
