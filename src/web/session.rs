//! Browser sessions at the HTTP edge: the `portico_session` cookie resolved to a
//! `services::Caller` (`SessionCaller`, and `AdminCaller` for people with an admin
//! role), posted forms with their CSRF checks (`Posted`, and `PreSessionForm` for
//! sign-in pages, which use a double-submit cookie), the Origin check, the flash
//! cookie, and `PageError`, the HTML error page.
//!
//! Invariant: no state-changing handler of the portals runs unless the request's
//! `csrf_token` field equals the session's secret signed under the server key (or,
//! before sign-in, the `portico_csrf_pre` cookie's nonce signed the same way),
//! compared in constant time, and its Origin, when sent, is this site. On https sites
//! every cookie is `__Host-`-prefixed.

use std::net::IpAddr;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::error::{AppError, Problem};
use super::shell::{Flash, Section, Shell};
use crate::domain::DomainError;
use crate::services::{self, Caller, ServiceError};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "portico_session";
pub const PRE_CSRF_COOKIE: &str = "portico_csrf_pre";
pub const FLASH_COOKIE: &str = "portico_flash";
pub const CSRF_FIELD: &str = "csrf_token";
/// Purposes of the CSRF signatures (a token made for one never passes for another).
const SESSION_CSRF: &str = "csrf/session";
const PRE_SESSION_CSRF: &str = "csrf/pre-session";

/// Largest form body accepted (CSV imports included).
const MAX_FORM: usize = 2 * 1024 * 1024;

// ---------------------------------------------------------------------------------
// Cookies

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The name a cookie has on the wire: `__Host-`-prefixed on https sites, so the
/// browser accepts it only from this exact origin over https (no subdomain, no plain
/// http page can plant or overwrite it).
pub fn wire_name(secure: bool, name: &str) -> std::borrow::Cow<'_, str> {
    if secure {
        format!("__Host-{name}").into()
    } else {
        name.into()
    }
}

/// The value of this site's cookie `name` (by its wire name).
pub fn read_cookie<'a>(state: &AppState, headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie(headers, &wire_name(secure(state), name))
}

/// Whether cookies must be `Secure` (the site is served over https).
pub fn secure(state: &AppState) -> bool {
    state
        .settings()
        .base_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https")
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure on https sites.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> String {
    let name = wire_name(secure(state), name);
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure(state) {
        c.push_str("; Secure");
    }
    c
}

pub fn clear_cookie(state: &AppState, name: &str) -> String {
    set_cookie(state, name, "", Some(0))
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A 303 to `location` that shows `message` once on the next page.
pub fn redirect_with_flash(state: &AppState, location: &str, message: &str) -> Response {
    flash_redirect(state, location, "ok", message)
}

/// Like `redirect_with_flash`, for a message about something that did not happen.
pub fn redirect_with_error(state: &AppState, location: &str, message: &str) -> Response {
    flash_redirect(state, location, "error", message)
}

fn flash_redirect(state: &AppState, location: &str, kind: &str, message: &str) -> Response {
    let value = encode(&format!("{kind}:{message}"));
    let mut r = Redirect::to(location).into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(state, FLASH_COOKIE, &value, Some(60))) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn read_flash(state: &AppState, headers: &HeaderMap) -> Option<Flash> {
    parse_flash(read_cookie(state, headers, FLASH_COOKIE)?)
}

fn parse_flash(value: &str) -> Option<Flash> {
    let raw = decode(value);
    let (kind, message) = raw.split_once(':')?;
    let kind = if kind == "error" { "error" } else { "ok" };
    (!message.is_empty()).then(|| Flash {
        kind,
        message: message.chars().take(500).collect(),
    })
}

/// Clears the flash cookie once a page (not a redirect) has been answered.
pub async fn clear_flash(
    state: axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let had_flash = read_cookie(&state, req.headers(), FLASH_COOKIE).is_some();
    let mut response = next.run(req).await;
    if had_flash
        && !response.status().is_redirection()
        && let Ok(v) = HeaderValue::from_str(&clear_cookie(&state, FLASH_COOKIE))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

// ---------------------------------------------------------------------------------
// Error pages

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: Shell,
    status: u16,
    heading: String,
    message: String,
    home: String,
}

/// An error answered as an HTML page: 4xx with a message a person can act on, 5xx
/// logged with its cause and shown generically.
#[derive(Debug)]
pub struct PageError {
    pub error: AppError,
    pub slug: Option<String>,
}

impl PageError {
    pub fn forbidden(message: impl Into<String>) -> Self {
        DomainError::forbidden(message).into()
    }

    pub fn not_found() -> Self {
        AppError::NotFound.into()
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest(message.into()).into()
    }

    pub fn in_tenant(mut self, slug: &str) -> Self {
        self.slug = Some(slug.to_string());
        self
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        Self { error, slug: None }
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        AppError::from(e).into()
    }
}

impl From<DomainError> for PageError {
    fn from(e: DomainError) -> Self {
        AppError::from(e).into()
    }
}

/// The HTML page for a status and message.
pub fn error_page(status: StatusCode, message: &str, slug: Option<&str>) -> Response {
    let heading = match status.as_u16() {
        400 => "That request could not be understood",
        403 => "You may not do this",
        404 => "Not found",
        409 => "This cannot be done right now",
        410 => "This link has expired",
        422 => "Please check what you entered",
        405 => "Use this page's forms",
        429 => "Too many attempts",
        _ if status.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    let home = slug.map_or_else(|| "/".to_string(), |s| format!("/t/{s}/"));
    let shell = Shell::public(heading);
    let page = ErrorPage {
        shell,
        status: status.as_u16(),
        heading: heading.into(),
        message: message.into(),
        home,
    };
    (status, page).into_response()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let problem = Problem::from_error(&self.error);
        if let AppError::Service(ServiceError::Internal(cause)) = &self.error
            && problem.status_code().is_server_error()
        {
            tracing::error!(error = format!("{cause:#}"), "page failed");
        }
        error_page(problem.status_code(), &problem.detail, self.slug.as_deref())
    }
}

pub type PageResult = Result<Response, PageError>;

/// Any unknown address outside the API.
pub async fn not_found_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "There is nothing at this address. Check the link, or start again from the home page.",
        None,
    )
}

