//! The SCIM 2.0 protocol core (RFC 7643/7644), free of HTTP and storage: filter
//! expressions (`filter`), PATCH requests and their application to a resource rendered
//! as JSON (`patch`), and the SCIM error body (`error`). The server parses and applies
//! with these; `db::scim_filter` turns a parsed filter into SQL.
//!
//! Attribute names are case-insensitive in SCIM: parsed paths hold them lowercased and
//! every lookup in a JSON resource compares names without regard to case.

pub mod error;
pub mod filter;
pub mod patch;

pub use error::{ScimError, ScimType};
