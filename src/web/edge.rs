//! Guards every request passes before a handler sees it: a deadline for the whole
//! request (a stalled body or a stuck handler cannot hold a connection for ever), and
//! the refusal of control characters in the path (404) and the query (422), which
//! PostgreSQL cannot store in text (NUL) and which must never reach a redirect's
//! `Location` (CR/LF). Also `loggable_path`, the request path as logs may show it.
//!
//! Invariant: a handler never runs with a control character in its path parameters,
//! nor with NUL or another C0 control other than tab, CR and LF in a query parameter.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{AppError, Problem};
use super::session::error_page;
use crate::domain::values::{NO_CONTROL_CHARACTERS, has_control_characters};
use crate::email::REDACTED;
use crate::state::AppState;

fn is_api(req: &Request) -> bool {
    req.uri().path().starts_with("/api/")
}

/// Whether the request does bulk work: many rows in one transaction, all or nothing
/// (bulk assignment, removal and extension; applying a configuration).
fn is_bulk(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == axum::http::Method::POST
        && (path.ends_with("/assignments/bulk")
            || path.ends_with("/assignments/bulk-change")
            || path.ends_with("/assignments/bulkRemove")
            || path.ends_with("/assignments/bulkExtend")
            || path.ends_with("/tenant/config/apply")
            || path.ends_with("/admin/config"))
}

/// Answers 408 when the request's body had not all arrived by the deadline (the
/// client is too slow), 503 when it had (Portico is too slow). Bulk work has a
/// deadline of its own (`PORTICO_BULK_REQUEST_TIMEOUT_SECONDS`).
pub async fn request_deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = if is_bulk(&req) {
        state.settings().bulk_request_timeout
    } else {
        state.settings().request_timeout
    };
    let api = is_api(&req);
    let (parts, body) = req.into_parts();
    let received = Arc::new(AtomicBool::new(body.is_end_stream()));
    let body = Body::new(Watched {
        inner: body,
        received: received.clone(),
    });
    let req = Request::from_parts(parts, body);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let secs = limit.as_secs();
            let (status, kind, detail) = if received.load(Ordering::Relaxed) {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    format!("The answer took longer than {secs} s. Please try again."),
                )
            } else {
                (
                    StatusCode::REQUEST_TIMEOUT,
                    "request-timeout",
                    format!(
                        "The request did not arrive whole within {secs} s. Please send it again."
                    ),
                )
            };
            tracing::warn!(status = status.as_u16(), "request timed out");
            if api {
                Problem::new(status, kind, detail).into_response()
            } else {
                error_page(status, &detail, None)
            }
        }
    }
}

/// A request body that records when its last frame has been read.
struct Watched {
    inner: Body,
    received: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.received.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Whether percent-decoding `s` yields a C0 control or DEL; tab, CR and LF count only
/// when `whitespace` is true. (Raw control bytes never get past the HTTP parser.)
fn has_encoded_control(s: &str, whitespace: bool) -> bool {
    let bytes = s.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .is_some_and(|c| {
                    c.is_ascii_control() && (whitespace || !matches!(c, b'\t' | b'\r' | b'\n'))
                })
    })
}

/// 404 for a control character in the path; 422 naming the parameter for one in the
/// query (tab, CR and LF allowed there, as in multi-line text).
pub async fn refuse_control_characters(req: Request, next: Next) -> Response {
    let api = is_api(&req);
    if has_encoded_control(req.uri().path(), true) {
        return if api {
            AppError::NotFound.into_response()
        } else {
            super::session::not_found_page().await
        };
    }
    if let Some(query) = req.uri().query()
        && has_encoded_control(query, false)
    {
        let name = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| has_control_characters(k, true) || has_control_characters(v, true))
            .map(|(k, _)| k.chars().filter(|c| !c.is_control()).collect::<String>())
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "query".into());
        return if api {
            AppError::field(&name, NO_CONTROL_CHARACTERS).into_response()
        } else {
            error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "The {name} you entered {NO_CONTROL_CHARACTERS}. Remove them and try again."
                ),
                None,
            )
        };
    }
    next.run(req).await
}

/// The request path as logs show it: the tokens of emailed links
/// (`/links/{token}/…`, `/t/{slug}/sign-in/{token}`) are replaced, since anyone
/// reading the log could otherwise use them.
pub fn loggable_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        let secret = i > 0
            && !segment.is_empty()
            && match segments[i - 1] {
                "links" => i == 2,
                "sign-in" => i == 4 && segments.get(1) == Some(&"t"),
                _ => false,
            };
        out.push(if secret { REDACTED } else { segment });
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_paths_hide_the_tokens_of_emailed_links() {
        assert_eq!(
            loggable_path("/links/AbC-12_x/approve"),
            "/links/[redacted]/approve"
        );
        assert_eq!(loggable_path("/links/AbC-12_x"), "/links/[redacted]");
        assert_eq!(
            loggable_path("/t/contoso/sign-in/Zz9-_q"),
            "/t/contoso/sign-in/[redacted]"
        );
        for kept in [
            "/t/contoso/sign-in",
            "/t/contoso/dev/sign-in",
            "/t/contoso/packages/0193c5a0-0000-7000-8000-000000000000",
            "/api/v1/users",
            "/",
        ] {
            assert_eq!(loggable_path(kept), kept);
        }
    }

    #[test]
    fn encoded_control_characters_are_found() {
        assert!(has_encoded_control("/t/contoso%00/", true));
        assert!(has_encoded_control("/t/%0d%0aX/", true));
        assert!(has_encoded_control("/t/%7F/", true));
        assert!(!has_encoded_control("/t/contoso/caf%C3%A9", true));
        assert!(!has_encoded_control("/t/100%", true));
        assert!(has_encoded_control("search=%00", false));
        assert!(has_encoded_control("search=a%1Bb", false));
        assert!(!has_encoded_control("text=a%0D%0Ab%09c", false));
        assert!(!has_encoded_control("search=50%25", false));
    }
}
