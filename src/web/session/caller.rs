//! Who is calling a portal page: `SessionCaller` (anyone signed in to the tenant of
//! the path, from the `portico_session` cookie), `AdminCaller` (someone holding an
//! admin role) and, before sign-in, `TenantSlug` (the tenant the sign-in pages name).
//! Each records its tenant for the request's error pages. A request authenticates its
//! session once: the caller is kept in the request's extensions for any later
//! extractor that needs it (`web::path::Ids`, `Posted`). It also sets the zone the
//! request's pages show and read times in (`zone_scope`, `time_text`).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::cookies::{SESSION_COOKIE, encode, read_cookie};
use super::csrf::SESSION_CSRF;
use super::flash::read_flash;
use super::page_error::{PageError, remember_tenant};
use crate::services::{self, Caller, ServiceError};
use crate::state::AppState;
use crate::web::shell::{Flash, Section, Shell};

/// The tenant slug of the route (`/t/{slug}/…`).
fn slug_of(parts: &Parts) -> Option<String> {
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    uri.path()
        .strip_prefix("/t/")
        .and_then(|rest| rest.split('/').next())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The signed-in caller of a portal page.
#[derive(Clone, Debug)]
pub struct SessionCaller {
    pub caller: Caller,
    pub session_id: Uuid,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// The request came from htmx (answer a fragment where there is one).
    pub htmx_target: Option<String>,
}

impl SessionCaller {
    pub fn slug(&self) -> &str {
        &self.caller.tenant.slug
    }

    /// `/t/{slug}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("/t/{}{path}", self.caller.tenant.slug)
    }

    pub fn shell(&self, title: impl Into<String>, section: Section) -> Shell {
        Shell::signed_in(title, &self.caller, &self.csrf, self.flash.clone(), section)
    }
}

fn sign_in_redirect(slug: &str, parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    Redirect::to(&format!("/t/{slug}/sign-in?next={}", encode(&next))).into_response()
}

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(known) = parts.extensions.get::<SessionCaller>() {
            return Ok(known.clone());
        }
        let Some(slug) = slug_of(parts) else {
            return Err(PageError::not_found().into_response());
        };
        let Some(token) =
            read_cookie(state, &parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty())
        else {
            // An unknown tenant is a 404 whether or not anyone is signed in.
            if let Err(e) = services::sessions::tenant(state.pool(), &slug).await {
                return Err(PageError::from(e).into_response());
            }
            return Err(sign_in_redirect(&slug, parts));
        };
        let idle = state.settings().session_idle;
        let auth =
            match services::sessions::authenticate(state.pool(), &slug, token, idle, state.now())
                .await
            {
                Ok(auth) => auth,
                Err(ServiceError::Unauthenticated(_)) => {
                    return Err(sign_in_redirect(&slug, parts));
                }
                Err(e) => return Err(PageError::from(e).in_tenant(&slug).into_response()),
            };
        let who = Self {
            caller: auth.caller,
            session_id: auth.session_id,
            // Forms carry the session's secret signed under the server key, so
            // neither a leaked session row nor a guessed value passes the check.
            csrf: state.keys().sign(SESSION_CSRF, &auth.csrf_token),
            flash: read_flash(state, &parts.headers),
            htmx_target: parts
                .headers
                .get("hx-target")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        };
        remember_tenant(who.slug());
        crate::time_text::set_zone(zone_of(&who.caller));
        parts.extensions.insert(who.clone());
        Ok(who)
    }
}

/// The zone the caller reads and types times in: their own, else their tenant's.
pub fn zone_of(caller: &Caller) -> chrono_tz::Tz {
    crate::time_text::zone_of(caller.user.time_zone.as_deref(), &caller.tenant.time_zone)
}

/// Middleware of the portals: each request reads times in UTC until its caller
/// extractor sets the signed-in person's zone (see `time_text`).
pub async fn zone_scope(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    crate::time_text::scoped(chrono_tz::Tz::UTC, next.run(req)).await
}

/// A signed-in caller holding at least one admin role.
#[derive(Clone, Debug)]
pub struct AdminCaller(pub SessionCaller);

impl std::ops::Deref for AdminCaller {
    type Target = SessionCaller;
    fn deref(&self) -> &SessionCaller {
        &self.0
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = SessionCaller::from_request_parts(parts, state).await?;
        if !who.caller.roles.is_any_admin() {
            return Err(PageError::forbidden(
                "The admin portal is for people with an administrative role (tenant admin, catalog creator, or a role in a catalog). Ask a tenant admin if you need one.",
            )
            .into_response());
        }
        Ok(Self(who))
    }
}

/// The session behind a caller type, for the CSRF check.
pub trait HasSession {
    fn session(&self) -> &SessionCaller;
}

impl HasSession for SessionCaller {
    fn session(&self) -> &SessionCaller {
        self
    }
}

impl HasSession for AdminCaller {
    fn session(&self) -> &SessionCaller {
        &self.0
    }
}

/// The `{slug}` of a tenant's sign-in page, before anyone is signed in: the request's
/// error pages link to that tenant's home (whether or not it exists, as the slug is
/// all the page has).
pub struct TenantSlug(pub String);

impl FromRequestParts<AppState> for TenantSlug {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some((_, slug)) = params.into_iter().find(|(k, _)| k == "slug") else {
            return Err(PageError::not_found().into_response());
        };
        remember_tenant(&slug);
        Ok(Self(slug))
    }
}
