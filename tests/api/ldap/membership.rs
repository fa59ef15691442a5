//! Grants add and revokes remove, once; a second call finds it in place.

use portico::connectors::ldap::{LdapConfig, Outcome};

use super::connector;
use crate::helpers::slapd::{
    ADA, AUDITORS, DEVELOPERS, GRACE, JOHN, OBRIEN, OBRIEN_MAIL, STAFF, Slapd, WRITER_DN,
    WRITER_PASSWORD,
};

#[tokio::test]
async fn a_grant_adds_the_persons_dn_to_a_group_of_names_once() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");

    let first = connector().grant(&config, "ada@example.test", STAFF).await;
    let second = connector().grant(&config, "ada@example.test", STAFF).await;

    assert_eq!(first, Ok(Outcome::Applied));
    assert_eq!(second, Ok(Outcome::AlreadyInPlace));
    assert_eq!(slapd.values(STAFF, "member").await, vec![ADA, GRACE]);
}

#[tokio::test]
async fn a_revoke_removes_the_persons_dn_once() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");
    connector()
        .grant(&config, "ada@example.test", STAFF)
        .await
        .expect("granted");

    let first = connector().revoke(&config, "ada@example.test", STAFF).await;
    let second = connector().revoke(&config, "ada@example.test", STAFF).await;

    assert_eq!(first, Ok(Outcome::Applied));
    assert_eq!(second, Ok(Outcome::AlreadyInPlace));
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);
}

#[tokio::test]
async fn a_group_of_unique_names_gets_the_dn_in_unique_member() {
    let slapd = Slapd::start().await;
    let config = slapd.config("uniqueMember");

    let granted = connector()
        .grant(&config, "ada@example.test", AUDITORS)
        .await;
    let again = connector()
        .grant(&config, "ada@example.test", AUDITORS)
        .await;
    assert_eq!(granted, Ok(Outcome::Applied));
    assert_eq!(again, Ok(Outcome::AlreadyInPlace));
    assert_eq!(
        slapd.values(AUDITORS, "uniqueMember").await,
        vec![ADA, GRACE]
    );

    let revoked = connector()
        .revoke(&config, "ada@example.test", AUDITORS)
        .await;
    let again = connector()
        .revoke(&config, "ada@example.test", AUDITORS)
        .await;
    assert_eq!(revoked, Ok(Outcome::Applied));
    assert_eq!(again, Ok(Outcome::AlreadyInPlace));
    assert_eq!(slapd.values(AUDITORS, "uniqueMember").await, vec![GRACE]);
}

#[tokio::test]
async fn a_posix_group_gets_the_uid_in_member_uid() {
    let slapd = Slapd::start().await;
    let config = slapd.config("memberUid");

    let granted = connector()
        .grant(&config, "ada@example.test", DEVELOPERS)
        .await;
    let again = connector()
        .grant(&config, "ada@example.test", DEVELOPERS)
        .await;
    assert_eq!(granted, Ok(Outcome::Applied));
    assert_eq!(again, Ok(Outcome::AlreadyInPlace));
    assert_eq!(
        slapd.values(DEVELOPERS, "memberUid").await,
        vec!["ada", "grace"]
    );

    let revoked = connector()
        .revoke(&config, "ada@example.test", DEVELOPERS)
        .await;
    let again = connector()
        .revoke(&config, "ada@example.test", DEVELOPERS)
        .await;
    assert_eq!(revoked, Ok(Outcome::Applied));
    assert_eq!(again, Ok(Outcome::AlreadyInPlace));
    assert_eq!(slapd.values(DEVELOPERS, "memberUid").await, vec!["grace"]);
}

#[tokio::test]
async fn the_last_member_of_a_posix_group_can_be_revoked() {
    // memberUid is optional, unlike member in groupOfNames.
    let slapd = Slapd::start().await;
    let config = slapd.config("memberUid");

    let revoked = connector()
        .revoke(&config, "grace@example.test", DEVELOPERS)
        .await;

    assert_eq!(revoked, Ok(Outcome::Applied));
    assert!(slapd.values(DEVELOPERS, "memberUid").await.is_empty());
    let granted = connector()
        .grant(&config, "grace@example.test", DEVELOPERS)
        .await;
    assert_eq!(
        granted,
        Ok(Outcome::Applied),
        "a group with no members takes one"
    );
}

