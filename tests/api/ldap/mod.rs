//! The LDAP connector against a real OpenLDAP server (`helpers::slapd`): grants and
//! revokes on the three kinds of group, the answers that are already in place, the
//! errors an admin reads (and which of them the outbox retries), and filter escaping
//! against the server's own matching.

mod errors;
mod membership;
mod tls;

use portico::connectors::ldap::LdapConnector;

/// Private addresses allowed: the test server is on 127.0.0.1.
fn connector() -> LdapConnector {
    LdapConnector::new(true)
}
