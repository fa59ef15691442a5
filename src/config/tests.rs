use std::collections::HashMap;
use std::time::Duration;

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
        ("PORTICO_BULK_REQUEST_TIMEOUT_SECONDS", "3601"),
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
    assert_eq!(s.bulk_request_timeout, Duration::from_secs(600));
    assert_eq!(s.max_connections, 512);
    assert_eq!(s.session_idle, Duration::from_secs(3600));
    assert!(s.metrics_token.is_none());
    assert!(!s.allow_mail_log);

    let s = Settings::from_map(&map(&[
        ("PORTICO_HEADER_TIMEOUT_SECONDS", "2"),
        ("PORTICO_REQUEST_TIMEOUT_SECONDS", "5"),
        ("PORTICO_BULK_REQUEST_TIMEOUT_SECONDS", "120"),
        ("PORTICO_MAX_CONNECTIONS", "64"),
        ("PORTICO_SESSION_IDLE_MINUTES", "15"),
        ("PORTICO_METRICS_TOKEN", "scrape-me-0123456789"),
    ]))
    .expect("valid");
    assert_eq!(s.header_timeout, Duration::from_secs(2));
    assert_eq!(s.request_timeout, Duration::from_secs(5));
    assert_eq!(s.bulk_request_timeout, Duration::from_secs(120));
    assert_eq!(s.max_connections, 64);
    assert_eq!(s.session_idle, Duration::from_secs(15 * 60));
    assert_eq!(
        s.metrics_token.as_ref().map(Secret::expose),
        Some("scrape-me-0123456789")
    );
    assert!(!format!("{s:?}").contains("scrape-me"));
}

#[test]
fn the_slack_api_url_defaults_to_slack_and_must_be_a_web_url() {
    let s = Settings::from_map(&HashMap::new()).expect("defaults");
    assert_eq!(s.slack_api_url, "https://slack.com/api");
    let s = Settings::from_map(&map(&[(
        "PORTICO_SLACK_API_URL",
        "http://127.0.0.1:9/api/",
    )]))
    .expect("valid");
    assert_eq!(s.slack_api_url, "http://127.0.0.1:9/api");
    let e =
        Settings::from_map(&map(&[("PORTICO_SLACK_API_URL", "slack.com")])).expect_err("not a URL");
    assert!(e.to_string().contains("PORTICO_SLACK_API_URL"), "{e}");
}
