//! Sign-in per tenant at `/t/{slug}/`: ask for an emailed single-use link, confirm it
//! (a GET only shows a button: mail scanners open links), sign out; in demo mode a
//! dev sign-in page to pick a user. Also the tenant's home page.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::session::{
    PageError, PageResult, Posted, PreSessionForm, SESSION_COOKIE, SessionCaller, TenantSlug,
    clear_cookie, error_page, pre_session_token, redirect_with_flash, set_cookie, with_cookies,
};
use super::shell::Shell;
use crate::domain::ids::UserId;
use crate::services::sessions::{LinkRequest, LinkState, OpenedSession};
use crate::services::{self, ServiceError};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}", get(tenant_root))
        .route("/t/{slug}/sign-in", get(sign_in_form).post(send_link))
        .route(
            "/t/{slug}/sign-in/{token}",
            get(confirm_link).post(use_link),
        )
        .route("/t/{slug}/sign-out", post(sign_out))
        .route(
            "/t/{slug}/dev/sign-in",
            get(dev_sign_in_form).post(dev_sign_in),
        )
}

async fn tenant_root(Path(slug): Path<String>) -> Redirect {
    Redirect::permanent(&format!("/t/{slug}/"))
}

/// Where to go after sign-in: a path inside this tenant, else its home. Control
/// characters are refused: a CR/LF would break the `Location` header.
pub(super) fn safe_next(slug: &str, next: Option<&str>) -> String {
    let home = format!("/t/{slug}/");
    match next {
        Some(n)
            if n.starts_with(&home)
                && !n.contains("//")
                && !n.contains('\\')
                && !n.contains(char::is_control) =>
        {
            let n = n.to_string();
            if n.contains("/sign-in") || n.contains("/sign-out") {
                home
            } else {
                n
            }
        }
        _ => home,
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_in/sign_in.html")]
struct SignInPage {
    shell: Shell,
    slug: String,
    csrf: String,
    email: String,
    error: Option<String>,
    next: String,
    demo: bool,
    /// "Sign in with {provider}" when the tenant has an identity provider.
    provider: Option<String>,
    email_links: bool,
}

fn is_demo(state: &AppState, slug: &str) -> bool {
    state.demo_tenant() == Some(slug)
}

async fn sign_in_form(
    State(state): State<AppState>,
    TenantSlug(slug): TenantSlug,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> PageResult {
    let tenant = services::sessions::tenant(state.pool(), &slug).await?;
    let offer = services::oidc::offer(state.pool(), tenant.id).await?;
    let (csrf, cookie) = pre_session_token(&headers, &state);
    let page = SignInPage {
        shell: Shell::tenant("Sign in", &slug, &tenant.display_name),
        next: safe_next(&slug, q.next.as_deref()),
        demo: is_demo(&state, &slug),
        provider: offer.display_name,
        email_links: offer.email_link_sign_in,
        slug,
        csrf,
        email: String::new(),
        error: None,
    };
    Ok(with_cookies(page.into_response(), cookie.as_slice()))
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_in/sent.html")]
struct SentPage {
    shell: Shell,
    slug: String,
    email: String,
}

async fn send_link(
    State(state): State<AppState>,
    TenantSlug(slug): TenantSlug,
    PreSessionForm { form, client_ip }: PreSessionForm,
) -> PageResult {
    let tenant = services::sessions::tenant(state.pool(), &slug).await?;
    let offer = services::oidc::offer(state.pool(), tenant.id).await?;
    if !offer.email_link_sign_in {
        return Err(PageError::forbidden(format!(
            "{} signs in through {} only; emailed sign-in links are turned off.",
            tenant.display_name,
            offer
                .display_name
                .as_deref()
                .unwrap_or("its identity provider")
        ))
        .in_tenant(&slug));
    }
    let email = form.text("email");
    let outcome =
        services::sessions::request_link(state.pool(), &slug, &email, client_ip, state.now()).await;
    match outcome {
        Ok(LinkRequest::Sent) => Ok(SentPage {
            shell: Shell::tenant("Check your email", &slug, &tenant.display_name),
            slug,
            email: email.trim().to_string(),
        }
        .into_response()),
        Ok(LinkRequest::RateLimited) => Ok(error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in emails were asked for from your network in the last 15 minutes. Please wait a few minutes and try again.",
            Some(&slug),
        )),
        Err(ServiceError::Domain(crate::domain::DomainError::Validation(errors))) => {
            let page = SignInPage {
                shell: Shell::tenant("Sign in", &slug, &tenant.display_name),
                csrf: form.text(super::session::CSRF_FIELD),
                email,
                error: errors.0.get("email").cloned(),
                next: safe_next(&slug, form.get("next")),
                demo: is_demo(&state, &slug),
                provider: offer.display_name,
                email_links: true,
                slug,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_in/confirm.html")]
struct ConfirmPage {
    shell: Shell,
    slug: String,
    token: String,
    csrf: String,
}

fn link_gone(slug: &str, state: &LinkState) -> Response {
    let message = match state {
        LinkState::Used => "This sign-in link has already been used. Ask for a new one.",
        _ => "This sign-in link has expired (links work for 15 minutes). Ask for a new one.",
    };
    error_page(StatusCode::GONE, message, Some(slug))
}

async fn confirm_link(
    State(state): State<AppState>,
    TenantSlug(slug): TenantSlug,
    Path((_, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> PageResult {
    let tenant = services::sessions::tenant(state.pool(), &slug).await?;
    let link = services::sessions::check_link(state.pool(), &slug, &token, state.now()).await?;
    if link != LinkState::Valid {
        return Ok(link_gone(&slug, &link));
    }
    // The confirmation form carries the token itself; the POST checks it again.
    let (csrf, cookie) = pre_session_token(&headers, &state);
    let page = ConfirmPage {
        shell: Shell::tenant("Sign in", &slug, &tenant.display_name),
        slug,
        token,
        csrf,
    };
    Ok(with_cookies(page.into_response(), cookie.as_slice()))
}

fn session_started(state: &AppState, opened: &OpenedSession, to: &str) -> Response {
    let cookie = set_cookie(state, SESSION_COOKIE, &opened.token, None);
    let message = format!("Signed in as {}.", opened.user.display_name);
    with_cookies(redirect_with_flash(state, to, &message), &[cookie])
}

/// The link's POST, from the confirmation page (its double-submit CSRF token).
async fn use_link(
    State(state): State<AppState>,
    TenantSlug(slug): TenantSlug,
    Path((_, token)): Path<(String, String)>,
    _form: PreSessionForm,
) -> PageResult {
    let opened = services::sessions::consume_link(state.pool(), &slug, &token, state.now()).await?;
    match opened {
        Ok(opened) => Ok(session_started(&state, &opened, &format!("/t/{slug}/"))),
        Err(link) => Ok(link_gone(&slug, &link)),
    }
}

async fn sign_out(State(state): State<AppState>, posted: Posted<SessionCaller>) -> PageResult {
    let who = posted.who;
    services::sessions::sign_out(
        state.pool(),
        who.caller.tenant_id(),
        who.session_id,
        state.now(),
    )
    .await?;
    let to = format!("/t/{}/sign-in", who.slug());
    Ok(with_cookies(
        redirect_with_flash(&state, &to, "You have signed out."),
        &[clear_cookie(&state, SESSION_COOKIE)],
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_in/dev.html")]
struct DevSignInPage {
    shell: Shell,
    slug: String,
    csrf: String,
    next: String,
    users: Vec<DevUser>,
}

struct DevUser {
    id: String,
    name: String,
    email: String,
    detail: String,
}

async fn dev_sign_in_form(
    State(state): State<AppState>,
    TenantSlug(slug): TenantSlug,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> PageResult {
    if !is_demo(&state, &slug) {
        return Err(PageError::not_found());
    }
    let tenant = services::sessions::tenant(state.pool(), &slug).await?;
    let users = services::sessions::dev_users(state.pool(), &slug).await?;
    let (csrf, cookie) = pre_session_token(&headers, &state);
    let page = DevSignInPage {
        shell: Shell::tenant("Dev sign-in", &slug, &tenant.display_name),
        next: safe_next(&slug, q.next.as_deref()),
        slug,
        csrf,
        users: users
            .into_iter()
            .map(|u| DevUser {
                id: u.id.to_string(),
                detail: [u.job_title.clone(), u.department.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", "),
                name: u.display_name,
                email: u.email,
            })
            .collect(),
    };
    Ok(with_cookies(page.into_response(), cookie.as_slice()))
}

async fn dev_sign_in(
    State(state): State<AppState>,
    TenantSlug(slug): TenantSlug,
    PreSessionForm { form, .. }: PreSessionForm,
) -> PageResult {
    if !is_demo(&state, &slug) {
        return Err(PageError::not_found());
    }
    let user: UserId = form
        .get("userId")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| PageError::bad_request("Pick a user to sign in as."))?;
    let opened = services::sessions::dev_sign_in(state.pool(), &slug, user, state.now()).await?;
    Ok(session_started(
        &state,
        &opened,
        &safe_next(&slug, form.get("next")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_returns_only_inside_the_tenant() {
        assert_eq!(safe_next("acme", Some("/t/acme/admin")), "/t/acme/admin");
        assert_eq!(safe_next("acme", Some("https://evil.test/")), "/t/acme/");
        assert_eq!(safe_next("acme", Some("/t/other/admin")), "/t/acme/");
        assert_eq!(safe_next("acme", Some("/t/acme//evil.test")), "/t/acme/");
        assert_eq!(safe_next("acme", None), "/t/acme/");
        assert_eq!(
            safe_next("acme", Some("/t/acme/admin\r\nSet-Cookie: x=1")),
            "/t/acme/"
        );
    }
}
