//! The integration tests: one binary, real PostgreSQL, real HTTP.

// A failed expectation in a test is a test failure; that is what `expect` is for here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod fixtures;
mod helpers;
mod mailbox;

mod audit;
mod auth;
mod cli;
mod cluster;
mod directory;
mod links;
mod mail;
mod ops;
mod requests;
mod roles;
mod tenancy;
mod webhooks;
