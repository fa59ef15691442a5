//! The integration tests: one binary, real PostgreSQL, real HTTP.

// A failed expectation in a test is a test failure; that is what `expect` is for here.
// Not every test module uses every helper.
#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

mod fixtures;
mod helpers;
mod ldap;
mod lifecycle;
mod mailbox;

mod admin_catalogs;
mod admin_directory;
mod admin_packages;
mod admin_pages;
mod admin_policy;
mod admin_screens;
mod admin_screens_browser;
mod architecture;
mod audit;
mod audit_log;
mod audit_stream;
mod auth;
mod browser;
mod browser_e2e;
mod browser_phone;
mod bulk;
mod catalogs;
mod chat;
mod cli;
mod cluster;
mod config;
mod connectors;
mod crash;
mod directory;
mod expiry;
mod extensions;
mod links;
mod mail;
mod mail_notices;
mod oidc;
mod oidc_provider;
mod ops;
mod package_search;
mod packages;
mod paths;
mod portal_access_views;
mod portal_csrf;
mod portal_my_access;
mod portal_polish;
mod portal_sign_in;
mod reports;
mod requests;
mod reviews;
mod roles;
mod scaling;
mod scheduler;
mod scim;
mod scim_filter_sql;
mod security;
mod security_edge;
mod security_escalation;
mod security_input;
mod security_rate_limits;
mod states;
mod tenancy;
mod time_zones;
mod time_zones_browser;
mod versions;
mod webhooks;
