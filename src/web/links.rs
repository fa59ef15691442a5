//! Pages reached from emailed approval links (DOMAIN.md §12, API.md "Emailed approval
//! links"): `GET /links/{token}/approve|deny` shows the request and one confirmation
//! form and never decides (mail scanners open links); `POST` to the same URL decides.
//! Unknown tokens answer 404, expired ones 410, decided or used ones 200 on GET and
//! 409 on POST. Every POST passes the Origin and double-submit CSRF checks first.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::csrf::{self, CsrfToken};
use crate::domain::request::{Decision, RequestState};
use crate::services::approval_links::{self, LinkError, LinkStatus, LinkView};
use crate::state::AppState;
use crate::web::shell::{Shell, ShellTenant};
use crate::web::view::{request_outcome, when};

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/links/{token}/{decision}",
        get(show_link).post(decide_link),
    )
}

/// The path of a link page, `/links/{token}/{decision}`; a decision other than
/// `approve` or `deny` answers like an unknown token.
struct LinkPath {
    token: String,
    decision: Decision,
}

impl<S: Send + Sync> FromRequestParts<S> for LinkPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((token, decision)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(decision) = Decision::parse(&decision) else {
            return Err(unknown());
        };
        Ok(Self { token, decision })
    }
}

struct ShownAnswer {
    question: String,
    value: String,
}

struct ShownDecision {
    approver: String,
    verb: &'static str,
    justification: Option<String>,
    at: String,
}

/// A link's request as the pages show it: text only, formatted for people.
struct Shown {
    tenant: String,
    approver: String,
    package: String,
    requestor: String,
    target: String,
    justification: Option<String>,
    answers: Vec<ShownAnswer>,
    stage_number: i32,
    stage_count: usize,
    due: String,
    decisions: Vec<ShownDecision>,
}

/// Link pages show times in the tenant's zone (who opened the link is not known).
fn tenant_zone(v: &LinkView) -> chrono_tz::Tz {
    crate::time_text::zone_of(None, &v.tenant.time_zone)
}

impl Shown {
    fn of(v: &LinkView) -> Self {
        crate::time_text::in_zone(tenant_zone(v), || Self::in_zone(v))
    }

    fn in_zone(v: &LinkView) -> Self {
        Self {
            tenant: v.tenant.display_name.clone(),
            approver: v.approver.clone(),
            package: v.package.clone(),
            requestor: v.requestor.clone(),
            target: v.target.clone(),
            justification: v.justification.clone(),
            answers: v
                .answers
                .iter()
                .map(|a| ShownAnswer {
                    question: a.question.clone(),
                    value: a.value.clone(),
                })
                .collect(),
            stage_number: v.stage_number,
            stage_count: v.stage_count,
            due: when(v.due_at),
            decisions: v
                .decisions
                .iter()
                .map(|d| ShownDecision {
                    approver: d.approver.clone(),
                    verb: verb(d.decision),
                    justification: d.justification.clone(),
                    at: when(d.at),
                })
                .collect(),
        }
    }
}

fn verb(d: Decision) -> &'static str {
    match d {
        Decision::Approve => "approved",
        Decision::Deny => "denied",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "links/decide.html")]
struct DecidePage {
    shell: Shell,
    s: Shown,
    label: &'static str,
    button_class: &'static str,
    action: String,
    other: String,
    other_verb: &'static str,
    other_label: &'static str,
    csrf: String,
    justification: String,
    require_justification: bool,
    error: Option<String>,
    sign_in_required: bool,
    portal: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "links/decided.html")]
struct DecidedPage {
    shell: Shell,
    s: Shown,
    heading: String,
    message: String,
    state_text: Option<&'static str>,
    portal: String,
}

struct NoticeLink {
    href: String,
    label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "links/notice.html")]
struct NoticePage {
    shell: Shell,
    heading: String,
    message: String,
    link: Option<NoticeLink>,
}

fn portal_url(state: &AppState, v: &LinkView) -> String {
    format!("{}/t/{}/", state.settings().public_url(), v.tenant.slug)
}

