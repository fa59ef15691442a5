//! What goes wrong, said so an admin can act on it, and whether the outbox retries it.

use std::time::{Duration, Instant};

use portico::connectors::ldap::{LdapConfig, LdapConfigInput, LdapConnector, LdapError, Outcome};

use super::connector;
use crate::helpers::slapd::{ADA, ADMIN_PASSWORD, GRACE, PEOPLE, SOLO, STAFF, Slapd};

#[tokio::test]
async fn a_person_the_filter_does_not_find_is_a_permanent_error_naming_filter_and_base() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");

    let granted = connector()
        .grant(&config, "nobody@example.test", STAFF)
        .await;
    let revoked = connector()
        .revoke(&config, "nobody@example.test", STAFF)
        .await;

    for result in [granted, revoked] {
        let error = result.expect_err("no such person");
        assert_eq!(
            error.to_string(),
            format!("no LDAP entry matches (mail=nobody@example.test) under {PEOPLE}")
        );
        assert!(!error.is_retryable());
    }
}

#[tokio::test]
async fn two_people_with_one_email_are_refused_rather_than_guessed() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");

    let error = connector()
        .grant(&config, "twin@example.test", STAFF)
        .await
        .expect_err("ambiguous");

    assert!(matches!(error, LdapError::AmbiguousUser { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("more than one LDAP entry matches (mail=twin@example.test)")
    );
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);
}

#[tokio::test]
async fn a_member_uid_group_needs_a_person_with_a_uid() {
    let slapd = Slapd::start().await;
    let config = slapd.config("memberUid");

    let error = connector()
        .grant(
            &config,
            "nouid@example.test",
            crate::helpers::slapd::DEVELOPERS,
        )
        .await
        .expect_err("no uid");

    assert_eq!(
        error.to_string(),
        format!("the LDAP entry cn=No Uid,{PEOPLE} has no uid, which a memberUid group needs")
    );
}

#[tokio::test]
async fn a_missing_group_is_a_permanent_error_naming_its_dn() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");
    let missing = "cn=ghosts,ou=groups,dc=example,dc=test";

    for result in [
        connector()
            .grant(&config, "ada@example.test", missing)
            .await,
        connector()
            .revoke(&config, "ada@example.test", missing)
            .await,
    ] {
        let error = result.expect_err("no such group");
        assert_eq!(error, LdapError::GroupNotFound(missing.into()));
        assert_eq!(
            error.to_string(),
            format!("the LDAP group {missing} does not exist")
        );
        assert!(!error.is_retryable());
    }
}

#[tokio::test]
async fn a_group_dn_that_is_not_a_dn_is_refused_before_connecting() {
    // Nothing listens on this port: the DN is checked first.
    let config = LdapConfig::parse(&LdapConfigInput {
        url: Some("ldap://127.0.0.1:9".into()),
        bind_dn: Some("cn=admin,dc=example,dc=test".into()),
        bind_password: Some("secret".into()),
        base_dn: Some(PEOPLE.into()),
        ..LdapConfigInput::default()
    })
    .expect("valid");

    let error = connector()
        .grant(&config, "ada@example.test", "staff")
        .await
        .expect_err("not a DN");

    assert!(matches!(error, LdapError::InvalidGroupDn(_)), "{error}");
    assert!(error.to_string().contains("needs '='"), "{error}");
}

#[tokio::test]
async fn removing_the_last_member_of_a_group_of_names_is_refused_with_the_reason() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");

    let error = connector()
        .revoke(&config, "ada@example.test", SOLO)
        .await
        .expect_err("groupOfNames needs a member");

    assert!(matches!(error, LdapError::LastMember { .. }), "{error}");
    assert!(
        error.to_string().contains("last member of the LDAP group"),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert_eq!(slapd.values(SOLO, "member").await, vec![ADA]);
}

#[tokio::test]
async fn a_wrong_bind_password_is_permanent_and_never_shown() {
    let slapd = Slapd::start().await;
    let mut input = slapd.config_input("member");
    input.bind_password = Some("not-the-password-7f3a".into());
    let config = LdapConfig::parse(&input).expect("valid");

    let error = connector()
        .grant(&config, "ada@example.test", STAFF)
        .await
        .expect_err("bad password");

    assert!(matches!(error, LdapError::BindRefused { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("invalidCredentials (result code 49)"),
        "{error}"
    );
    assert!(!error.is_retryable());
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{config:?}"),
    ] {
        assert!(!shown.contains("not-the-password-7f3a"), "{shown}");
        assert!(!shown.contains(ADMIN_PASSWORD), "{shown}");
    }
}

#[tokio::test]
async fn a_stopped_server_is_retryable_and_the_grant_succeeds_once_it_is_back() {
    let mut slapd = Slapd::start().await;
    let config = slapd.config("member");
    slapd.stop();

    let error = connector()
        .grant(&config, "ada@example.test", STAFF)
        .await
        .expect_err("server down");
    assert!(matches!(error, LdapError::Unreachable { .. }), "{error}");
    assert!(error.is_retryable());
    assert!(
        error.to_string().starts_with(&format!(
            "the LDAP server 127.0.0.1:{} cannot be reached",
            slapd.port
        )),
        "{error}"
    );

    slapd.restart().await;
    let granted = connector().grant(&config, "ada@example.test", STAFF).await;
    assert_eq!(granted, Ok(Outcome::Applied));
    assert_eq!(slapd.values(STAFF, "member").await, vec![ADA, GRACE]);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_retryable() {
    // Accepts connections and reads nothing: the bind gets no answer.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("address").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let slapd = Slapd::start().await;
    let mut input = slapd.config_input("member");
    input.url = Some(format!("ldap://127.0.0.1:{port}"));
    let config = LdapConfig::parse(&input).expect("valid");
    let connector = LdapConnector::new(true).with_timeout(Duration::from_millis(500));

    let started = Instant::now();
    let error = connector
        .grant(&config, "ada@example.test", STAFF)
        .await
        .expect_err("no answer");

    assert!(
        matches!(
            error,
            LdapError::TimedOut {
                during: "the bind",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    holder.abort();
}

#[tokio::test]
async fn a_loopback_server_is_refused_unless_private_targets_are_allowed() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");

    let error = LdapConnector::new(false)
        .grant(&config, "ada@example.test", STAFF)
        .await
        .expect_err("loopback refused");

    assert!(matches!(error, LdapError::AddressRefused(_)), "{error}");
    assert!(
        error.to_string().contains("PORTICO_WEBHOOK_ALLOW_PRIVATE"),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);
}

#[tokio::test]
async fn a_connection_test_binds_and_reads_the_base_dn() {
    let slapd = Slapd::start().await;

    let ok = connector().test_connection(&slapd.config("member")).await;
    assert_eq!(ok, Ok(()));

    let mut input = slapd.config_input("member");
    input.base_dn = Some("ou=nobody,dc=example,dc=test".into());
    let wrong_base = LdapConfig::parse(&input).expect("valid");
    let error = connector()
        .test_connection(&wrong_base)
        .await
        .expect_err("no such base");
    assert_eq!(
        error.to_string(),
        "the base DN ou=nobody,dc=example,dc=test does not exist on the LDAP server"
    );
    let error = connector()
        .grant(&wrong_base, "ada@example.test", STAFF)
        .await
        .expect_err("no such base");
    assert!(matches!(error, LdapError::BaseNotFound(_)), "{error}");
}
