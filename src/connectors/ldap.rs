//! LDAP connectors (INTEGRATIONS.md §3): a grant adds a person to an LDAP or Active
//! Directory group, a revoke removes them. The role's `connectorValue` is the group's
//! DN; the person is found by the connector's `userFilter` under its `baseDn`, and the
//! group's member attribute gets their DN (`member`, `uniqueMember`) or their `uid`
//! (`memberUid`).
//!
//! Each call opens one connection, binds, does its work and unbinds, so nothing stays
//! open between outbox attempts. A grant already in place, or a revoke of a member
//! already gone, is `Outcome::AlreadyInPlace`, not an error: the outbox may retry an
//! attempt whose answer was lost. Errors say whether a retry can help
//! (`LdapError::is_retryable`): a server that is down, refuses the connection, times
//! out or is busy can recover; a wrong password, a missing group or person cannot.
//!
//! TLS (`ldaps://`, or `startTls` on `ldap://`) checks the server's certificate against
//! the system's CA store; a directory with an internal CA needs that CA there (or in
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`). Over plain `ldap://` without `startTls` the bind
//! password crosses the network in clear, as LDAP's simple bind does.
//!
//! Invariants: the bind password is sent only in the bind request and appears in no
//! error or log; a person's email enters the filter only escaped (RFC 4515); the
//! connection goes only to addresses the outbound rule accepts (`GuardedResolver`,
//! the same rule webhooks follow), and every network step has a time limit.

mod config;
mod error;
mod syntax;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ldap3::asn1::StructureTag;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchOptions};
use url::Host;

pub use config::{
    DEFAULT_USER_FILTER, EMAIL_PLACEHOLDER, LdapConfig, LdapConfigInput, MemberAttribute,
    parse_group_dn,
};
pub use error::LdapError;
pub use syntax::{Ava, Dn, escape_dn_value, escape_filter_value};

use error::{code_name, refused, transport_error};

use super::outbound::GuardedResolver;

/// How long connecting (TCP, then TLS or StartTLS) and each operation may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

const START_TLS: &str = "StartTLS";
const TLS_HANDSHAKE: &str = "the TLS handshake";

/// What a grant or revoke did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The group changed.
    Applied,
    /// The group already was as asked (member on a grant, not a member on a revoke).
    AlreadyInPlace,
}

/// Opens connections to LDAP servers and runs grants, revokes and connection tests.
#[derive(Clone)]
pub struct LdapConnector {
    resolver: GuardedResolver,
    timeout: Duration,
}

impl LdapConnector {
    /// Resolves with the system resolver behind the outbound address rule; private
    /// addresses only when the operator allows them (`PORTICO_WEBHOOK_ALLOW_PRIVATE`).
    pub fn new(allow_private: bool) -> Self {
        Self::with_resolver(GuardedResolver::system(allow_private))
    }