/// Link pages carry a token in their URL: keep them out of caches, indexes and the
/// `Referer` of anything they link to.
fn finish(status: StatusCode, page: impl IntoResponse, csrf: Option<&CsrfToken>) -> Response {
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    if let Some(t) = csrf {
        t.apply(headers);
    }
    response
}

fn notice(
    status: StatusCode,
    heading: &str,
    message: impl Into<String>,
    link: Option<NoticeLink>,
) -> Response {
    finish(
        status,
        NoticePage {
            shell: Shell::public(heading.to_string()),
            heading: heading.to_string(),
            message: message.into(),
            link,
        },
        None,
    )
}

fn unknown() -> Response {
    notice(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "Portico does not know this approval link. It may have been cut off by your mail program: open it from the email again, or decide in the portal under Approvals.",
        None,
    )
}

fn expired(state: &AppState, v: &LinkView) -> Response {
    notice(
        StatusCode::GONE,
        "This link has expired",
        format!(
            "The time to decide on {}'s request for “{}” ended on {}. Nothing was decided through this link.",
            v.target,
            v.package,
            crate::time_text::in_zone(tenant_zone(v), || when(v.link.expires_at.min(v.due_at)))
        ),
        Some(NoticeLink {
            href: portal_url(state, v),
            label: format!("Open {}", v.tenant.display_name),
        }),
    )
}

fn not_an_approver(state: &AppState, v: &LinkView) -> Response {
    notice(
        StatusCode::FORBIDDEN,
        "You can no longer decide on this request",
        format!(
            "{} is no longer an approver of this stage of the request for “{}”, so this link decides nothing.",
            v.approver, v.package
        ),
        Some(NoticeLink {
            href: portal_url(state, v),
            label: format!("Open {}", v.tenant.display_name),
        }),
    )
}

/// The layout of a page about one link: its header leads to the tenant's portal.
fn link_shell(title: impl Into<String>, v: &LinkView) -> Shell {
    Shell {
        tenant: Some(ShellTenant {
            slug: v.tenant.slug.clone(),
            display_name: v.tenant.display_name.clone(),
        }),
        ..Shell::public(title)
    }
}

fn decided(state: &AppState, status: StatusCode, v: &LinkView, message: String) -> Response {
    let heading = if v.request_state == RequestState::Canceled {
        "This request was canceled"
    } else if status == StatusCode::CONFLICT {
        "Nothing was decided"
    } else {
        "Already decided"
    };
    finish(
        status,
        DecidedPage {
            shell: link_shell(heading, v),
            s: Shown::of(v),
            heading: heading.to_string(),
            message,
            state_text: None,
            portal: portal_url(state, v),
        },
        None,
    )
}

