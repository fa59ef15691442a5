//! The portals' posted forms and their CSRF checks: `Posted` for a signed-in caller,
//! `PreSessionForm` for the sign-in pages (a signed double-submit cookie, as there is
//! no session yet), both after the Origin check of `web::csrf`. That check also runs
//! as the portals' middleware (`refuse_foreign_origin`) ahead of every extractor, so a
//! form from another site is refused before any session is looked up or touched.
//!
//! Invariant: no state-changing handler of the portals runs unless the request's
//! `csrf_token` field equals the session's secret signed under the server key (or,
//! before sign-in, the `portico_csrf_pre` cookie's nonce signed the same way),
//! compared in constant time, and its Origin, when sent, is this site. On https sites
//! every cookie is `__Host-`-prefixed.

use std::net::IpAddr;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::caller::HasSession;
use super::cookies::{read_cookie, set_cookie};
use super::form::{FormData, read_form};
use super::page_error::error_page;
use crate::services;
use crate::state::AppState;

pub const PRE_CSRF_COOKIE: &str = "portico_csrf_pre";
pub const CSRF_FIELD: &str = "csrf_token";
/// Purposes of the CSRF signatures (a token made for one never passes for another).
pub(super) const SESSION_CSRF: &str = "csrf/session";
const PRE_SESSION_CSRF: &str = "csrf/pre-session";

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses a form whose Origin is not this site (`web::csrf::origin_allowed`: the
/// base URL's origin; a missing Origin is fine).
fn check_origin(headers: &HeaderMap, state: &AppState) -> Result<(), Box<Response>> {
    if crate::web::csrf::origin_allowed(headers, state.settings()) {
        Ok(())
    } else {
        Err(Box::new(error_page(
            StatusCode::FORBIDDEN,
            "This form was sent from another site, so it was refused.",
            None,
        )))
    }
}

/// Middleware of the portals' routes: a request with an unsafe method (anything but
/// GET, HEAD, OPTIONS and TRACE) whose Origin is not this site is refused here, before
/// any extractor runs, so it never causes a session lookup or last-seen write.
pub async fn refuse_foreign_origin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if !req.method().is_safe()
        && let Err(refused) = check_origin(req.headers(), &state)
    {
        return *refused;
    }
    next.run(req).await
}

fn csrf_refused(slug: Option<&str>) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form has expired or was not sent from this site. Go back, reload the page and try again.",
        slug,
    )
}

/// A posted form of a signed-in caller (`SessionCaller` or `AdminCaller`), after the
/// Origin and CSRF checks.
pub struct Posted<C> {
    pub who: C,
    pub form: FormData,
}

impl<C> FromRequest<AppState> for Posted<C>
where
    C: FromRequestParts<AppState, Rejection = Response> + HasSession + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        check_origin(req.headers(), state).map_err(|r| *r)?;
        let (mut parts, body) = req.into_parts();
        let who = C::from_request_parts(&mut parts, state).await?;
        let form = read_form(Request::from_parts(parts, body), state).await?;
        let sent = form.get(CSRF_FIELD).unwrap_or_default();
        if !same_secret(sent, &who.session().csrf) {
            return Err(csrf_refused(Some(who.session().slug())));
        }
        Ok(Self { who, form })
    }
}

/// A posted sign-in form (no session yet): the `csrf_token` field must equal the
/// `portico_csrf_pre` cookie set by the page that showed the form.
pub struct PreSessionForm {
    pub form: FormData,
    pub client_ip: Option<IpAddr>,
}

impl FromRequest<AppState> for PreSessionForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        check_origin(req.headers(), state).map_err(|r| *r)?;
        let nonce = read_cookie(state, req.headers(), PRE_CSRF_COOKIE)
            .unwrap_or_default()
            .to_string();
        let client_ip = crate::web::client_ip::of_request(req.extensions(), req.headers(), state);
        let form = read_form(req, state).await?;
        let sent = form.get(CSRF_FIELD).unwrap_or_default();
        if nonce.len() < 32 || !state.keys().verify(PRE_SESSION_CSRF, &nonce, sent) {
            return Err(csrf_refused(None));
        }
        Ok(Self { form, client_ip })
    }
}

/// The pre-session CSRF token of this browser (its cookie's random nonce signed under
/// the server key), and the `Set-Cookie` to send when the nonce is new.
pub fn pre_session_token(headers: &HeaderMap, state: &AppState) -> (String, Option<String>) {
    match read_cookie(state, headers, PRE_CSRF_COOKIE).filter(|t| t.len() >= 32) {
        Some(nonce) => (state.keys().sign(PRE_SESSION_CSRF, nonce), None),
        None => {
            let nonce = services::links::new_token();
            let c = set_cookie(state, PRE_CSRF_COOKIE, &nonce, None);
            (state.keys().sign(PRE_SESSION_CSRF, &nonce), Some(c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", ""));
    }
}
