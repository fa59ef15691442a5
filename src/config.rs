//! Typed settings read once from the environment (ARCHITECTURE.md "Settings"). A
//! missing or malformed value stops start-up with a message naming the variable.
//! Secrets are wrapped so they never reach a log line.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

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
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Whether `serve` may write emails (working links in them) to the log.
    pub allow_mail_log: bool,
    /// When set, `/metrics` answers only `Authorization: Bearer <this token>`.
    pub metrics_token: Option<Secret>,
    /// A session unused for longer than this is refused (besides its absolute limit).
    pub session_idle: Duration,
}

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

/// `PORTICO_TRUSTED_PROXIES`: addresses (`10.0.0.5`) and ranges (`10.0.0.0/8`),
/// comma-separated.
fn parse_trusted_proxies(value: &str) -> Result<Vec<IpNet>, SettingsError> {
    let mut nets = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let net = match (part.parse::<IpNet>(), part.parse::<IpAddr>()) {
            (Ok(net), _) => net.trunc(),
            (_, Ok(ip)) => IpNet::from(ip),
            _ => {
                return Err(bad(
                    "PORTICO_TRUSTED_PROXIES",
                    format!(
                        "'{part}' is not an IP address or range; write e.g. 10.0.0.5,192.168.0.0/16"
                    ),
                ));
            }
        };
        nets.push(net);
    }
    Ok(nets)
}

/// A positive count of at most a million, or the default when unset.
fn parse_count(
    var: &'static str,
    value: Option<String>,
    default: NonZeroU32,
) -> Result<NonZeroU32, SettingsError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<NonZeroU32>()
            .ok()
            .filter(|n| n.get() <= 1_000_000)
            .ok_or_else(|| bad(var, format!("'{v}' is not a number from 1 to 1000000"))),
    }
}

