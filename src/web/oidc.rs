//! The OIDC sign-in flow's two addresses (INTEGRATIONS.md §1): `/t/{slug}/oidc/start`
//! sends the browser to the tenant's identity provider, `/t/{slug}/oidc/callback`
//! takes it back. The flow itself (PKCE, state, nonce, token checks) is
//! `services::oidc::flow`; this module binds it to the browser with a short-lived
//! cookie and turns every failure into a page a person can act on.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde::Deserialize;

use super::session::{
    PageError, PageResult, SESSION_COOKIE, TenantSlug, clear_cookie, read_cookie,
    redirect_with_error, redirect_with_flash, set_cookie, titled_error_page, with_cookies,
};
use super::sign_in::safe_next;
use crate::domain::ids::UserId;
use crate::services::oidc::flow::{self, Callback, Finished, FlowError, Purpose};
use crate::services::{self};
use crate::state::AppState;

/// The cookie that binds a flow to the browser that started it.
pub const FLOW_COOKIE: &str = "portico_oidc";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/oidc/start", get(start_sign_in))
        .route("/t/{slug}/oidc/callback", get(finish_sign_in))
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

fn base_url(state: &AppState) -> Result<url::Url, PageError> {
    state.settings().base_url.clone().ok_or_else(|| {
        PageError::from(crate::domain::DomainError::conflict(
            "Sign-in through an identity provider needs PORTICO_BASE_URL (the address people reach Portico at) to be set.",
        ))
    })
}

fn flow_page(slug: &str, e: FlowError) -> PageResult {
    let home = format!("/t/{slug}/sign-in");
    Ok(match e {
        FlowError::Invalid(title, message) => {
            titled_error_page(StatusCode::BAD_REQUEST, &title, &message, &home)
        }
        FlowError::Refused(title, message) => {
            titled_error_page(StatusCode::FORBIDDEN, &title, &message, &home)
        }
        FlowError::Provider(message) => titled_error_page(
            StatusCode::BAD_GATEWAY,
            "The identity provider did not answer as expected",
            &message,
            &home,
        ),
        FlowError::Service(e) => return Err(PageError::from(e).in_tenant(slug)),
    })
}

/// Starts a sign-in (or an admin's test sign-in) and sends the browser to the provider.
pub async fn redirect_to_provider(
    state: &AppState,
    slug: &str,
    next: String,
    purpose: Purpose,
    started_by: Option<UserId>,
) -> PageResult {
    let tenant = services::sessions::tenant(state.pool(), slug).await?;
    let base = base_url(state)?;
    let started = flow::start(
        state.pool(),
        state.providers(),
        &base,
        &tenant,
        next,
        purpose,
        started_by,
        state.now(),
    )
    .await;
    match started {
        Ok(s) => {
            let lifetime = flow::FLOW_LIFETIME.num_seconds();
            let cookie = set_cookie(state, FLOW_COOKIE, &s.browser, Some(lifetime));
            Ok(with_cookies(
                Redirect::to(&s.authorize_url).into_response(),
                &[cookie],
            ))
        }
        Err(e) => flow_page(slug, e),
    }
}

async fn start_sign_in(
    State(state): State<AppState>,
    TenantSlug(slug): TenantSlug,
    Query(q): Query<StartQuery>,
) -> PageResult {
    let next = safe_next(&slug, q.next.as_deref());
    redirect_to_provider(&state, &slug, next, Purpose::SignIn, None).await
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

async fn finish_sign_in(
    State(state): State<AppState>,
    TenantSlug(slug): TenantSlug,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> PageResult {
    let tenant = services::sessions::tenant(state.pool(), &slug).await?;
    let base = base_url(&state)?;
    let browser = read_cookie(&state, &headers, FLOW_COOKIE);
    let finished = flow::finish(
        state.pool(),
        state.providers(),
        state.keys(),
        &base,
        &tenant,
        browser,
        Callback {
            code: q.code,
            state: q.state,
            error: q.error,
            error_description: q.error_description,
            iss: q.iss,
        },
        state.now(),
    )
    .await;
    // The binding is spent whatever happened.
    let spent = clear_cookie(&state, FLOW_COOKIE);
    let response = match finished {
        Ok(Finished::SignedIn { session, next }) => {
            let cookie = set_cookie(&state, SESSION_COOKIE, &session.token, None);
            let message = format!("Signed in as {}.", session.user.display_name);
            with_cookies(redirect_with_flash(&state, &next, &message), &[cookie])
        }
        Ok(Finished::Tested { next, outcome }) => {
            if outcome.starts_with("Test sign-in worked") {
                redirect_with_flash(&state, &next, &outcome)
            } else {
                redirect_with_error(&state, &next, &outcome)
            }
        }
        Err(e) => flow_page(&slug, e)?,
    };
    Ok(with_cookies(response, &[spent]))
}
