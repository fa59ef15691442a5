//! Reading the settings from environment variables: each variable parsed, checked,
//! and explained by name when it is malformed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::values::{number_in, parse_count, parse_trusted_proxies};
use super::{
    DEFAULT_API_BURST, DEFAULT_API_RATE_PER_SECOND, DEFAULT_SMTP_CONNECTIONS, LogFormat, Secret,
    Settings, SettingsError, bad,
};

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
        let bulk_request_timeout = Duration::from_secs(number_in(
            get("PORTICO_BULK_REQUEST_TIMEOUT_SECONDS"),
            "PORTICO_BULK_REQUEST_TIMEOUT_SECONDS",
            1..=3600,
            600,
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
        let slack_api_url = match get("PORTICO_SLACK_API_URL") {
            None => super::DEFAULT_SLACK_API_URL.to_string(),
            Some(v) => match Url::parse(&v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    v.trim_end_matches('/').to_string()
                }
                _ => {
                    return Err(bad(
                        "PORTICO_SLACK_API_URL",
                        format!(
                            "'{v}' must be an http:// or https:// URL with a host, e.g. https://slack.com/api"
                        ),
                    ));
                }
            },
        };
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
            bulk_request_timeout,
            max_connections,
            allow_mail_log,
            metrics_token,
            session_idle,
            slack_api_url,
        })
    }
}
