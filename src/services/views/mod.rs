//! Read models of the admin portal and of the requester portal (My Access), one module
//! per aggregate. Each function is what one page shows: it calls the same use cases as
//! the API (which check the caller's roles) and resolves the names the page mentions
//! through `names` in batches (one query per kind), so no handler touches the
//! database. Writes live in the aggregates' own services.
//!
//! Invariant of the requester portal's read models (`my_*`, `approval(s)`, `overview`):
//! everything returned is the caller's own — their requests and assignments, stages
//! where they are an approver, review items where they are a reviewer — whatever admin
//! roles they also hold; anything else reads as missing (404), like another tenant's
//! id. The portal's `packages`/`package` show what the caller may browse and request.

pub mod assignments;
pub mod audit;
pub mod catalogs;
pub mod directory;
pub mod names;
pub mod overview;
pub mod packages;
pub mod requests;
pub mod reviews;

pub use names::Names;

use super::ServiceError;
use crate::domain::DomainError;

fn missing(what: &'static str) -> ServiceError {
    ServiceError::Domain(DomainError::NotFound(what))
}
