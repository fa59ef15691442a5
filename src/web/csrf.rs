//! CSRF protection for the emailed links' confirmation forms (DOMAIN.md §12), signed
//! double-submit style: a random nonce lives in the `portico_csrf` cookie (HttpOnly,
//! SameSite=Lax; `__Host-`-prefixed and Secure when the base URL is https) and each
//! form's hidden `csrf_token` field carries that nonce signed under the server key, so a
//! cookie planted by a neighbouring site does not produce a token that passes. A POST
//! passes only when the signature matches (constant time).
//!
//! Origins and hosts are checked against `PORTICO_BASE_URL`, never against the Host the
//! request names: a page on another name that resolves to this server (DNS rebinding)
//! is refused. A request sent to an IP address or `localhost` (a proxy's health check,
//! a person on the machine itself) may also come from that same address.

use axum::http::header::{HOST, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};

use crate::config::Settings;
use crate::crypto::Keys;

pub const COOKIE_NAME: &str = "portico_csrf";
/// The hidden form field; its name contains `csrf`, as the domain rules ask.
pub const FIELD: &str = "csrf_token";
/// The purpose the nonce is signed for.
const PURPOSE: &str = "csrf/links";

/// 32 random bytes, URL-safe base64 without padding.
const TOKEN_LEN: usize = 43;

/// The CSRF token of a page: the browser's nonce when it has a valid one (otherwise a
/// new one that the response must set), signed.
#[derive(Clone, Debug)]
pub struct CsrfToken {
    pub value: String,
    /// `Set-Cookie` to send with the page (a new nonce).
    pub set_cookie: Option<HeaderValue>,
}

fn well_formed(value: &str) -> bool {
    value.len() == TOKEN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn cookie_name(settings: &Settings) -> std::borrow::Cow<'static, str> {
    if is_https(settings) {
        format!("__Host-{COOKIE_NAME}").into()
    } else {
        COOKIE_NAME.into()
    }
}

/// The nonce in this site's CSRF cookie, if the request carries a well-formed one.
pub fn cookie_value(headers: &HeaderMap, settings: &Settings) -> Option<String> {
    let name = cookie_name(settings);
    super::session::cookie(headers, &name)
        .filter(|value| well_formed(value))
        .map(str::to_string)
}

/// The token for a page with a form: signs the cookie's nonce, or a new one.
pub fn for_page(headers: &HeaderMap, settings: &Settings, keys: &Keys) -> CsrfToken {
    match cookie_value(headers, settings) {
        Some(nonce) => CsrfToken {
            value: keys.sign(PURPOSE, &nonce),
            set_cookie: None,
        },
        None => {
            let nonce = crate::services::links::new_token();
            let secure = if is_https(settings) { "; Secure" } else { "" };
            let name = cookie_name(settings);
            let cookie = format!("{name}={nonce}; Path=/; HttpOnly; SameSite=Lax{secure}");
            CsrfToken {
                set_cookie: HeaderValue::from_str(&cookie).ok(),
                value: keys.sign(PURPOSE, &nonce),
            }
        }
    }
}

