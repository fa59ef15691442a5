//! The flash message: a short-lived cookie set with a redirect, shown once by the next
//! page and cleared once a page (not another redirect) has been answered.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::cookies::{clear_cookie, decode, encode, read_cookie, set_cookie};
use crate::state::AppState;
use crate::web::shell::Flash;

pub const FLASH_COOKIE: &str = "portico_flash";

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

/// The message the request's flash cookie carries, if any.
pub(super) fn read_flash(state: &AppState, headers: &HeaderMap) -> Option<Flash> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_messages_survive_the_cookie() {
        let v = encode("ok:Catalog “HR” created; 2 = 2");
        assert_eq!(
            parse_flash(&v).map(|f| f.message),
            Some("Catalog “HR” created; 2 = 2".to_string())
        );
    }
}
