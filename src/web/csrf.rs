//! CSRF protection for browser forms (DOMAIN.md §12), double-submit style: a random
//! token lives in the `portico_csrf` cookie (HttpOnly, SameSite=Lax, Secure when the
//! base URL is https) and the same value in each form's hidden `csrf_token` field; a
//! POST passes only when both are present and equal (compared in constant time). A
//! POST whose `Origin` names another origin than the base URL (or the Host it was sent
//! to) is refused as well; a missing `Origin` alone is not a reason to refuse.

use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use rand::RngCore;

use crate::config::Settings;

pub const COOKIE_NAME: &str = "portico_csrf";
/// The hidden form field; its name contains `csrf`, as the domain rules ask.
pub const FIELD: &str = "csrf_token";

/// 32 random bytes, URL-safe base64 without padding.
const TOKEN_LEN: usize = 43;

/// The CSRF token of a page: the browser's cookie when it has a valid one, otherwise
/// a new one that the response must set.
#[derive(Clone, Debug)]
pub struct CsrfToken {
    pub value: String,
    /// `Set-Cookie` to send with the page (a new token).
    pub set_cookie: Option<HeaderValue>,
}

fn well_formed(value: &str) -> bool {
    value.len() == TOKEN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The value of the `portico_csrf` cookie, if the request carries a well-formed one.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && well_formed(value))
        .map(|(_, value)| value.to_string())
}

/// The token for a page with a form: reuses the cookie, or makes a new one.
pub fn for_page(headers: &HeaderMap, settings: &Settings) -> CsrfToken {
    match cookie_value(headers) {
        Some(value) => CsrfToken {
            value,
            set_cookie: None,
        },
        None => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            let secure = if is_https(settings) { "; Secure" } else { "" };
            let cookie = format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax{secure}");
            CsrfToken {
                set_cookie: HeaderValue::from_str(&cookie).ok(),
                value,
            }
        }
    }
}

impl CsrfToken {
    /// Adds the `Set-Cookie` header when the token is new.
    pub fn apply(&self, headers: &mut HeaderMap) {
        if let Some(cookie) = &self.set_cookie {
            headers.append(SET_COOKIE, cookie.clone());
        }
    }
}

fn is_https(settings: &Settings) -> bool {
    settings
        .base_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https")
}

/// Equal without revealing, through timing, where two strings first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Does the form's hidden field match the cookie?
pub fn verify(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (cookie_value(headers), submitted) {
        (Some(cookie), Some(field)) => constant_time_eq(cookie.as_bytes(), field.as_bytes()),
        _ => false,
    }
}

/// `scheme://host[:port]` of a URL, lowercased, default ports left out.
fn origin_of(url: &url::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// May a POST with these headers change state? Refused only when `Origin` is present
/// and names neither the base URL's origin nor the host the request was sent to.
pub fn origin_allowed(headers: &HeaderMap, settings: &Settings) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Some(origin) = origin
        .to_str()
        .ok()
        .and_then(|o| url::Url::parse(o).ok())
        .and_then(|u| origin_of(&u))
    else {
        // `Origin: null` (sandboxed frames, privacy redirects) or garbage.
        return false;
    };
    let base = url::Url::parse(&settings.public_url())
        .ok()
        .and_then(|u| origin_of(&u));
    if base.as_deref() == Some(origin.as_str()) {
        return true;
    }
    // Behind a proxy or reached by address: the origin must name the Host itself.
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    host.is_some_and(|host| {
        origin.split_once("://").is_some_and(|(scheme, authority)| {
            matches!(scheme, "http" | "https") && authority == host
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let vars = [("PORTICO_BASE_URL", "https://portico.example.com")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_map(&vars).expect("settings")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn a_new_token_is_set_as_a_secure_http_only_lax_cookie() {
        let t = for_page(&HeaderMap::new(), &settings());
        assert_eq!(t.value.len(), TOKEN_LEN);
        let cookie = t.set_cookie.expect("cookie");
        let cookie = cookie.to_str().expect("ascii");
        assert!(cookie.starts_with("portico_csrf="));
        for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie}");
        }
    }

    #[test]
    fn the_cookie_is_reused_and_must_match_the_field() {
        let value = "a".repeat(TOKEN_LEN);
        let h = headers(&[("cookie", &format!("other=1; portico_csrf={value}"))]);
        let t = for_page(&h, &settings());
        assert_eq!(t.value, value);
        assert!(t.set_cookie.is_none());
        assert!(verify(&h, Some(&value)));
        assert!(!verify(&h, Some(&"b".repeat(TOKEN_LEN))));
        assert!(!verify(&h, None));
        assert!(!verify(&HeaderMap::new(), Some(&value)));
    }

    #[test]
    fn foreign_origins_are_refused_and_a_missing_one_is_not() {
        let s = settings();
        assert!(origin_allowed(&HeaderMap::new(), &s));
        assert!(origin_allowed(
            &headers(&[("origin", "https://portico.example.com")]),
            &s
        ));
        assert!(!origin_allowed(
            &headers(&[("origin", "https://evil.example")]),
            &s
        ));
        assert!(!origin_allowed(&headers(&[("origin", "null")]), &s));
        assert!(origin_allowed(
            &headers(&[
                ("origin", "http://127.0.0.1:4000"),
                ("host", "127.0.0.1:4000")
            ]),
            &s
        ));
        assert!(!origin_allowed(
            &headers(&[
                ("origin", "http://127.0.0.1:4001"),
                ("host", "127.0.0.1:4000")
            ]),
            &s
        ));
    }
}