impl CsrfToken {
    /// Adds the `Set-Cookie` header when the nonce is new.
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

/// Does the form's hidden field carry the signature of the cookie's nonce?
pub fn verify(
    headers: &HeaderMap,
    settings: &Settings,
    keys: &Keys,
    submitted: Option<&str>,
) -> bool {
    match (cookie_value(headers, settings), submitted) {
        (Some(nonce), Some(field)) => keys.verify(PURPOSE, &nonce, field),
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

/// `host[:port]` as a Host header names the base URL (default port left out).
fn base_authority(settings: &Settings) -> Option<String> {
    let base = url::Url::parse(&settings.public_url()).ok()?;
    let host = base.host_str()?.to_ascii_lowercase();
    Some(match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Whether a Host value names a machine directly (an IP address or `localhost`) rather
/// than by a DNS name: such a name cannot be an attacker's rebound domain.
fn is_direct(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        // `[::1]:8080`, `127.0.0.1:8080`, `localhost:8080`; a bare IPv6 has many colons.
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>().is_ok() || host.eq_ignore_ascii_case("localhost")
}

/// May a request with this `Host` be served? The base URL's host, an address or
/// `localhost`, or one of `PORTICO_ALLOWED_HOSTS`; any other name is a page that made
/// its own name point at this server.
pub fn host_allowed(headers: &HeaderMap, settings: &Settings) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        // HTTP/1.0 without Host, or HTTP/2 with :authority only (checked by hyper).
        return true;
    };
    let host = host.trim().to_ascii_lowercase();
    base_authority(settings).as_deref() == Some(host.as_str())
        || is_direct(&host)
        || settings.allowed_hosts.contains(&host)
}

/// May a POST with these headers change state? Refused when `Origin` is present and
/// names neither the base URL's origin, nor (for a request sent to an address or
/// `localhost`) that same address, nor an allowed host.
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
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") {
        return false;
    }
    if settings.allowed_hosts.iter().any(|h| h == authority) {
        return true;
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    host.is_some_and(|host| is_direct(&host) && authority == host)
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

    fn keys() -> Keys {
        Keys::derive("test-secret-key-test-secret-key-0123")
    }

    #[test]
    fn a_new_nonce_is_set_as_a_host_prefixed_secure_http_only_lax_cookie() {
        let t = for_page(&HeaderMap::new(), &settings(), &keys());
        let cookie = t.set_cookie.expect("cookie");
        let cookie = cookie.to_str().expect("ascii");
        assert!(cookie.starts_with("__Host-portico_csrf="), "{cookie}");
        for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie}");
        }
        let nonce = &cookie["__Host-portico_csrf=".len()..cookie.find(';').expect("attrs")];
        // The form carries a signature, never the cookie's value itself.
        assert_ne!(t.value, nonce);
    }

    #[test]
    fn the_field_must_be_the_signed_nonce_of_the_cookie() {
        let (s, k) = (settings(), keys());
        let nonce = "a".repeat(TOKEN_LEN);
        let h = headers(&[("cookie", &format!("other=1; __Host-portico_csrf={nonce}"))]);
        let t = for_page(&h, &s, &k);
        assert!(t.set_cookie.is_none());
        assert!(verify(&h, &s, &k, Some(&t.value)));
        // A planted cookie with the field set to the same value (classic double submit).
        assert!(!verify(&h, &s, &k, Some(&nonce)));
        assert!(!verify(&h, &s, &k, None));
        assert!(!verify(&HeaderMap::new(), &s, &k, Some(&t.value)));
        // Signed under another key.
        let other = Keys::derive("another-key-another-key-another-key");
        assert!(!verify(&h, &s, &other, Some(&t.value)));
        // The plain-http cookie name does not count on an https site.
        let plain = headers(&[("cookie", &format!("portico_csrf={nonce}"))]);
        assert!(!verify(&plain, &s, &k, Some(&t.value)));
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
        // Reached by address, from a page on that address.
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
        // DNS rebinding: the attacker's name resolves to this server, so Origin and
        // Host agree with each other, but not with the base URL.
        assert!(!origin_allowed(
            &headers(&[
                ("origin", "http://rebind.evil.example:8080"),
                ("host", "rebind.evil.example:8080")
            ]),
            &s
        ));
    }

    #[test]
    fn hosts_other_than_the_base_url_an_address_or_localhost_are_refused() {
        let s = settings();
        for ok in [
            "portico.example.com",
            "PORTICO.example.com",
            "127.0.0.1:8080",
            "[::1]:8080",
            "localhost:8080",
            "10.0.0.5",
        ] {
            assert!(host_allowed(&headers(&[("host", ok)]), &s), "{ok}");
        }
        for bad in [
            "rebind.evil.example:8080",
            "portico.example.com.evil.example",
            "portico.example.com:444",
        ] {
            assert!(!host_allowed(&headers(&[("host", bad)]), &s), "{bad}");
        }
        let mut s = settings();
        s.allowed_hosts = vec!["portico:8080".into()];
        assert!(host_allowed(&headers(&[("host", "portico:8080")]), &s));
    }
}
