//! The settings of an LDAP connector as an admin gives them (`LdapConfigInput`, the
//! JSON of INTEGRATIONS.md §3) and as the connector uses them (`LdapConfig`, which
//! only `LdapConfig::parse` builds, so it cannot hold a bad URL, DN or filter).
//!
//! Invariant: the bind password is never shown by `Debug`, and no error message
//! carries it.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use super::syntax::{Dn, escape_filter_value};
use crate::domain::FieldErrors;

/// Where `{email}` goes in the user filter.
pub const EMAIL_PLACEHOLDER: &str = "{email}";
pub const DEFAULT_USER_FILTER: &str = "(mail={email})";
const MAX_URL: usize = 2048;
const MAX_TEXT: usize = 1024;

/// Which attribute of the group holds its members, and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberAttribute {
    /// `groupOfNames` (and Active Directory groups): the member's DN.
    #[serde(rename = "member")]
    Member,
    /// `groupOfUniqueNames`: the member's DN.
    #[serde(rename = "uniqueMember")]
    UniqueMember,
    /// `posixGroup` (RFC 2307): the member's `uid`, not a DN.
    #[serde(rename = "memberUid")]
    MemberUid,
}

impl MemberAttribute {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberAttribute::Member => "member",
            MemberAttribute::UniqueMember => "uniqueMember",
            MemberAttribute::MemberUid => "memberUid",
        }
    }

    /// Attribute names are case-insensitive in LDAP, so `uniquemember` is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        [Self::Member, Self::UniqueMember, Self::MemberUid]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("'{text}' is not a member attribute; use member, uniqueMember or memberUid")
            })
    }

    /// Whether the value is the member's DN (otherwise it is their `uid`).
    pub fn holds_dn(self) -> bool {
        !matches!(self, MemberAttribute::MemberUid)
    }
}

/// The connector as given: every field optional, so that each missing or bad one gets
/// its own message.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LdapConfigInput {
    pub url: Option<String>,
    pub start_tls: Option<bool>,
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    pub base_dn: Option<String>,
    pub user_filter: Option<String>,
    pub member_attribute: Option<String>,
}

impl fmt::Debug for LdapConfigInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConfigInput")
            .field("url", &self.url)
            .field("start_tls", &self.start_tls)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &self.bind_password.as_ref().map(|_| "***"))
            .field("base_dn", &self.base_dn)
            .field("user_filter", &self.user_filter)
            .field("member_attribute", &self.member_attribute)
            .finish()
    }
}

/// A checked LDAP connector. Stored as its input (`into`/`try_from`), so reading a
/// stored one checks it again.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LdapConfigInput", into = "LdapConfigInput")]
pub struct LdapConfig {
    url: Url,
    start_tls: bool,
    bind_dn: Dn,
    bind_password: String,
    base_dn: Dn,
    user_filter: String,
    member_attribute: MemberAttribute,
}

impl fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url.as_str())
            .field("start_tls", &self.start_tls)
            .field("bind_dn", &self.bind_dn.as_str())
            .field("bind_password", &"***")
            .field("base_dn", &self.base_dn.as_str())
            .field("user_filter", &self.user_filter)
            .field("member_attribute", &self.member_attribute)
            .finish()
    }
}

impl From<LdapConfig> for LdapConfigInput {
    fn from(c: LdapConfig) -> Self {
        LdapConfigInput {
            url: Some(c.url.to_string()),
            start_tls: Some(c.start_tls),
            bind_dn: Some(c.bind_dn.to_string()),
            bind_password: Some(c.bind_password),
            base_dn: Some(c.base_dn.to_string()),
            user_filter: Some(c.user_filter),
            member_attribute: Some(c.member_attribute.as_str().to_owned()),
        }
    }
}

impl TryFrom<LdapConfigInput> for LdapConfig {
    type Error = String;

