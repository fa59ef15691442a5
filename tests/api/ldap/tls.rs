//! StartTLS and LDAPS against slapd with a certificate from a test CA. The connector
//! trusts the system's CA store, which `SSL_CERT_FILE` replaces; the environment of
//! this process cannot be changed safely while other tests run, so the trusted case
//! runs in a child process of this test binary with `SSL_CERT_FILE` set to the test CA.

use std::process::Command;

use portico::connectors::ldap::{LdapConfig, LdapError, Outcome};

use super::connector;
use crate::helpers::slapd::{ADA, GRACE, STAFF, Slapd};

const PORT_VARIABLE: &str = "PORTICO_TEST_SLAPD_TLS_PORT";

#[tokio::test]
async fn an_untrusted_certificate_fails_start_tls_and_ldaps_permanently() {
    let slapd = Slapd::start_tls().await;
    let mut start_tls = slapd.config_input("member");
    start_tls.start_tls = Some(true);
    let mut ldaps = slapd.config_input("member");
    ldaps.url = Some(format!("ldaps://127.0.0.1:{}", slapd.tls_port()));

    for input in [start_tls, ldaps] {
        let config = LdapConfig::parse(&input).expect("valid");
        let error = connector()
            .grant(&config, "ada@example.test", STAFF)
            .await
            .expect_err("the test CA is not trusted");
        assert!(matches!(error, LdapError::Tls { .. }), "{error}");
        assert!(error.to_string().contains("UnknownIssuer"), "{error}");
        assert!(!error.is_retryable());
    }
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);
}

#[tokio::test]
async fn a_trusted_certificate_carries_grants_over_start_tls_and_ldaps() {
    let slapd = Slapd::start_tls().await;
    let exe = std::env::current_exe().expect("the test binary");

    let output = tokio::task::spawn_blocking({
        let ca = slapd.ca_file();
        let port = slapd.port;
        move || {
            Command::new(exe)
                .args(["ldap::tls::grants_with_the_test_ca_trusted", "--exact"])
                .args(["--ignored", "--nocapture", "--test-threads=1"])
                .env("SSL_CERT_FILE", ca)
                .env_remove("SSL_CERT_DIR")
                .env(PORT_VARIABLE, port.to_string())
                .output()
                .expect("the child test runs")
        }
    })
    .await
    .expect("the child test task");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(slapd.values(STAFF, "member").await, vec![ADA, GRACE]);
}

/// Run by the test above in a child process that trusts the test CA.
#[tokio::test]
#[ignore = "run by a_trusted_certificate_carries_grants_over_start_tls_and_ldaps"]
async fn grants_with_the_test_ca_trusted() {
    let port: u16 = std::env::var(PORT_VARIABLE)
        .expect("run by a_trusted_certificate_carries_grants_over_start_tls_and_ldaps")
        .parse()
        .expect("a port");
    let input = |url: String, start_tls: bool| portico::connectors::ldap::LdapConfigInput {
        url: Some(url),
        start_tls: Some(start_tls),
        bind_dn: Some(crate::helpers::slapd::ADMIN_DN.into()),
        bind_password: Some(crate::helpers::slapd::ADMIN_PASSWORD.into()),
        base_dn: Some(crate::helpers::slapd::PEOPLE.into()),
        user_filter: None,
        member_attribute: None,
    };
    let start_tls =
        LdapConfig::parse(&input(format!("ldap://127.0.0.1:{port}"), true)).expect("valid");
    let ldaps =
        LdapConfig::parse(&input(format!("ldaps://127.0.0.1:{}", port + 1), false)).expect("valid");

    assert_eq!(connector().test_connection(&start_tls).await, Ok(()));
    assert_eq!(connector().test_connection(&ldaps).await, Ok(()));
    assert_eq!(
        connector()
            .grant(&start_tls, "ada@example.test", STAFF)
            .await,
        Ok(Outcome::Applied)
    );
    assert_eq!(
        connector().grant(&ldaps, "ada@example.test", STAFF).await,
        Ok(Outcome::AlreadyInPlace)
    );
}