fn decide_page(
    state: &AppState,
    v: &LinkView,
    decision: Decision,
    token: &str,
    csrf: &CsrfToken,
    justification: String,
    error: Option<String>,
) -> Response {
    let (label, button_class, other_verb, other_label, other) = match decision {
        Decision::Approve => ("Approve", "approve", "deny", "Deny", "deny"),
        Decision::Deny => ("Deny", "deny", "approve", "Approve", "approve"),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    finish(
        status,
        DecidePage {
            shell: link_shell(format!("{label} the request for {}", v.package), v),
            s: Shown::of(v),
            label,
            button_class,
            action: format!("/links/{token}/{}", decision.as_str()),
            other: format!("/links/{token}/{other}"),
            other_verb,
            other_label,
            csrf: csrf.value.clone(),
            justification,
            require_justification: v.require_justification,
            error,
            sign_in_required: v.tenant.approval_links_require_sign_in,
            portal: portal_url(state, v),
        },
        Some(csrf),
    )
}

/// GET: shows the request and the confirmation form; decides nothing.
async fn show_link(
    State(state): State<AppState>,
    LinkPath { token, decision }: LinkPath,
    headers: HeaderMap,
) -> Response {
    let view = match approval_links::open(state.pool(), &token, state.now()).await {
        Ok(Some(v)) => v,
        Ok(None) => return unknown(),
        Err(e) => return internal(e),
    };
    match &view.status {
        LinkStatus::Open => {
            let csrf = csrf::for_page(&headers, state.settings(), state.keys());
            decide_page(&state, &view, decision, &token, &csrf, String::new(), None)
        }
        LinkStatus::Decided(message) => decided(&state, StatusCode::OK, &view, message.clone()),
        LinkStatus::Expired => expired(&state, &view),
        LinkStatus::NotAnApprover => not_an_approver(&state, &view),
    }
}

#[derive(Deserialize)]
struct DecideForm {
    justification: Option<String>,
    csrf_token: Option<String>,
}

/// POST: decides, after the Origin and CSRF checks.
async fn decide_link(
    State(state): State<AppState>,
    LinkPath { token, decision }: LinkPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !csrf::origin_allowed(&headers, state.settings()) {
        return notice(
            StatusCode::FORBIDDEN,
            "This form came from another site",
            "Portico only accepts decisions sent from its own pages. Open the link from your email again and confirm there.",
            None,
        );
    }
    let form: DecideForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => {
            return notice(
                StatusCode::BAD_REQUEST,
                "This form could not be read",
                "Send the confirmation form of the link page as it is.",
                None,
            );
        }
    };
    if !csrf::verify(
        &headers,
        state.settings(),
        state.keys(),
        form.csrf_token.as_deref(),
    ) {
        return notice(
            StatusCode::FORBIDDEN,
            "This form has expired",
            "The page's security check did not match (was it open for a long time, or are cookies blocked?). Nothing was decided: open the link from your email again and confirm there.",
            None,
        );
    }
    let justification = form.justification.unwrap_or_default();
    let result = approval_links::decide(
        state.pool(),
        &token,
        decision,
        Some(justification.clone()),
        state.now(),
    )
    .await;
    match result {
        Ok(v) => {
            let message = format!(
                "You {} the request of {} for “{}”. Thank you.",
                verb(decision),
                v.requestor,
                v.package
            );
            finish(
                StatusCode::OK,
                DecidedPage {
                    shell: link_shell("Decision recorded", &v),
                    heading: "Decision recorded".into(),
                    message,
                    state_text: Some(request_outcome(v.request_state)),
                    portal: portal_url(&state, &v),
                    s: Shown::of(&v),
                },
                None,
            )
        }
        Err(LinkError::Unknown) => unknown(),
        Err(LinkError::Closed(v)) => match &v.status {
            LinkStatus::Decided(message) => {
                decided(&state, StatusCode::CONFLICT, &v, message.clone())
            }
            LinkStatus::Expired => expired(&state, &v),
            LinkStatus::NotAnApprover => not_an_approver(&state, &v),
            LinkStatus::Open => decided(
                &state,
                StatusCode::CONFLICT,
                &v,
                "This link can no longer decide.".into(),
            ),
        },
        Err(LinkError::SignInRequired(v)) => {
            let portal = portal_url(&state, &v);
            notice(
                StatusCode::FORBIDDEN,
                "Please sign in to decide",
                format!(
                    "{} asks approvers to sign in before they decide. Nothing was decided: sign in to the portal at {portal} and decide under Approvals.",
                    v.tenant.display_name
                ),
                Some(NoticeLink {
                    href: portal,
                    label: "Sign in to the portal".into(),
                }),
            )
        }
        Err(LinkError::Invalid(v, message)) => {
            let csrf = csrf::for_page(&headers, state.settings(), state.keys());
            decide_page(
                &state,
                &v,
                decision,
                &token,
                &csrf,
                justification,
                Some(message),
            )
        }
        Err(LinkError::Service(e)) => internal(e),
    }
}

fn internal(e: crate::services::ServiceError) -> Response {
    tracing::error!(error = format!("{e:#}"), "approval link failed");
    notice(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Something went wrong on our side; it has been logged and nothing was decided. Please try again in a moment.",
        None,
    )
}
