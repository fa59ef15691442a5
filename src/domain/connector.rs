//! Connectors of a resource (INTEGRATIONS.md §3): how a grant of one of its roles
//! reaches the target system. One variant per type; the settings of a type live in its
//! variant, and the one secret each type has (a webhook's signing secret, a SCIM
//! target's bearer token, an LDAP bind password) is kept apart, sealed, and never part of this value, so
//! whatever is built from it (answers, audit details, logs) cannot carry the secret.
//! What a role means in the target is its connector value, parsed here too.

use serde::{Deserialize, Serialize};

use super::outbox::OutboxKind;
use super::string_enum;
use super::values::has_control_characters;

string_enum!(
    /// The types of connector.
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] ConnectorType {
        Webhook = "webhook",
        Scim = "scim",
        Ldap = "ldap",
    }
);

/// A resource's connector, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Connector {
    /// Signed calls per the Standard Webhooks specification to `url`.
    Webhook { url: String },
    /// A SCIM 2.0 service provider at `base_url` (no trailing slash): roles are
    /// memberships of its groups; with `deactivate_on_last_revoke`, a person whose
    /// last grant through this connector is revoked is deactivated there.
    Scim {
        base_url: String,
        deactivate_on_last_revoke: bool,
    },
    /// An LDAP or Active Directory server at `url` (`ldap://` or `ldaps://`, nothing
    /// after the port): roles are groups named by their DN; the person is the one
    /// entry `user_filter` (with `{email}`) finds under `base_dn`, and goes into the
    /// group's `member_attribute` (`member`, `uniqueMember` or `memberUid`). Checked
    /// again, with the bind password, by `connectors::ldap::LdapConfig` on every call.
    Ldap {
        url: String,
        start_tls: bool,
        bind_dn: String,
        base_dn: String,
        user_filter: String,
        member_attribute: String,
    },
}

impl Connector {
    pub fn kind(&self) -> ConnectorType {
        match self {
            Self::Webhook { .. } => ConnectorType::Webhook,
            Self::Scim { .. } => ConnectorType::Scim,
            Self::Ldap { .. } => ConnectorType::Ldap,
        }
    }

    /// The outbox rows that carry this connector's calls.
    pub fn outbox_kind(&self) -> OutboxKind {
        match self {
            Self::Webhook { .. } => OutboxKind::Webhook,
            Self::Scim { .. } => OutboxKind::Scim,
            Self::Ldap { .. } => OutboxKind::Ldap,
        }
    }

    /// Where calls go: the webhook URL, the SCIM base URL or the LDAP server's URL.
    pub fn address(&self) -> &str {
        match self {
            Self::Webhook { url } | Self::Ldap { url, .. } => url,
            Self::Scim { base_url, .. } => base_url,
        }
    }
}

impl ConnectorType {
    /// The API name of this type's secret field (`connector.<name>`).
    pub fn secret_field(self) -> &'static str {
        match self {
            Self::Webhook => "secret",
            Self::Scim => "token",
            Self::Ldap => "bindPassword",
        }
    }

    /// The API name of this type's address field (`connector.<name>`).
    pub fn address_field(self) -> &'static str {
        match self {
            Self::Webhook => "url",
            Self::Scim => "baseUrl",
            Self::Ldap => "url",
        }
    }
}

pub const MAX_TOKEN: usize = 4096;
pub const MAX_CONNECTOR_VALUE: usize = 1024;

/// A bearer token as it may travel in an `Authorization` header: 1–4096 visible ASCII
/// characters (RFC 6750's b64token and more), no spaces.
pub fn parse_token(raw: &str) -> Result<&str, String> {
    let token = raw.trim();
    if token.is_empty() {
        return Err("a SCIM connector needs the bearer token the target issued".into());
    }
    if token.chars().count() > MAX_TOKEN {
        return Err(format!("the token has at most {MAX_TOKEN} characters"));
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(
            "the token holds spaces or characters that cannot travel in an HTTP header; paste the token alone"
                .into(),
        );
    }
    Ok(token)
}

/// What a role means in the target: trimmed, 1–1024 characters, one line.
pub fn parse_connector_value(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(
            "say what the role means in the target (for example the name of a group there), or leave connectorValue out to use the role's name"
                .into(),
        );
    }
    if value.chars().count() > MAX_CONNECTOR_VALUE {
        return Err(format!(
            "a connector value has at most {MAX_CONNECTOR_VALUE} characters"
        ));
    }
    if has_control_characters(value, false) {
        return Err("a connector value is one line without control characters".into());
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn connectors_are_stored_as_documents_tagged_by_type() {
        let scim = Connector::Scim {
            base_url: "https://app.example/scim/v2".into(),
            deactivate_on_last_revoke: true,
        };
        let stored = serde_json::to_value(&scim).expect("json");
        assert_eq!(
            stored,
            json!({"type": "scim", "baseUrl": "https://app.example/scim/v2", "deactivateOnLastRevoke": true})
        );
        assert_eq!(serde_json::from_value::<Connector>(stored).ok(), Some(scim));
        let hook = json!({"type": "webhook", "url": "https://hooks.example/x"});
        let parsed: Connector = serde_json::from_value(hook).expect("webhook");
        assert_eq!(parsed.kind(), ConnectorType::Webhook);
        assert_eq!(parsed.outbox_kind(), OutboxKind::Webhook);
        assert_eq!(parsed.address(), "https://hooks.example/x");
        assert!(serde_json::from_value::<Connector>(json!({"type": "smtp"})).is_err());
        let ldap = json!({"type": "ldap", "url": "ldaps://ldap.example.com", "startTls": false,
                          "bindDn": "cn=portico,dc=example,dc=com", "baseDn": "dc=example,dc=com",
                          "userFilter": "(mail={email})", "memberAttribute": "member"});
        let parsed: Connector = serde_json::from_value(ldap.clone()).expect("ldap");
        assert_eq!(parsed.kind(), ConnectorType::Ldap);
        assert_eq!(parsed.outbox_kind(), OutboxKind::Ldap);
        assert_eq!(parsed.address(), "ldaps://ldap.example.com");
        assert_eq!(serde_json::to_value(&parsed).expect("json"), ldap);
    }

    #[test]
    fn tokens_are_visible_ascii_without_spaces() {
        assert_eq!(parse_token("  abc.DEF-123_~+/=  "), Ok("abc.DEF-123_~+/="));
        for bad in ["", "   ", "two words", "tab\there", "ünïcode"] {
            assert!(parse_token(bad).is_err(), "{bad:?}");
        }
        assert!(parse_token(&"x".repeat(MAX_TOKEN + 1)).is_err());
    }

    #[test]
    fn connector_values_are_one_trimmed_line() {
        assert_eq!(
            parse_connector_value(" cn=Editors,ou=Groups ").as_deref(),
            Ok("cn=Editors,ou=Groups")
        );
        for bad in ["", "  ", "two\nlines", "nul\u{0}"] {
            assert!(parse_connector_value(bad).is_err(), "{bad:?}");
        }
        assert!(parse_connector_value(&"x".repeat(MAX_CONNECTOR_VALUE + 1)).is_err());
    }
}