/// A page asked for with a method it does not answer (such as a GET of a form's target).
pub async fn method_not_allowed_page() -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address only takes forms sent from its page. Go back and use the page's buttons.",
        None,
    )
}

// ---------------------------------------------------------------------------------
// Who is calling

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

    /// An error page of this tenant.
    pub fn fail(&self, e: impl Into<PageError>) -> PageError {
        e.into().in_tenant(self.slug())
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
        match services::sessions::authenticate(state.pool(), &slug, token, idle, state.now()).await
        {
            Ok(auth) => Ok(Self {
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
            }),
            Err(ServiceError::Unauthenticated(_)) => Err(sign_in_redirect(&slug, parts)),
            Err(e) => Err(PageError::from(e).in_tenant(&slug).into_response()),
        }
    }
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
            .in_tenant(who.slug())
            .into_response());
        }
        Ok(Self(who))
    }
}

// ---------------------------------------------------------------------------------
// Forms

/// A parsed `application/x-www-form-urlencoded` body, keeping repeated fields.
#[derive(Clone, Debug, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, as sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or "".
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// The trimmed first value of `name`, `None` when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A checkbox: sent (with any value but "false"/"off") means checked.
    pub fn checked(&self, name: &str) -> bool {
        self.all(name)
            .iter()
            .any(|v| !matches!(*v, "false" | "off" | "0"))
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request may come from where it says (`csrf::origin_allowed`: the base
/// URL's origin; a missing Origin is fine).
fn origin_allowed(headers: &HeaderMap, state: &AppState) -> bool {
    super::csrf::origin_allowed(headers, state.settings())
}

fn check_origin(headers: &HeaderMap, state: &AppState) -> Result<(), Box<Response>> {
    if origin_allowed(headers, state) {
        Ok(())
    } else {
        Err(Box::new(error_page(
            StatusCode::FORBIDDEN,
            "This form was sent from another site, so it was refused.",
            None,
        )))
    }
}

async fn read_form(req: Request, state: &AppState) -> Result<FormData, Response> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(PageError::bad_request("Send this form from its page.").into_response());
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|_| {
        PageError::bad_request("The form could not be read (is it larger than 2 MB?).")
            .into_response()
    })?;
    if bytes.len() > MAX_FORM {
        return Err(PageError::bad_request("The form is larger than 2 MB.").into_response());
    }
    Ok(FormData::parse(&bytes))
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
        let client_ip = super::client_ip::of_request(req.extensions(), req.headers(), state);
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

/// Adds `Set-Cookie` headers to a response.
pub fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
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

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; portico_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn forms_keep_repeated_fields() {
        let f = FormData::parse(b"a=1&b=x+y&a=2&c=&d=on");
        assert_eq!(f.all("a"), vec!["1", "2"]);
        assert_eq!(f.text("b"), "x y");
        assert_eq!(f.opt("c"), None);
        assert!(f.checked("d"));
        assert!(!f.checked("e"));
    }

    #[test]
    fn flash_messages_survive_the_cookie() {
        let v = encode("ok:Catalog “HR” created; 2 = 2");
        assert_eq!(
            parse_flash(&v).map(|f| f.message),
            Some("Catalog “HR” created; 2 = 2".to_string())
        );
    }
}
