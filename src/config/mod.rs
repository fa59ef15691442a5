//! Typed settings read once from the environment (ARCHITECTURE.md "Settings"). A
//! missing or malformed value stops start-up with a message naming the variable.
//! Secrets are wrapped so they never reach a log line.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

mod env;
mod serve;
#[cfg(test)]
mod tests;
mod values;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {message}")]
pub struct SettingsError {
    pub var: &'static str,
    pub message: String,
}

fn bad(var: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        var,
        message: message.into(),
    }
}

/// A value that must not be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// `None`: run the private cluster in `data_dir`.
    pub database_url: Option<Secret>,
    /// The role the server runs as when it is not the owner (`DATABASE_URL`, which
    /// migrates): it may append to the audit log but never change or delete it.
    pub runtime_database_url: Option<Secret>,
    pub bind: SocketAddr,
    pub base_url: Option<Url>,
    pub secret_key: Option<Secret>,
    pub smtp_url: Option<Secret>,
    pub mail_from: String,
    /// Emails sent at once, each over its own (kept open) SMTP connection.
    pub smtp_connections: usize,
    pub scheduler_interval: Duration,
    /// Whether this process runs the scheduler (API-only replicas can turn it off).
    pub scheduler_enabled: bool,
    /// How long a claimed outbox row stays with the process that claimed it; after a
    /// crash the row is delivered again once the lease has run out.
    pub outbox_lease: Duration,
    pub data_dir: PathBuf,
    pub webhook_allow_private: bool,
    /// Extra `host[:port]` names the server answers to besides the base URL's (lowercase).
    pub allowed_hosts: Vec<String>,
    pub log_format: LogFormat,
    /// Reverse proxies whose `X-Forwarded-For` names the client; empty: the header is
    /// ignored and the peer address is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// API calls per second per token, kept in each process (so per replica).
    pub api_rate_per_second: NonZeroU32,
    /// API calls a token may make at once before the per-second rate applies.
    pub api_burst: NonZeroU32,
    /// How long a connection may take to send a request's headers (and how long an
    /// idle kept-alive connection stays open), so half-sent requests cannot hold it.
    pub header_timeout: Duration,
    /// How long a request may take from its headers to its answer, body included.
    pub request_timeout: Duration,
    /// The same for bulk work (bulk assignment, removal and extension, applying a
    /// configuration): many rows in one transaction take longer than one request.
    pub bulk_request_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Whether `serve` may write emails (working links in them) to the log.
    pub allow_mail_log: bool,
    /// When set, `/metrics` answers only `Authorization: Bearer <this token>`.
    pub metrics_token: Option<Secret>,
    /// A session unused for longer than this is refused (besides its absolute limit).
    pub session_idle: Duration,
    /// Slack's Web API (`PORTICO_SLACK_API_URL`, default `https://slack.com/api`), without
    /// a trailing slash; tests and proxies point it elsewhere.
    pub slack_api_url: String,
}

/// Slack's Web API when `PORTICO_SLACK_API_URL` is not set.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";

/// SMTP connections used at once when `PORTICO_SMTP_CONNECTIONS` is not set.
pub const DEFAULT_SMTP_CONNECTIONS: usize = 8;
/// API calls per second per token when `PORTICO_API_RATE_PER_SECOND` is not set.
pub const DEFAULT_API_RATE_PER_SECOND: NonZeroU32 = nonzero(50);
/// API burst per token when `PORTICO_API_BURST` is not set.
pub const DEFAULT_API_BURST: NonZeroU32 = nonzero(100);

const fn nonzero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    }
}

impl Settings {
    /// The base URL for links, falling back to the bind address.
    pub fn public_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.as_str().trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }
}
