//! Portico: self-hosted, multi-tenant entitlement management.
//!
//! Layers (ARCHITECTURE.md): `web → services → {domain, db}`; `domain` depends on
//! nothing; only `clock` reads the system time.

pub mod cli;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod email;
pub mod model;
pub mod paging;
pub mod rate_limit;
pub mod scheduler;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod time_text;
pub mod web;