    fn try_from(input: LdapConfigInput) -> Result<Self, Self::Error> {
        LdapConfig::parse(&input).map_err(|errors| {
            errors
                .0
                .iter()
                .map(|(field, message)| format!("{field}: {message}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

impl LdapConfig {
    /// Checks every field and reports each bad one under its path (`connector.url`,
    /// `connector.bindDn`, …).
    pub fn parse(input: &LdapConfigInput) -> Result<LdapConfig, FieldErrors> {
        let mut errors = FieldErrors::new();
        let url = errors.check("connector.url", parse_url(input.url.as_deref()));
        let start_tls = input.start_tls.unwrap_or(false);
        if start_tls && url.as_ref().is_some_and(|u| u.scheme() == "ldaps") {
            errors.add(
                "connector.startTls",
                "startTls upgrades a plain ldap:// connection; an ldaps:// URL is encrypted from the start, so leave startTls false or use ldap://",
            );
        }
        let bind_dn = errors.check(
            "connector.bindDn",
            required_dn(input.bind_dn.as_deref(), "the DN Portico binds as"),
        );
        let bind_password = errors.check(
            "connector.bindPassword",
            parse_password(input.bind_password.as_deref()),
        );
        let base_dn = errors.check(
            "connector.baseDn",
            required_dn(input.base_dn.as_deref(), "the DN people are searched under"),
        );
        let user_filter = errors.check(
            "connector.userFilter",
            parse_user_filter(input.user_filter.as_deref()),
        );
        let member_attribute = errors.check(
            "connector.memberAttribute",
            match input.member_attribute.as_deref() {
                None => Ok(MemberAttribute::Member),
                Some(text) => MemberAttribute::parse(text),
            },
        );
        match (
            url,
            bind_dn,
            bind_password,
            base_dn,
            user_filter,
            member_attribute,
        ) {
            (
                Some(url),
                Some(bind_dn),
                Some(bind_password),
                Some(base_dn),
                Some(user_filter),
                Some(member_attribute),
            ) if errors.is_empty() => Ok(LdapConfig {
                url,
                start_tls,
                bind_dn,
                bind_password,
                base_dn,
                user_filter,
                member_attribute,
            }),
            _ => Err(errors),
        }
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn start_tls(&self) -> bool {
        self.start_tls
    }

    pub fn bind_dn(&self) -> &Dn {
        &self.bind_dn
    }

    pub fn bind_password(&self) -> &str {
        &self.bind_password
    }

    pub fn base_dn(&self) -> &Dn {
        &self.base_dn
    }

    pub fn user_filter(&self) -> &str {
        &self.user_filter
    }

    pub fn member_attribute(&self) -> MemberAttribute {
        self.member_attribute
    }

    /// The filter that finds the person with this email, the email escaped.
    pub fn filter_for(&self, email: &str) -> String {
        self.user_filter
            .replace(EMAIL_PLACEHOLDER, &escape_filter_value(email))
    }

    /// `host:port` of the server, for messages.
    pub fn server(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        format!("{host}:{}", self.port())
    }

    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(if self.url.scheme() == "ldaps" {
            636
        } else {
            389
        })
    }
}

/// A role's `connectorValue` on an LDAP connector: the group's DN.
pub fn parse_group_dn(text: &str) -> Result<Dn, String> {
    Dn::parse(text).map_err(|e| format!("not a group DN: {e}"))
}

fn parse_url(raw: Option<&str>) -> Result<Url, String> {
    let raw = raw.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err("the directory's URL is required, like ldaps://ldap.example.com".into());
    }
    if raw.chars().count() > MAX_URL {
        return Err(format!("a URL has at most {MAX_URL} characters"));
    }
    let url = Url::parse(raw).map_err(|e| {
        format!("'{raw}' is not a URL ({e}); write it like ldaps://ldap.example.com:636")
    })?;
    if !matches!(url.scheme(), "ldap" | "ldaps") {
        return Err(format!(
            "the URL must start with ldap:// or ldaps://, not {}://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL needs a host, like ldaps://ldap.example.com".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("put no credentials in the URL; use bindDn and bindPassword".into());
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "the URL names only the server (ldap[s]://host[:port]); the base DN and filter are separate fields"
                .into(),
        );
    }
    Ok(url)
}

fn required_dn(raw: Option<&str>, what: &str) -> Result<Dn, String> {
    match raw {
        None => Err(format!(
            "{what} is required, like cn=portico,ou=services,dc=example,dc=com"
        )),
        Some(text) => Dn::parse(text),
    }
}

fn parse_password(raw: Option<&str>) -> Result<String, String> {
    match raw {
        // An empty password makes a simple bind unauthenticated (RFC 4513 §5.1.2):
        // servers accept it without checking anything, so it is never sent.
        None | Some("") => Err("the bind password is required".into()),
        Some(p) if p.chars().count() > MAX_TEXT => Err(format!(
            "the bind password has at most {MAX_TEXT} characters"
        )),
        Some(p) => Ok(p.to_owned()),
    }
}

fn parse_user_filter(raw: Option<&str>) -> Result<String, String> {
    let filter = match raw.map(str::trim) {
        None | Some("") => return Ok(DEFAULT_USER_FILTER.to_owned()),
        Some(f) => f,
    };
    if filter.chars().count() > MAX_TEXT {
        return Err(format!("the user filter has at most {MAX_TEXT} characters"));
    }
    if !filter.contains(EMAIL_PLACEHOLDER) {
        return Err(format!(
            "the user filter must contain {EMAIL_PLACEHOLDER} where the person's email goes, like {DEFAULT_USER_FILTER}"
        ));
    }
    let sample = filter.replace(EMAIL_PLACEHOLDER, "someone@example.com");
    if !sample.starts_with('(') || ldap3::parse_filter(&sample).is_err() {
        return Err(format!(
            "'{filter}' is not an LDAP filter (RFC 4515); write it like (&(objectClass=person)(mail={{email}}))"
        ));
    }
    Ok(filter.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> LdapConfigInput {
        LdapConfigInput {
            url: Some("ldaps://ldap.example.com".into()),
            start_tls: None,
            bind_dn: Some("cn=portico,ou=services,dc=example,dc=com".into()),
            bind_password: Some("s3cret-bind".into()),
            base_dn: Some("ou=people,dc=example,dc=com".into()),
            user_filter: None,
            member_attribute: None,
        }
    }

    fn errors_of(input: &LdapConfigInput) -> Vec<(String, String)> {
        match LdapConfig::parse(input) {
            Ok(c) => panic!("{input:?} parsed as {c:?}"),
            Err(errors) => errors.0.into_iter().collect(),
        }
    }

    fn single_error(input: &LdapConfigInput, field: &str, expected: &str) {
        let errors = errors_of(input);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, field, "{errors:?}");
        assert!(
            errors[0].1.contains(expected),
            "{:?} should mention {expected:?}",
            errors[0].1
        );
    }

    #[test]
    fn a_minimal_connector_gets_the_defaults() {
        let config = LdapConfig::parse(&input()).expect("valid");
        assert_eq!(config.user_filter(), "(mail={email})");
        assert_eq!(config.member_attribute(), MemberAttribute::Member);
        assert!(!config.start_tls());
        assert_eq!(config.server(), "ldap.example.com:636");
        assert_eq!(
            config.filter_for("ada@example.com"),
            "(mail=ada@example.com)"
        );
        assert_eq!(config.filter_for("*)(uid=*"), "(mail=\\2a\\29\\28uid=\\2a)");
    }

    #[test]
    fn every_field_is_read() {
        let mut i = input();
        i.url = Some(" ldap://10.0.0.5:3389 ".into());
        i.start_tls = Some(true);
        i.user_filter = Some(
            "(&(objectClass=inetOrgPerson)(|(mail={email})(mailAlternateAddress={email})))".into(),
        );
        i.member_attribute = Some("uniquemember".into());
        let config = LdapConfig::parse(&i).expect("valid");
        assert_eq!(config.server(), "10.0.0.5:3389");
        assert!(config.start_tls());
        assert_eq!(config.member_attribute(), MemberAttribute::UniqueMember);
        assert_eq!(
            config.filter_for("a(b"),
            "(&(objectClass=inetOrgPerson)(|(mail=a\\28b)(mailAlternateAddress=a\\28b)))"
        );
    }

    #[test]
    fn the_url_must_be_an_ldap_server() {
        let cases = [
            (None, "required"),
            (Some(""), "required"),
            (
                Some("https://ldap.example.com"),
                "ldap:// or ldaps://, not https://",
            ),
            (Some("ldap.example.com"), "not a URL"),
            (Some("ldap://"), "needs a host"),
            (Some("ldap://admin:pw@ldap.example.com"), "no credentials"),
            (
                Some("ldap://ldap.example.com/dc=example,dc=com"),
                "only the server",
            ),
            (
                Some("ldap://ldap.example.com/??sub?(uid=x)"),
                "only the server",
            ),
        ];
        for (url, expected) in cases {
            let mut i = input();
            i.url = url.map(str::to_owned);
            single_error(&i, "connector.url", expected);
        }
    }

    #[test]
    fn start_tls_is_refused_on_ldaps() {
        let mut i = input();
        i.start_tls = Some(true);
        single_error(
            &i,
            "connector.startTls",
            "ldaps:// URL is encrypted from the start",
        );
    }

    #[test]
    fn dns_must_be_present_and_valid() {
        let mut i = input();
        i.bind_dn = None;
        i.base_dn = Some("ou=people,,dc=example".into());
        let errors = errors_of(&i);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].0, "connector.baseDn");
        assert!(errors[0].1.contains("empty"), "{errors:?}");
        assert_eq!(errors[1].0, "connector.bindDn");
        assert!(errors[1].1.contains("required"), "{errors:?}");

        let mut i = input();
        i.bind_dn = Some("   ".into());
        single_error(&i, "connector.bindDn", "required");
        let mut i = input();
        i.base_dn = Some("people".into());
        single_error(&i, "connector.baseDn", "needs '='");
    }

    #[test]
    fn the_bind_password_is_required_and_never_shown() {
        for password in [None, Some("")] {
            let mut i = input();
            i.bind_password = password.map(str::to_owned);
            single_error(&i, "connector.bindPassword", "required");
        }
        let config = LdapConfig::parse(&input()).expect("valid");
        assert!(!format!("{config:?}").contains("s3cret-bind"));
        assert!(!format!("{:?}", input()).contains("s3cret-bind"));
        // A stored config that fails to parse again does not echo the password.
        let mut bad = input();
        bad.url = Some("http://x".into());
        let stored = serde_json::to_string(&bad).expect("json");
        let err = serde_json::from_str::<LdapConfig>(&stored).expect_err("bad url");
        assert!(!err.to_string().contains("s3cret-bind"), "{err}");
    }

    #[test]
    fn the_user_filter_needs_the_email_placeholder_and_valid_syntax() {
        let cases = [
            ("(mail=ada@example.com)", "must contain {email}"),
            ("mail={email}", "not an LDAP filter"),
            ("(mail={email}", "not an LDAP filter"),
            ("(&(mail={email})", "not an LDAP filter"),
            ("(mail={email}))", "not an LDAP filter"),
        ];
        for (filter, expected) in cases {
            let mut i = input();
            i.user_filter = Some(filter.into());
            single_error(&i, "connector.userFilter", expected);
        }
        let mut i = input();
        i.user_filter = Some("  ".into());
        let config = LdapConfig::parse(&i).expect("blank means the default");
        assert_eq!(config.user_filter(), DEFAULT_USER_FILTER);
    }

    #[test]
    fn the_member_attribute_is_one_of_three() {
        for (text, attr) in [
            ("member", MemberAttribute::Member),
            ("uniqueMember", MemberAttribute::UniqueMember),
            ("memberUid", MemberAttribute::MemberUid),
            ("MEMBERUID", MemberAttribute::MemberUid),
        ] {
            let mut i = input();
            i.member_attribute = Some(text.into());
            assert_eq!(LdapConfig::parse(&i).expect(text).member_attribute(), attr);
        }
        let mut i = input();
        i.member_attribute = Some("members".into());
        single_error(
            &i,
            "connector.memberAttribute",
            "use member, uniqueMember or memberUid",
        );
    }

    #[test]
    fn a_config_round_trips_through_its_stored_form() {
        let mut i = input();
        i.member_attribute = Some("memberUid".into());
        let config = LdapConfig::parse(&i).expect("valid");
        let stored = serde_json::to_value(&config).expect("json");
        assert_eq!(stored["memberAttribute"], "memberUid");
        assert_eq!(stored["bindDn"], "cn=portico,ou=services,dc=example,dc=com");
        let back: LdapConfig = serde_json::from_value(stored).expect("parses again");
        assert_eq!(back, config);
    }

    #[test]
    fn group_dns_are_checked() {
        assert!(parse_group_dn("cn=staff,ou=groups,dc=example,dc=com").is_ok());
        let err = parse_group_dn("staff").expect_err("not a DN");
        assert!(err.starts_with("not a group DN"), "{err}");
    }
}