#[tokio::test]
async fn a_dn_with_an_escaped_comma_is_added_as_the_server_names_it() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");

    let granted = connector()
        .grant(&config, "john.smith@example.test", STAFF)
        .await;
    let again = connector()
        .grant(&config, "john.smith@example.test", STAFF)
        .await;

    assert_eq!(granted, Ok(Outcome::Applied));
    assert_eq!(again, Ok(Outcome::AlreadyInPlace));
    // slapd keeps DN values in its own escaped form: the comma as \2C.
    let members = slapd.values(STAFF, "member").await;
    assert_eq!(members, vec![JOHN.replace("\\,", "\\2C"), GRACE.to_owned()]);
    let revoked = connector()
        .revoke(&config, "john.smith@example.test", STAFF)
        .await;
    assert_eq!(revoked, Ok(Outcome::Applied));
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);
}

#[tokio::test]
async fn an_email_with_filter_characters_finds_exactly_its_owner() {
    let slapd = Slapd::start().await;
    let config = slapd.config("member");

    let granted = connector().grant(&config, OBRIEN_MAIL, STAFF).await;

    assert_eq!(granted, Ok(Outcome::Applied));
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE, OBRIEN]);
}

#[tokio::test]
async fn injected_filter_syntax_in_an_email_matches_nobody() {
    let slapd = Slapd::start().await;
    // Unescaped, `*)(uid=grace` would turn this filter into
    // (&(objectClass=inetOrgPerson)(mail=*)(uid=grace)) and find grace.
    let mut input = slapd.config_input("member");
    input.user_filter = Some("(&(objectClass=inetOrgPerson)(mail={email}))".into());
    let config = LdapConfig::parse(&input).expect("valid");

    for email in [
        "*)(uid=grace",
        "*",
        "grace*",
        "*@example.test",
        "ada@example.test)(|(uid=*",
    ] {
        let result = connector().grant(&config, email, STAFF).await;
        let error = result.expect_err(email);
        assert!(
            error.to_string().starts_with("no LDAP entry matches"),
            "{email}: {error}"
        );
        assert!(!error.is_retryable());
    }
    assert_eq!(slapd.values(STAFF, "member").await, vec![GRACE]);
}

#[tokio::test]
async fn without_compare_rights_the_servers_answer_to_the_change_decides() {
    let slapd = Slapd::start().await;
    // The writer may change member attributes but not compare them: the check first
    // is refused, and a repeated change is answered attributeOrValueExists (20) or
    // noSuchAttribute (16), which are in place too.
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&slapd.url())
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    ldap.simple_bind(WRITER_DN, WRITER_PASSWORD)
        .await
        .and_then(|r| r.success())
        .expect("the writer binds");
    let compared = ldap.compare(STAFF, "member", GRACE).await.expect("compare");
    assert_eq!(compared.0.rc, 50, "the writer must not be able to compare");
    let _ = ldap.unbind().await;

    for (attribute, group, value) in [("member", STAFF, ADA), ("memberUid", DEVELOPERS, "ada")] {
        let mut input = slapd.config_input(attribute);
        input.bind_dn = Some(WRITER_DN.into());
        input.bind_password = Some(WRITER_PASSWORD.into());
        let config = LdapConfig::parse(&input).expect("valid");
        let email = "ada@example.test";

        assert_eq!(
            connector().grant(&config, email, group).await,
            Ok(Outcome::Applied)
        );
        assert!(
            slapd
                .values(group, attribute)
                .await
                .contains(&value.to_owned())
        );
        assert_eq!(
            connector().grant(&config, email, group).await,
            Ok(Outcome::AlreadyInPlace),
            "{attribute}: a second add answered 20"
        );
        assert_eq!(
            connector().revoke(&config, email, group).await,
            Ok(Outcome::Applied)
        );
        assert!(
            !slapd
                .values(group, attribute)
                .await
                .contains(&value.to_owned())
        );
        assert_eq!(
            connector().revoke(&config, email, group).await,
            Ok(Outcome::AlreadyInPlace),
            "{attribute}: a second delete answered 16"
        );
    }
}
