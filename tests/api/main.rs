//! The integration tests: one binary, real PostgreSQL, real HTTP.

// Helpers panic on a broken expectation just like the tests they serve, and not every
// test module uses every helper.
#![allow(clippy::expect_used, dead_code)]

mod helpers;

mod auth;
mod catalogs;
mod packages;
mod tenancy;
