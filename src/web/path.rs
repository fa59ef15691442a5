//! Typed ids from a route's path, read the same way by the JSON API (`api::ApiPath`)
//! and the portals (`Ids`): each `{param}` after the tenant's `{slug}` parses into its
//! typed id, in route order, and a malformed id is a 404 like an unknown one.

use std::str::FromStr;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::session::{PageError, SessionCaller};
use crate::state::AppState;

/// One typed id of a path.
pub trait PathId: FromStr {}

/// What a route's path parameters parse into: one typed id or a pair of them.
pub trait PathIds: Sized {
    /// From the parameters' values in route order; `None` if any is malformed or
    /// there are more or fewer than expected.
    fn from_values(values: &[&str]) -> Option<Self>;
}

macro_rules! path_id {
    ($($name:ident),* $(,)?) => {$(
        impl PathId for crate::domain::ids::$name {}

        impl PathIds for crate::domain::ids::$name {
            fn from_values(values: &[&str]) -> Option<Self> {
                match values {
                    [one] => one.parse().ok(),
                    _ => None,
                }
            }
        }
    )*};
}

crate::for_each_id!(path_id);

impl<A: PathId, B: PathId> PathIds for (A, B) {
    fn from_values(values: &[&str]) -> Option<Self> {
        match values {
            [a, b] => Some((a.parse().ok()?, b.parse().ok()?)),
            _ => None,
        }
    }
}

/// The path's parameters other than `{slug}`, parsed as `T`; `None` when any is
/// malformed (or undecodable).
pub async fn parse<T: PathIds, S: Send + Sync>(parts: &mut Parts, state: &S) -> Option<T> {
    let params = RawPathParams::from_request_parts(parts, state).await.ok()?;
    let values: Vec<&str> = params
        .iter()
        .filter(|(name, _)| *name != "slug")
        .map(|(_, value)| value)
        .collect();
    T::from_values(&values)
}

/// The typed ids of a portal page's path. Well-formed ids need no session: the page's
/// caller extractor resolves it (after the Origin check of a posted form). Only a
/// malformed id resolves the caller here, so an anonymous visitor is sent to sign in
/// as on any page and a signed-in one sees the tenant's 404 page.
pub struct Ids<T>(pub T);

impl<T: PathIds + Send> FromRequestParts<AppState> for Ids<T> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(ids) = parse(parts, state).await {
            return Ok(Self(ids));
        }
        SessionCaller::from_request_parts(parts, state).await?;
        Err(PageError::not_found().into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{CatalogId, ResourceId};

    #[test]
    fn ids_parse_in_route_order_and_only_when_well_formed() {
        let (c, r) = (CatalogId::new(), ResourceId::new());
        let (cs, rs) = (c.to_string(), r.to_string());
        assert_eq!(CatalogId::from_values(&[&cs]), Some(c));
        assert_eq!(
            <(CatalogId, ResourceId)>::from_values(&[&cs, &rs]),
            Some((c, r))
        );
        assert_eq!(CatalogId::from_values(&["not-an-id"]), None);
        assert_eq!(CatalogId::from_values(&[&cs, &rs]), None);
        assert_eq!(<(CatalogId, ResourceId)>::from_values(&[&cs]), None);
        assert_eq!(<(CatalogId, ResourceId)>::from_values(&[&cs, "x"]), None);
    }
}