/// A whole number from `range` in variable `var`, or `default` when it is not set.
fn number_in(
    value: Option<String>,
    var: &'static str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
    unit: &str,
) -> Result<u64, SettingsError> {
    match value {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(bad(
                var,
                format!(
                    "'{v}' is not a number of {unit} from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_map(&std::env::vars().collect())
    }

    /// Reads settings from any map of variables (tests pass their own).
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bind = match get("PORTICO_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.parse().map_err(|_| {
                bad(
                    "PORTICO_BIND",
                    format!("'{v}' is not an address such as 127.0.0.1:8080"),
                )
            })?,
        };
        let base_url = match get("PORTICO_BASE_URL") {
            None => None,
            Some(v) => {
                let url = Url::parse(&v).map_err(|e| {
                    bad(
                        "PORTICO_BASE_URL",
                        format!("'{v}' is not a URL ({e}); use e.g. https://portico.example.com"),
                    )
                })?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(bad(
                        "PORTICO_BASE_URL",
                        format!("'{v}' must be an http:// or https:// URL with a host"),
                    ));
                }
                Some(url)
            }
        };
        let secret_key = match get("PORTICO_SECRET_KEY") {
            None => None,
            Some(v) if v.len() < 32 => {
                return Err(bad(
                    "PORTICO_SECRET_KEY",
                    format!("must be at least 32 characters long (it has {})", v.len()),
                ));
            }
            Some(v) => Some(Secret::new(v)),
        };
        let smtp_url = match get("PORTICO_SMTP_URL") {
            None => None,
            Some(v) if v == "log" => Some(Secret::new(v)),
            Some(v) => {
                let scheme_ok = Url::parse(&v)
                    .map(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host().is_some())
                    .unwrap_or(false);
                if !scheme_ok {
                    return Err(bad(
                        "PORTICO_SMTP_URL",
                        "must be smtp://host:port, smtps://user:pass@host, or 'log'",
                    ));
                }
                Some(Secret::new(v))
            }
        };
        let mail_from = get("PORTICO_MAIL_FROM").unwrap_or_else(|| "portico@localhost".into());
        if crate::domain::values::EmailAddress::parse(&mail_from).is_err() {
            return Err(bad(
                "PORTICO_MAIL_FROM",
                format!("'{mail_from}' is not an email address"),
            ));
        }
        let scheduler_interval = match get("PORTICO_SCHEDULER_INTERVAL_MS") {
            None => Duration::from_millis(10_000),
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if ms >= 10 => Duration::from_millis(ms),
                _ => {
                    return Err(bad(
                        "PORTICO_SCHEDULER_INTERVAL_MS",
                        format!("'{v}' is not a number of milliseconds (at least 10)"),
                    ));
                }
            },
        };
        let scheduler_enabled = match get("PORTICO_SCHEDULER_ENABLED").as_deref() {
            None | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(v) => {
                return Err(bad(
                    "PORTICO_SCHEDULER_ENABLED",
                    format!("'{v}' is not true or false"),
                ));
            }
        };
        let outbox_lease = match get("PORTICO_OUTBOX_LEASE_SECONDS") {
            None => Duration::from_secs(60),
            Some(v) => match v.parse::<u64>() {
                Ok(s) if (2..=3600).contains(&s) => Duration::from_secs(s),
                _ => {
                    return Err(bad(
                        "PORTICO_OUTBOX_LEASE_SECONDS",
                        format!("'{v}' is not a number of seconds from 2 to 3600"),
                    ));
                }
            },
        };
        let smtp_connections = match get("PORTICO_SMTP_CONNECTIONS") {
            None => DEFAULT_SMTP_CONNECTIONS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=64).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "PORTICO_SMTP_CONNECTIONS",
                        format!("'{v}' is not a number from 1 to 64"),
                    ));
                }
            },
        };
        let webhook_allow_private = match get("PORTICO_WEBHOOK_ALLOW_PRIVATE").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(v) => {
                return Err(bad(
                    "PORTICO_WEBHOOK_ALLOW_PRIVATE",
                    format!("'{v}' is not true or false"),
                ));
            }
        };
        let allowed_hosts = match get("PORTICO_ALLOWED_HOSTS") {
            None => Vec::new(),
            Some(v) => {
                let hosts: Vec<String> = v
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect();
                if let Some(bad_host) = hosts.iter().find(|h| {
                    url::Url::parse(&format!("http://{h}/"))
                        .map(|u| u.path() != "/" || u.username() != "" || u.query().is_some())
                        .unwrap_or(true)
                }) {
                    return Err(bad(
                        "PORTICO_ALLOWED_HOSTS",
                        format!(
                            "'{bad_host}' is not a host name with an optional port, such as portico:8080"
                        ),
                    ));
                }
                hosts
            }
        };
        let log_format = match get("PORTICO_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(v) => {
                return Err(bad(
                    "PORTICO_LOG_FORMAT",
                    format!("'{v}' is not 'pretty' or 'json'"),
                ));
            }
        };
        let trusted_proxies = match get("PORTICO_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(v) => parse_trusted_proxies(&v)?,
        };
        let api_rate_per_second = parse_count(
            "PORTICO_API_RATE_PER_SECOND",
            get("PORTICO_API_RATE_PER_SECOND"),
            DEFAULT_API_RATE_PER_SECOND,
        )?;
        let api_burst = parse_count(
            "PORTICO_API_BURST",
            get("PORTICO_API_BURST"),
            DEFAULT_API_BURST,
        )?;
        let runtime_database_url = match get("PORTICO_RUNTIME_DATABASE_URL") {
            None => None,
            Some(_) if get("DATABASE_URL").is_none() => {
                return Err(bad(
                    "PORTICO_RUNTIME_DATABASE_URL",
                    "needs DATABASE_URL too (the owner role that migrates and grants the runtime role its rights)",
                ));
            }
            Some(v) => {
                let user = Url::parse(&v)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "postgres" | "postgresql"))
                    .map(|u| u.username().to_string())
                    .filter(|u| !u.is_empty());
                let owner = get("DATABASE_URL")
                    .and_then(|o| Url::parse(&o).ok())
                    .map(|u| u.username().to_string());
                match user {
                    None => {
                        return Err(bad(
                            "PORTICO_RUNTIME_DATABASE_URL",
                            "must be a URL such as postgres://portico_app:pass@host/portico that names its role",
                        ));
                    }
                    Some(u) if Some(&u) == owner.as_ref() => {
                        return Err(bad(
                            "PORTICO_RUNTIME_DATABASE_URL",
                            "names the same role as DATABASE_URL; use a role that owns nothing",
                        ));
                    }
                    Some(_) => Some(Secret::new(v)),
                }
            }
        };
        let header_timeout = Duration::from_secs(number_in(
            get("PORTICO_HEADER_TIMEOUT_SECONDS"),
            "PORTICO_HEADER_TIMEOUT_SECONDS",
            1..=300,
            10,
            "seconds",
        )?);
        let request_timeout = Duration::from_secs(number_in(
            get("PORTICO_REQUEST_TIMEOUT_SECONDS"),
            "PORTICO_REQUEST_TIMEOUT_SECONDS",
            1..=3600,
            30,
            "seconds",
        )?);
        let max_connections = number_in(
            get("PORTICO_MAX_CONNECTIONS"),
            "PORTICO_MAX_CONNECTIONS",
            1..=100_000,
            512,
            "connections",
        )? as usize;
        let allow_mail_log = match get("PORTICO_ALLOW_MAIL_LOG").as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(v) => {
                return Err(bad(
                    "PORTICO_ALLOW_MAIL_LOG",
                    format!("'{v}' is not true or false"),
                ));
            }
        };
        let metrics_token = match get("PORTICO_METRICS_TOKEN") {
            None => None,
            Some(v) if v.len() < 16 || v.contains(char::is_whitespace) => {
                return Err(bad(
                    "PORTICO_METRICS_TOKEN",
                    "must be at least 16 characters long, without spaces",
                ));
            }
            Some(v) => Some(Secret::new(v)),
        };
        // At most the absolute session lifetime: a longer idle limit would never apply.
        let session_idle = Duration::from_secs(
            60 * number_in(
                get("PORTICO_SESSION_IDLE_MINUTES"),
                "PORTICO_SESSION_IDLE_MINUTES",
                1..=720,
                60,
                "minutes",
            )?,
        );
        Ok(Self {
            database_url: get("DATABASE_URL").map(Secret::new),
            runtime_database_url,
            bind,
            base_url,
            secret_key,
            smtp_url,
            mail_from,
            smtp_connections,
            scheduler_interval,
            scheduler_enabled,
            outbox_lease,
            data_dir: get("PORTICO_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("./var")),
            webhook_allow_private,
            allowed_hosts,
            log_format,
            trusted_proxies,
            api_rate_per_second,
            api_burst,
            header_timeout,
            request_timeout,
            max_connections,
            allow_mail_log,
            metrics_token,
            session_idle,
        })
    }

    /// `serve` refuses to start without what production needs.
    pub fn require_for_serve(&self) -> Result<(), SettingsError> {
        if self.base_url.is_none() {
            return Err(bad(
                "PORTICO_BASE_URL",
                "is required by 'serve' (the address people use to reach Portico, for links in emails)",
            ));
        }
        if self.smtp_url.is_none() {
            return Err(bad(
                "PORTICO_SMTP_URL",
                "is required by 'serve' (smtp://host:port, smtps://user:pass@host, or 'log')",
            ));
        }
        if self.secret_key.is_none() {
            return Err(bad(
                "PORTICO_SECRET_KEY",
                "is required by 'serve' (any string of at least 32 characters)",
            ));
        }
        // Logged emails carry working sign-in and approval links to whoever reads the
        // logs; a server keeps them out unless its operator says otherwise.
        if self.smtp_url.as_ref().is_some_and(|u| u.expose() == "log") && !self.allow_mail_log {
            return Err(bad(
                "PORTICO_ALLOW_MAIL_LOG",
                "PORTICO_SMTP_URL=log writes emails to the log; 'serve' needs an SMTP server, or PORTICO_ALLOW_MAIL_LOG=true to accept that",
            ));
        }
        Ok(())
    }

    /// The base URL for links, falling back to the bind address.
    pub fn public_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.as_str().trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::from_map(&HashMap::new()).expect("defaults");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.scheduler_interval, Duration::from_secs(10));
        assert!(s.database_url.is_none());
        assert!(s.require_for_serve().is_err());
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.api_rate_per_second.get(), 50);
        assert_eq!(s.api_burst.get(), 100);
    }

    #[test]
    fn trusted_proxies_are_addresses_and_ranges() {
        let s = Settings::from_map(&map(&[
            (
                "PORTICO_TRUSTED_PROXIES",
                " 10.0.0.5 , 192.168.7.9/16,fd00::/8,",
            ),
            ("PORTICO_API_RATE_PER_SECOND", "5"),
            ("PORTICO_API_BURST", "7"),
        ]))
        .expect("valid");
        let shown: Vec<String> = s.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.5/32", "192.168.0.0/16", "fd00::/8"]);
        assert_eq!(s.api_rate_per_second.get(), 5);
        assert_eq!(s.api_burst.get(), 7);
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (var, value) in [
            ("PORTICO_BIND", "nowhere"),
            ("PORTICO_BASE_URL", "not a url"),
            ("PORTICO_SECRET_KEY", "short"),
            ("PORTICO_SMTP_URL", "http://mail"),
            ("PORTICO_SCHEDULER_INTERVAL_MS", "soon"),
            ("PORTICO_WEBHOOK_ALLOW_PRIVATE", "maybe"),
            ("PORTICO_LOG_FORMAT", "xml"),
            ("PORTICO_SCHEDULER_ENABLED", "sometimes"),
            ("PORTICO_OUTBOX_LEASE_SECONDS", "1"),
            ("PORTICO_MAIL_FROM", "nobody"),
            ("PORTICO_SMTP_CONNECTIONS", "0"),
            ("PORTICO_TRUSTED_PROXIES", "10.0.0.1,proxy.internal"),
            ("PORTICO_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("PORTICO_API_RATE_PER_SECOND", "0"),
            ("PORTICO_API_RATE_PER_SECOND", "fast"),
            ("PORTICO_API_BURST", "-1"),
            ("PORTICO_ALLOWED_HOSTS", "portico/admin"),
            ("PORTICO_RUNTIME_DATABASE_URL", "postgres://app@db/portico"),
            ("PORTICO_HEADER_TIMEOUT_SECONDS", "0"),
            ("PORTICO_REQUEST_TIMEOUT_SECONDS", "forever"),
            ("PORTICO_MAX_CONNECTIONS", "-1"),
            ("PORTICO_ALLOW_MAIL_LOG", "perhaps"),
            ("PORTICO_METRICS_TOKEN", "short"),
            ("PORTICO_SESSION_IDLE_MINUTES", "721"),
        ] {
            let e = Settings::from_map(&map(&[(var, value)])).expect_err(var);
            assert_eq!(e.var, var);
        }
    }

    #[test]
    fn the_runtime_role_must_differ_from_the_owner() {
        let owner = ("DATABASE_URL", "postgres://owner@db/portico");
        let same = Settings::from_map(&map(&[
            owner,
            (
                "PORTICO_RUNTIME_DATABASE_URL",
                "postgres://owner:x@db/portico",
            ),
        ]))
        .expect_err("same role");
        assert_eq!(same.var, "PORTICO_RUNTIME_DATABASE_URL");
        let nameless = Settings::from_map(&map(&[
            owner,
            ("PORTICO_RUNTIME_DATABASE_URL", "postgres://db/portico"),
        ]))
        .expect_err("no role");
        assert_eq!(nameless.var, "PORTICO_RUNTIME_DATABASE_URL");
        let s = Settings::from_map(&map(&[
            owner,
            (
                "PORTICO_RUNTIME_DATABASE_URL",
                "postgres://app:pw@db/portico",
            ),
        ]))
        .expect("valid");
        assert!(s.runtime_database_url.is_some());
        assert!(!format!("{s:?}").contains("app:pw"));
    }

    #[test]
    fn serve_needs_base_url_smtp_and_secret() {
        let s = Settings::from_map(&map(&[
            ("PORTICO_BASE_URL", "https://portico.example.com"),
            ("PORTICO_SMTP_URL", "smtp://mail.example.com:25"),
            ("PORTICO_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ]))
        .expect("valid");
        assert!(s.require_for_serve().is_ok());
        assert_eq!(s.public_url(), "https://portico.example.com");
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn serve_refuses_the_log_mailer_unless_allowed() {
        let base = [
            ("PORTICO_BASE_URL", "https://portico.example.com"),
            ("PORTICO_SMTP_URL", "log"),
            ("PORTICO_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ];
        let s = Settings::from_map(&map(&base)).expect("valid");
        let e = s.require_for_serve().expect_err("log mailer refused");
        assert_eq!(e.var, "PORTICO_ALLOW_MAIL_LOG");
        assert!(e.to_string().contains("PORTICO_ALLOW_MAIL_LOG=true"), "{e}");

        let mut allowed = base.to_vec();
        allowed.push(("PORTICO_ALLOW_MAIL_LOG", "true"));
        let s = Settings::from_map(&map(&allowed)).expect("valid");
        assert!(s.require_for_serve().is_ok());
    }

    #[test]
    fn edge_limits_have_defaults_and_parse() {
        let s = Settings::from_map(&HashMap::new()).expect("defaults");
        assert_eq!(s.header_timeout, Duration::from_secs(10));
        assert_eq!(s.request_timeout, Duration::from_secs(30));
        assert_eq!(s.max_connections, 512);
        assert_eq!(s.session_idle, Duration::from_secs(3600));
        assert!(s.metrics_token.is_none());
        assert!(!s.allow_mail_log);

        let s = Settings::from_map(&map(&[
            ("PORTICO_HEADER_TIMEOUT_SECONDS", "2"),
            ("PORTICO_REQUEST_TIMEOUT_SECONDS", "5"),
            ("PORTICO_MAX_CONNECTIONS", "64"),
            ("PORTICO_SESSION_IDLE_MINUTES", "15"),
            ("PORTICO_METRICS_TOKEN", "scrape-me-0123456789"),
        ]))
        .expect("valid");
        assert_eq!(s.header_timeout, Duration::from_secs(2));
        assert_eq!(s.request_timeout, Duration::from_secs(5));
        assert_eq!(s.max_connections, 64);
        assert_eq!(s.session_idle, Duration::from_secs(15 * 60));
        assert_eq!(
            s.metrics_token.as_ref().map(Secret::expose),
            Some("scrape-me-0123456789")
        );
        assert!(!format!("{s:?}").contains("scrape-me"));
    }
}
