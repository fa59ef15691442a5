//! Versions over HTTP: catalogs, access packages and policies answer with an `ETag`
//! (their version), and a PATCH or PUT sent with `If-Match` is applied only to that
//! version; otherwise it answers 412 naming who changed the object since. An empty
//! `If-Match` is read as absent.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::web::error::AppError;

/// The version a client's `If-Match` names: `"7"` (or weak `W/"7"`); `*` and no
/// header mean any version.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let text = raw.to_str().unwrap_or_default().trim();
        // `*` means any version; an empty header names none.
        if text == "*" || text.is_empty() {
            return Ok(Self(None));
        }
        parse(text).map(|v| Self(Some(v))).ok_or_else(|| {
            AppError::BadRequest(format!(
                "If-Match must be one ETag this API answered (such as \"3\") or *; got {text:?}."
            ))
        })
    }
}

fn parse(text: &str) -> Option<i64> {
    let tag = text.strip_prefix("W/").unwrap_or(text);
    tag.strip_prefix('"')?
        .strip_suffix('"')?
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
}

/// A JSON answer with the object's version as its `ETag`.
pub struct Tagged<T>(pub i64, pub T);

impl<T: Serialize> IntoResponse for Tagged<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.1).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", self.0)) {
            response.headers_mut().insert(header::ETAG, v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn etags_parse_strong_and_weak_and_nothing_else() {
        assert_eq!(parse("\"3\""), Some(3));
        assert_eq!(parse("W/\"12\""), Some(12));
        for bad in ["3", "\"x\"", "\"0\"", "\"-1\"", "\"3", ""] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