    pub fn with_resolver(resolver: GuardedResolver) -> Self {
        Self {
            resolver,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the limit for connecting and for each operation.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds the person with this email to the group.
    #[tracing::instrument(skip_all, fields(server = %config.server(), group = group_dn))]
    pub async fn grant(
        &self,
        config: &LdapConfig,
        email: &str,
        group_dn: &str,
    ) -> Result<Outcome, LdapError> {
        self.change(config, email, group_dn, Change::Add).await
    }

    /// Removes the person with this email from the group.
    #[tracing::instrument(skip_all, fields(server = %config.server(), group = group_dn))]
    pub async fn revoke(
        &self,
        config: &LdapConfig,
        email: &str,
        group_dn: &str,
    ) -> Result<Outcome, LdapError> {
        self.change(config, email, group_dn, Change::Remove).await
    }

    /// Connects, binds and reads the base DN: what an admin's "test connection" needs.
    #[tracing::instrument(skip_all, fields(server = %config.server()))]
    pub async fn test_connection(&self, config: &LdapConfig) -> Result<(), LdapError> {
        let mut session = self.open(config).await?;
        let result = session.check_base(config).await;
        session.close().await;
        result
    }

    async fn change(
        &self,
        config: &LdapConfig,
        email: &str,
        group_dn: &str,
        change: Change,
    ) -> Result<Outcome, LdapError> {
        let group = parse_group_dn(group_dn).map_err(LdapError::InvalidGroupDn)?;
        let mut session = self.open(config).await?;
        let result = session.change(config, email, &group, change).await;
        session.close().await;
        if let Ok(outcome) = &result {
            tracing::info!(?change, ?outcome, "LDAP group membership");
        }
        result
    }

    /// Resolves the host under the address rule, connects to the first address that
    /// answers, sets up TLS as configured and binds.
    async fn open(&self, config: &LdapConfig) -> Result<Session, LdapError> {
        let server = config.server();
        let url = config.url();
        let host = match url.host() {
            Some(Host::Domain(name)) => name.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            None => {
                return Err(LdapError::Unreachable {
                    server,
                    reason: "the URL has no host".into(),
                });
            }
        };
        let addresses: Vec<IpAddr> = match self.resolver.resolve_checked(&host).await {
            Ok(addresses) => addresses,
            Err(e) => {
                let reason = e.to_string();
                return Err(if reason.contains("which is refused") {
                    LdapError::AddressRefused(reason)
                } else {
                    LdapError::Unreachable { server, reason }
                });
            }
        };
        let stream = self.connect_any(&server, &addresses, config.port()).await?;
        let stream = stream.into_std().map_err(|e| LdapError::Unreachable {
            server: server.clone(),
            reason: e.to_string(),
        })?;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(config.start_tls())
            .set_std_stream(ldap3::StdStream::Tcp(stream));
        let during = if config.start_tls() {
            START_TLS
        } else if url.scheme() == "ldaps" {
            TLS_HANDSHAKE
        } else {
            "connecting"
        };
        let (conn, ldap) = LdapConnAsync::from_url_with_settings(settings, url)
            .await
            .map_err(|e| self.transport_error(&server, during, e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        let mut session = Session {
            ldap,
            server,
            timeout: self.timeout,
        };
        session.bind(config).await?;
        Ok(session)
    }

    async fn connect_any(
        &self,
        server: &str,
        addresses: &[IpAddr],
        port: u16,
    ) -> Result<tokio::net::TcpStream, LdapError> {
        let mut last = String::from("no address to connect to");
        for ip in addresses {
            let address = SocketAddr::new(*ip, port);
            match tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(address)).await
            {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(e)) => last = format!("{address}: {e}"),
                Err(_) => last = format!("{address}: no answer within {:?}", self.timeout),
            }
        }
        Err(LdapError::Unreachable {
            server: server.to_owned(),
            reason: last,
        })
    }

    fn transport_error(
        &self,
        server: &str,
        during: &'static str,
        e: ldap3::LdapError,
    ) -> LdapError {
        transport_error(server, during, self.timeout, e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Add,
    Remove,
}

/// One bound connection.
struct Session {
    ldap: Ldap,
    server: String,
    timeout: Duration,
}

/// What was found for a person: the value that goes into the group.
struct Member {
    value: String,
}

impl Session {
    fn op(&mut self) -> &mut Ldap {
        self.ldap.with_timeout(self.timeout)
    }

    fn failed(&self, during: &'static str, e: ldap3::LdapError) -> LdapError {
        transport_error(&self.server, during, self.timeout, e)
    }

    async fn close(mut self) {
        // A failed unbind changes nothing: the work is done and the socket closes.
        let _ = self.op().unbind().await;
    }

    async fn bind(&mut self, config: &LdapConfig) -> Result<(), LdapError> {
        let result = self
            .op()
            .simple_bind(config.bind_dn().as_str(), config.bind_password())
            .await
            .map_err(|e| self.failed("the bind", e))?;
        match result.rc {
            0 => Ok(()),
            3 | 51 | 52 => Err(refused("the bind", &result)),
            code => Err(LdapError::BindRefused {
                bind_dn: config.bind_dn().to_string(),
                reason: format!("{} (result code {code})", code_name(code)),
            }),
        }
    }

    async fn check_base(&mut self, config: &LdapConfig) -> Result<(), LdapError> {
        let base = config.base_dn().as_str();
        let result = self
            .op()
            .search(base, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await
            .map_err(|e| self.failed("reading the base DN", e))?;
        match result.1.rc {
            0 => Ok(()),
            32 => Err(LdapError::BaseNotFound(base.to_owned())),
            _ => Err(refused("reading the base DN", &result.1)),
        }
    }

    /// Finds the one entry the filter matches and the value it has in the group.
    async fn find_member(&mut self, config: &LdapConfig, email: &str) -> Result<Member, LdapError> {
        let filter = config.filter_for(email);
        let base = config.base_dn().as_str();
        let attribute = if config.member_attribute().holds_dn() {
            "1.1" // no attributes, only the DN
        } else {
            "uid"
        };
        let result = self
            .op()
            .with_search_options(SearchOptions::new().sizelimit(2))
            .search(base, Scope::Subtree, &filter, vec![attribute])
            .await
            .map_err(|e| self.failed("searching for the person", e))?;
        let entries: Vec<Entry> = result.0.into_iter().filter_map(|e| entry(e.0)).collect();
        match result.1.rc {
            0 | 4 => {}
            32 => return Err(LdapError::BaseNotFound(base.to_owned())),
            _ => return Err(refused("searching for the person", &result.1)),
        }
        let entry = match entries.as_slice() {
            [] => {
                return Err(LdapError::UserNotFound {
                    filter,
                    base: base.to_owned(),
                });
            }
            [one] if result.1.rc == 0 => one,
            _ => {
                return Err(LdapError::AmbiguousUser {
                    filter,
                    base: base.to_owned(),
                });
            }
        };
        if config.member_attribute().holds_dn() {
            return Ok(Member {
                value: entry.dn.clone(),
            });
        }
        entry
            .values("uid")
            .next()
            .map(|uid| Member { value: uid })
            .ok_or_else(|| LdapError::NoUid(entry.dn.clone()))
    }

    /// Whether the group has the value; `None` when the server would not say, in which
    /// case the modification itself decides.
    async fn has_member(
        &mut self,
        group: &Dn,
        attribute: &'static str,
        value: &str,
    ) -> Result<Option<bool>, LdapError> {
        let result = self
            .op()
            .compare(group.as_str(), attribute, value)
            .await
            .map_err(|e| self.failed("checking the group", e))?;
        match result.0.rc {
            6 => Ok(Some(true)),
            // noSuchAttribute: the group has no members at all.
            5 | 16 => Ok(Some(false)),
            32 => Err(LdapError::GroupNotFound(group.to_string())),
            3 | 51 | 52 => Err(refused("checking the group", &result.0)),
            _ => Ok(None),
        }
    }

    async fn change(
        &mut self,
        config: &LdapConfig,
        email: &str,
        group: &Dn,
        change: Change,
    ) -> Result<Outcome, LdapError> {
        let member = self.find_member(config, email).await?;
        let attribute = config.member_attribute().as_str();
        // One compare is cheaper than a refused modify, and it names a missing group
        // before anything is written.
        let present = self.has_member(group, attribute, &member.value).await?;
        match (change, present) {
            (Change::Add, Some(true)) | (Change::Remove, Some(false)) => {
                return Ok(Outcome::AlreadyInPlace);
            }
            _ => {}
        }
        let values = HashSet::from([member.value.as_str()]);
        let (modification, during) = match change {
            Change::Add => (Mod::Add(attribute, values), "adding the member"),
            Change::Remove => (Mod::Delete(attribute, values), "removing the member"),
        };
        let result = self
            .op()
            .modify(group.as_str(), vec![modification])
            .await
            .map_err(|e| self.failed(during, e))?;
        // 20 and 16 also cover a change made by someone else since the compare;
        // Active Directory answers 68 to adding a member twice.
        match (change, result.rc) {
            (_, 0) => Ok(Outcome::Applied),
            (Change::Add, 20 | 68) | (Change::Remove, 16) => Ok(Outcome::AlreadyInPlace),
            (_, 32) => Err(LdapError::GroupNotFound(group.to_string())),
            (Change::Remove, 65) => Err(LdapError::LastMember {
                group: group.to_string(),
                attribute,
                member: member.value,
            }),
            _ => Err(refused(during, &result)),
        }
    }
}

/// A search result entry: its DN and attributes (values as text).
struct Entry {
    dn: String,
    attributes: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// The text values of an attribute, its name matched case-insensitively.
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = String> + 'a {
        self.attributes
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, values)| values.iter())
            .filter_map(|v| String::from_utf8(v.clone()).ok())
    }
}

/// Reads a SearchResultEntry (RFC 4511 §4.5.2) without trusting its shape: anything
/// else (a referral, a malformed answer) is skipped rather than a panic.
fn entry(tag: StructureTag) -> Option<Entry> {
    let mut parts = tag.match_id(4)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
    let mut attributes = Vec::new();
    for attribute in parts.next()?.expect_constructed()? {
        let mut pair = attribute.expect_constructed()?.into_iter();
        let name = String::from_utf8(pair.next()?.expect_primitive()?).ok()?;
        let values = pair
            .next()?
            .expect_constructed()?
            .into_iter()
            .filter_map(StructureTag::expect_primitive)
            .collect();
        attributes.push((name, values));
    }
    Some(Entry { dn, attributes })
}
