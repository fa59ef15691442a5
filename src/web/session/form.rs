//! Form data as the pages read it: `FormData` keeps every field of an
//! `application/x-www-form-urlencoded` body (repeated ones too) and reads values in
//! the shapes forms send them; `Params` is the same for a query string.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::page_error::PageError;
use crate::paging::PageRequest;
use crate::state::AppState;

/// Largest form body accepted (CSV imports included).
const MAX_FORM: usize = 2 * 1024 * 1024;

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

    /// The typed id in field `name`, `None` when absent or blank; a malformed one is a
    /// 404 like an unknown one.
    pub fn id<T: FromStr>(&self, name: &str) -> Result<Option<T>, PageError> {
        self.opt(name)
            .map(|raw| raw.parse().map_err(|_| PageError::not_found()))
            .transpose()
    }

    /// A checkbox: sent (with any value but "false"/"off") means checked.
    pub fn checked(&self, name: &str) -> bool {
        self.all(name)
            .iter()
            .any(|v| !matches!(*v, "false" | "off" | "0"))
    }
}

/// The body of a posted form; anything but a form of at most 2 MB is a 400 page.
pub(super) async fn read_form(req: Request, state: &AppState) -> Result<FormData, Response> {
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

/// Query parameters (never refused as a whole: each value is checked where used).
pub struct Params(pub FormData);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(FormData::parse(
            parts.uri.query().unwrap_or_default().as_bytes(),
        )))
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.opt(name)
    }

    /// The typed id in parameter `name` (see `FormData::id`).
    pub fn id<T: FromStr>(&self, name: &str) -> Result<Option<T>, PageError> {
        self.0.id(name)
    }

    /// `?cursor=` of a list page (25 items a page).
    pub fn page(&self) -> Result<PageRequest, PageError> {
        let before = match self.0.opt("cursor") {
            None => None,
            Some(c) => Some(Uuid::parse_str(&c).map_err(|_| {
                PageError::bad_request(
                    "This page link is broken (its cursor is not one a list gave).",
                )
            })?),
        };
        Ok(PageRequest { limit: 25, before })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ids_in_forms_are_typed_or_not_found() {
        use crate::domain::ids::CatalogId;
        let id = CatalogId::new();
        let f = FormData::parse(format!("a={id}&b=x&c=+").as_bytes());
        assert_eq!(f.id::<CatalogId>("a").ok().flatten(), Some(id));
        assert!(f.id::<CatalogId>("b").is_err());
        assert!(matches!(f.id::<CatalogId>("c"), Ok(None)));
    }
}
