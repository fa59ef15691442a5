//! This site's cookies: reading one from a request, and the `Set-Cookie` values that
//! write them. Every cookie is HttpOnly, SameSite=Lax, Path=/, and on https sites
//! Secure with a `__Host-` prefix, so no subdomain or plain-http page can plant or
//! overwrite it.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::state::AppState;

pub const SESSION_COOKIE: &str = "portico_session";

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

/// Adds `Set-Cookie` headers to a response.
pub fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// `s` percent-encoded for a cookie value or a query parameter.
pub(super) fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The text `encode` made.
pub(super) fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
