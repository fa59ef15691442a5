//! The integration tests: one binary, real PostgreSQL, real HTTP.

mod helpers;

mod auth;
mod tenancy;
