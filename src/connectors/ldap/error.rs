//! Why an LDAP call failed (`LdapError`), and which failures a retry can fix: the
//! mapping from LDAP result codes (RFC 4511 Appendix A) and from the client's own
//! errors (time-outs, broken connections, TLS).
//!
//! Invariant: no message carries the server's diagnostic text or the bind password.

use std::time::Duration;

use ldap3::LdapResult;

use super::{START_TLS, TLS_HANDSHAKE};

/// Why an LDAP call failed, in Portico's words. The server's diagnostic text is not
/// carried: messages are stored on outbox rows and shown to admins.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LdapError {
    /// No connection could be made (refused, unreachable, name not resolved).
    #[error("the LDAP server {server} cannot be reached: {reason}")]
    Unreachable { server: String, reason: String },
    /// The connection was made but closed before the answer came.
    #[error("the connection to the LDAP server {server} broke during {during}: {reason}")]
    ConnectionLost {
        server: String,
        during: &'static str,
        reason: String,
    },
    #[error("the LDAP server {server} did not answer {during} within {limit:?}")]
    TimedOut {
        server: String,
        during: &'static str,
        limit: Duration,
    },
    /// The server answered busy, unavailable or over its time limit.
    #[error("the LDAP server is {what} ({during}: result code {code}); the call will be retried")]
    Busy {
        during: &'static str,
        what: &'static str,
        code: u32,
    },
    /// The address rule refused the server's address.
    #[error("{0}")]
    AddressRefused(String),
    #[error("TLS with the LDAP server {server} failed: {reason}")]
    Tls { server: String, reason: String },
    #[error("the LDAP server refused the bind as {bind_dn}: {reason}")]
    BindRefused { bind_dn: String, reason: String },
    #[error("the base DN {0} does not exist on the LDAP server")]
    BaseNotFound(String),
    #[error("no LDAP entry matches {filter} under {base}")]
    UserNotFound { filter: String, base: String },
    #[error(
        "more than one LDAP entry matches {filter} under {base}; the user filter must find exactly one person"
    )]
    AmbiguousUser { filter: String, base: String },
    #[error("the LDAP entry {0} has no uid, which a memberUid group needs")]
    NoUid(String),
    #[error("the LDAP group {0} does not exist")]
    GroupNotFound(String),
    #[error("{0}")]
    InvalidGroupDn(String),
    #[error(
        "{member} is the last {attribute} of the LDAP group {group}, and its object class requires at least one, so the server refuses to remove it"
    )]
    LastMember {
        group: String,
        attribute: &'static str,
        member: String,
    },
    /// The client could not make the request (for example a user filter it cannot
    /// encode).
    #[error("the LDAP request failed during {during}: {reason}")]
    Client {
        during: &'static str,
        reason: String,
    },
    /// Any other refusal: the operation, the result code and its name.
    #[error("the LDAP server refused {during}: {name} (result code {code})")]
    Refused {
        during: &'static str,
        name: &'static str,
        code: u32,
    },
}

impl LdapError {
    /// Whether trying again later can succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LdapError::Unreachable { .. }
                | LdapError::ConnectionLost { .. }
                | LdapError::TimedOut { .. }
                | LdapError::Busy { .. }
        )
    }
}

/// The names of the result codes of RFC 4511 Appendix A that messages mention.
pub(super) fn code_name(code: u32) -> &'static str {
    match code {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        68 => "entryAlreadyExists",
        80 => "other",
        _ => "an unlisted result code",
    }
}

/// An error from a result code no step handles itself.
pub(super) fn refused(during: &'static str, result: &LdapResult) -> LdapError {
    match result.rc {
        3 => LdapError::Busy {
            during,
            what: "over its time limit",
            code: 3,
        },
        51 => LdapError::Busy {
            during,
            what: "busy",
            code: 51,
        },
        52 => LdapError::Busy {
            during,
            what: "unavailable",
            code: 52,
        },
        code => LdapError::Refused {
            during,
            name: code_name(code),
            code,
        },
    }
}

/// Maps an error that is not a result code: time-outs, broken connections, TLS.
pub(super) fn transport_error(
    server: &str,
    during: &'static str,
    timeout: Duration,
    e: ldap3::LdapError,
) -> LdapError {
    use ldap3::LdapError as E;
    match e {
        E::LdapResult { result } => refused(during, &result),
        E::Timeout { .. } => LdapError::TimedOut {
            server: server.to_owned(),
            during,
            limit: timeout,
        },
        E::Rustls { source } => LdapError::Tls {
            server: server.to_owned(),
            reason: source.to_string(),
        },
        E::DNSName { .. } => LdapError::Tls {
            server: server.to_owned(),
            reason: "the host is not a name a certificate can be checked against".into(),
        },
        E::Io { source }
            if source.kind() == std::io::ErrorKind::InvalidData
                && matches!(during, TLS_HANDSHAKE | START_TLS) =>
        {
            LdapError::Tls {
                server: server.to_owned(),
                reason: source.to_string(),
            }
        }
        E::Io { .. }
        | E::OpSend { .. }
        | E::ResultRecv { .. }
        | E::IdScrubSend { .. }
        | E::MiscSend { .. }
        | E::EndOfStream => LdapError::ConnectionLost {
            server: server.to_owned(),
            during,
            reason: e.to_string(),
        },
        // Mistakes on this side (a filter the client cannot encode, …): retrying the
        // same call cannot help.
        other => LdapError::Client {
            during,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_are_the_ones_time_can_fix() {
        let server = "ldap.example.com:389".to_owned();
        assert!(
            LdapError::Unreachable {
                server: server.clone(),
                reason: "connection refused".into()
            }
            .is_retryable()
        );
        assert!(
            refused(
                "the bind",
                &LdapResult {
                    rc: 51,
                    matched: String::new(),
                    text: String::new(),
                    refs: vec![],
                    ctrls: vec![]
                }
            )
            .is_retryable()
        );
        assert!(!LdapError::GroupNotFound("cn=x".into()).is_retryable());
        let timeout = Duration::from_secs(10);
        let parse = transport_error(
            &server,
            "the search",
            timeout,
            ldap3::LdapError::FilterParsing,
        );
        assert!(matches!(parse, LdapError::Client { .. }), "{parse}");
        assert!(!parse.is_retryable());
        let eof = transport_error(
            &server,
            "the search",
            timeout,
            ldap3::LdapError::EndOfStream,
        );
        assert!(eof.is_retryable(), "{eof}");
        let garbled = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad frame");
        let lost = transport_error(&server, "the bind", timeout, garbled.into());
        assert!(matches!(lost, LdapError::ConnectionLost { .. }), "{lost}");
        let handshake = std::io::Error::new(std::io::ErrorKind::InvalidData, "bad certificate");
        let tls = transport_error(&server, TLS_HANDSHAKE, timeout, handshake.into());
        assert!(
            matches!(tls, LdapError::Tls { .. }) && !tls.is_retryable(),
            "{tls}"
        );
        assert!(
            !LdapError::BindRefused {
                bind_dn: "cn=portico".into(),
                reason: "invalidCredentials (result code 49)".into()
            }
            .is_retryable()
        );
        let user = LdapError::UserNotFound {
            filter: "(mail=ada@x)".into(),
            base: "ou=people,dc=example".into(),
        };
        assert_eq!(
            user.to_string(),
            "no LDAP entry matches (mail=ada@x) under ou=people,dc=example"
        );
        assert!(!user.is_retryable());
    }
}
