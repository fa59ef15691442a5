//! Pure rules of the product: no axum, no sqlx, no I/O and no clock (time is a
//! parameter). Everything here is plain data and plain functions with unit tests.

pub mod authz;
pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod policy;
pub mod request;
pub mod review;
pub mod values;

pub use error::{DomainError, FieldErrors};
