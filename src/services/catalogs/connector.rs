//! The connector of a resource: its settings are parsed into one `Connector` variant
//! per type, its address is checked when it is saved (delivery checks the addresses
//! again, through `Outbound`), and its secret (a webhook's signing secret, a SCIM
//! target's token, an LDAP bind password) is sealed at rest, bound to its tenant and resource, and never read
//! back out of this module but by delivery.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;
use url::{Host, Url};

use super::{load, resource_not_found};

use crate::connectors::ldap::{LdapConfig, LdapConfigInput, parse_group_dn};
use crate::connectors::webhook::is_private;
use crate::crypto::Keys;
use crate::db;
use crate::db::catalogs::Resource;
use crate::domain::FieldErrors;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::authz::{Action, Permit};
use crate::domain::connector::{Connector, ConnectorType, parse_token};
use crate::domain::ids::CatalogId;
use crate::domain::ids::{ResourceId, TenantId};
use crate::services::tx::Work;
use crate::services::{Caller, ServiceResult, validated};

const MAX_URL: usize = 2048;
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

pub const MIN_SECRET: usize = 16;
const MAX_SECRET: usize = 1024;

/// A connector as sent by a client: its type and the fields of that type. The secret
/// (`secret` of a webhook, `token` of a SCIM target, `bindPassword` of an LDAP
/// server) never leaves the service once stored.
#[derive(Clone)]
pub struct NewConnector {
    pub kind: ConnectorType,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub base_url: Option<String>,
    pub token: Option<String>,
    pub deactivate_on_last_revoke: Option<bool>,
    pub ldap: Option<NewLdap>,
}

/// The fields only an LDAP connector has (its URL is `url`).
#[derive(Clone, Default)]
pub struct NewLdap {
    pub start_tls: Option<bool>,
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    pub base_dn: Option<String>,
    pub user_filter: Option<String>,
    pub member_attribute: Option<String>,
}

impl NewConnector {
    /// A webhook connector to `url` signed with `secret`.
    pub fn webhook(url: Option<String>, secret: Option<String>) -> Self {
        Self {
            kind: ConnectorType::Webhook,
            url,
            secret,
            base_url: None,
            token: None,
            deactivate_on_last_revoke: None,
            ldap: None,
        }
    }
}

impl std::fmt::Debug for NewConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("NewConnector")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("secret", &redacted(&self.secret))
            .field("base_url", &self.base_url)
            .field("token", &redacted(&self.token))
            .field("deactivate_on_last_revoke", &self.deactivate_on_last_revoke)
            .field(
                "ldap",
                &self.ldap.as_ref().map(|l| {
                    (
                        &l.start_tls,
                        &l.bind_dn,
                        redacted(&l.bind_password),
                        &l.base_dn,
                        &l.user_filter,
                        &l.member_attribute,
                    )
                }),
            )
            .finish()
    }
}

/// A checked connector and its secret in plain text, to be sealed (`None`: keep the
/// one stored, when the caller allowed that).
pub struct CheckedConnector {
    pub connector: Connector,
    pub secret: Option<String>,
}

fn field(name: &str) -> String {
    format!("connector.{name}")
}

/// Parses a connector, adding every problem to `errors` under `connector.<field>`.
/// With `may_keep_secret`, a blank secret means "keep the stored one".
#[tracing::instrument(skip_all)]
pub async fn check_connector(
    input: &NewConnector,
    allow_private: bool,
    may_keep_secret: bool,
    errors: &mut FieldErrors,
) -> Option<CheckedConnector> {
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let misplaced =
        |errors: &mut FieldErrors, name: &str, value: &Option<String>, instead: &str| {
            if value.is_some() {
                errors.add(
                    field(name),
                    format!("a {} connector has no {name}; use {instead}", input.kind),
                );
            }
        };
    let before = errors.0.len();
    if input.kind != ConnectorType::Ldap && input.ldap.is_some() {
        errors.add(
            field("type"),
            format!(
                "bindDn, bindPassword, baseDn, userFilter, memberAttribute and startTls belong to an ldap connector, not a {} one",
                input.kind
            ),
        );
    }
    let (connector, secret) = match input.kind {
        ConnectorType::Webhook => {
            misplaced(errors, "baseUrl", &input.base_url, "url");
            misplaced(errors, "token", &input.token, "secret");
            if input.deactivate_on_last_revoke.is_some() {
                errors.add(
                    field("deactivateOnLastRevoke"),
                    "a webhook connector does not deactivate anyone; leave it out",
                );
            }
            let url = match input.url.as_deref() {
                None => {
                    errors.add(field("url"), "a webhook connector needs the URL to call");
                    None
                }
                Some(url) => match check_webhook_url(url, allow_private).await {
                    Ok(url) => Some(url),
                    Err(message) => {
                        errors.add(field("url"), message);
                        None
                    }
                },
            };
            let secret = match input.secret.as_deref() {
                _ if may_keep_secret && blank(&input.secret) => None,
                None => {
                    errors.add(
                        field("secret"),
                        format!("a webhook connector needs a signing secret of at least {MIN_SECRET} characters"),
                    );
                    None
                }
                Some(s) if s.chars().count() < MIN_SECRET => {
                    errors.add(
                        field("secret"),
                        format!("the secret must have at least {MIN_SECRET} characters"),
                    );
                    None
                }
                Some(s) if s.chars().count() > MAX_SECRET => {
                    errors.add(
                        field("secret"),
                        format!("the secret has at most {MAX_SECRET} characters"),
                    );
                    None
                }
                Some(s) => Some(s.to_string()),
            };
            (url.map(|url| Connector::Webhook { url }), secret)
        }
        ConnectorType::Scim => {
            misplaced(errors, "url", &input.url, "baseUrl");
            misplaced(errors, "secret", &input.secret, "token");
            let base_url = match input.base_url.as_deref() {
                None => {
                    errors.add(
                        field("baseUrl"),
                        "a SCIM connector needs the base URL of the target's SCIM 2.0 API (for example https://app.example.com/scim/v2)",
                    );
                    None
                }
                Some(raw) => match check_scim_base_url(raw, allow_private).await {
                    Ok(url) => Some(url),
                    Err(message) => {
                        errors.add(field("baseUrl"), message);
                        None
                    }
                },
            };
            let token = match input.token.as_deref() {
                _ if may_keep_secret && blank(&input.token) => None,
                None => {
                    errors.add(
                        field("token"),
                        "a SCIM connector needs the bearer token the target issued",
                    );
                    None
                }
                Some(raw) => match parse_token(raw) {
                    Ok(t) => Some(t.to_string()),
                    Err(message) => {
                        errors.add(field("token"), message);
                        None
                    }
                },
            };
            let connector = base_url.map(|base_url| Connector::Scim {
                base_url,
                deactivate_on_last_revoke: input.deactivate_on_last_revoke.unwrap_or(true),
            });
            (connector, token)
        }
        ConnectorType::Ldap => {
            misplaced(errors, "baseUrl", &input.base_url, "url");
            misplaced(errors, "secret", &input.secret, "bindPassword");
            misplaced(errors, "token", &input.token, "bindPassword");
            if input.deactivate_on_last_revoke.is_some() {
                errors.add(
                    field("deactivateOnLastRevoke"),
                    "an ldap connector only changes group memberships; leave it out",
                );
            }
            check_ldap(input, allow_private, may_keep_secret, errors).await
        }
    };
    if errors.0.len() > before {
        return None;
    }
    connector.map(|connector| CheckedConnector { connector, secret })
}

/// Stands in for a stored bind password while the other fields are checked.
const KEPT_PASSWORD: &str = "(the stored bind password)";

/// An LDAP connector: every field by `LdapConfig::parse` (its messages are at
/// `connector.<field>`), and the server's host by the address rule.
async fn check_ldap(
    input: &NewConnector,
    allow_private: bool,
    may_keep_secret: bool,
    errors: &mut FieldErrors,
) -> (Option<Connector>, Option<String>) {
    let ldap = input.ldap.clone().unwrap_or_default();
    let keep = may_keep_secret && ldap.bind_password.as_deref().is_none_or(|p| p.is_empty());
    let config = LdapConfigInput {
        url: input.url.clone(),
        start_tls: ldap.start_tls,
        bind_dn: ldap.bind_dn.clone(),
        bind_password: if keep {
            Some(KEPT_PASSWORD.to_string())
        } else {
            ldap.bind_password.clone()
        },
        base_dn: ldap.base_dn.clone(),
        user_filter: ldap.user_filter.clone(),
        member_attribute: ldap.member_attribute.clone(),
    };
    let parsed = match LdapConfig::parse(&config) {
        Ok(parsed) => parsed,
        Err(found) => {
            for (name, message) in found.0 {
                errors.add(name, message);
            }
            return (None, None);
        }
    };
    if let Err(message) = check_public_host(parsed.url(), allow_private, "LDAP server URL").await {
        errors.add(field("url"), message);
        return (None, None);
    }
    let secret = (!keep).then(|| parsed.bind_password().to_string());
    let url = parsed.url().as_str().trim_end_matches('/').to_string();
    let connector = Connector::Ldap {
        url,
        start_tls: parsed.start_tls(),
        bind_dn: parsed.bind_dn().to_string(),
        base_dn: parsed.base_dn().to_string(),
        user_filter: parsed.user_filter().to_string(),
        member_attribute: parsed.member_attribute().as_str().to_string(),
    };
    (Some(connector), secret)
}

/// The settings of a stored LDAP connector with its bind password, checked again
/// (`None` for another type).
#[tracing::instrument(skip_all)]
pub fn ldap_config(
    connector: &Connector,
    bind_password: &str,
) -> Option<Result<LdapConfig, String>> {
    let Connector::Ldap {
        url,
        start_tls,
        bind_dn,
        base_dn,
        user_filter,
        member_attribute,
    } = connector
    else {
        return None;
    };
    let input = LdapConfigInput {
        url: Some(url.clone()),
        start_tls: Some(*start_tls),
        bind_dn: Some(bind_dn.clone()),
        bind_password: Some(bind_password.to_string()),
        base_dn: Some(base_dn.clone()),
        user_filter: Some(user_filter.clone()),
        member_attribute: Some(member_attribute.clone()),
    };
    Some(LdapConfig::parse(&input).map_err(|errors| {
        let fields: Vec<String> = errors.0.into_keys().collect();
        format!(
            "the stored LDAP connector is not valid ({}); save it again on the resource's Delivery page",
            fields.join(", ")
        )
    }))
}

/// Checks a SCIM base URL like a webhook URL, without a query or fragment, and drops
/// a trailing slash (paths such as `/Users` are appended to it).
async fn check_scim_base_url(raw: &str, allow_private: bool) -> Result<String, String> {
    let url = check_target_url(raw, allow_private, "SCIM base URL").await?;
    let parsed = Url::parse(&url).map_err(|e| e.to_string())?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(
            "a SCIM base URL has no query or fragment; it ends where /Users and /Groups begin"
                .into(),
        );
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// What a resource's sealed connector secret is bound to.
pub fn connector_secret_context(tenant: TenantId, resource: ResourceId) -> String {
    format!("resources.connector_secret/{tenant}/{resource}")
}

/// Seals connector secrets written before they were sealed at rest (run at start-up;
/// a no-op once every secret is sealed).
#[tracing::instrument(skip_all)]
pub async fn seal_legacy_secrets(pool: &PgPool, keys: &Keys) -> ServiceResult<usize> {
    let mut conn = pool.acquire().await?;
    let rows = db::catalogs::unsealed_connector_secrets(&mut conn).await?;
    for (tenant, id, plain) in &rows {
        let sealed = keys.seal(plain, &connector_secret_context(*tenant, *id));
        db::catalogs::reseal_connector_secret(&mut conn, *tenant, *id, plain, &sealed).await?;
    }
    Ok(rows.len())
}

/// Sets, replaces or removes (`None`) the connector of a non-group resource (its
/// editors). A blank secret keeps the stored one while the type stays the same. Calls
/// already queued go to the connector as it is when they are sent.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog_id, id = %id))]
pub async fn update_connector(
    pool: &PgPool,
    caller: &Caller,
    catalog_id: CatalogId,
    id: ResourceId,
    input: Option<NewConnector>,
    allow_private: bool,
    keys: &Keys,
    now: DateTime<Utc>,
) -> ServiceResult<Resource> {
    let mut work = Work::begin(pool, caller.tenant_id(), now).await?;
    let (out, permit) = update_connector_in(
        &mut work,
        caller,
        catalog_id,
        id,
        input,
        allow_private,
        keys,
    )
    .await?;
    work.commit(caller.permitted(permit)).await?;
    Ok(out)
}

/// `update_connector`, inside a larger unit of work (its caller commits).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog_id, id = %id))]
pub(crate) async fn update_connector_in(
    work: &mut Work,
    caller: &Caller,
    catalog_id: CatalogId,
    id: ResourceId,
    input: Option<NewConnector>,
    allow_private: bool,
    keys: &Keys,
) -> ServiceResult<(Resource, Permit)> {
    let now = work.now();
    let tenant = caller.tenant_id();
    let resource = {
        let conn = work.conn();
        load(conn, tenant, catalog_id).await?;
        db::catalogs::get_resource(conn, tenant, catalog_id, id)
            .await?
            .ok_or_else(resource_not_found)?
    };
    let permit = caller.require(Action::EditCatalog(catalog_id))?;
    let mut errors = FieldErrors::new();
    if resource.group_id.is_some() && input.is_some() {
        errors.add(
            "connector",
            "group resources are delivered directly into the group and take no connector",
        );
    }
    let before = resource.connector.clone();
    let same_type = |c: &NewConnector| before.as_ref().is_some_and(|b| b.kind() == c.kind);
    let checked = match &input {
        Some(c) => check_connector(c, allow_private, same_type(c), &mut errors).await,
        None => None,
    };
    if input
        .as_ref()
        .is_some_and(|c| c.kind == ConnectorType::Ldap)
    {
        let conn = work.conn();
        let roles = db::catalogs::roles_of_resources(conn, tenant, &[id]).await?;
        for role in &roles {
            let value = role.connector_value.as_deref().unwrap_or_default();
            if let Err(e) = parse_group_dn(value) {
                errors.add(
                    "connector",
                    format!(
                        "the role '{}' means '{value}' in the target, which an LDAP connector cannot use ({e}); an LDAP role's connector value is its group's DN, like cn=editors,ou=groups,dc=example,dc=com",
                        role.display_name
                    ),
                );
            }
        }
    }
    validated(errors)?;
    let context = connector_secret_context(tenant, id);
    let (connector, sealed, replaced) = match checked {
        None => (None, None, false),
        Some(CheckedConnector {
            connector,
            secret: Some(plain),
        }) => (Some(connector), Some(keys.seal(&plain, &context)), true),
        Some(CheckedConnector {
            connector,
            secret: None,
        }) => (Some(connector), resource.connector_secret.clone(), false),
    };
    // Removed while this change was being checked: 404 rather than a silent no-op.
    db::catalogs::get_resource(work.conn(), tenant, catalog_id, id)
        .await?
        .ok_or_else(resource_not_found)?;
    db::catalogs::set_connector(
        work.conn(),
        tenant,
        id,
        connector.as_ref(),
        sealed.as_deref(),
        now,
    )
    .await?;
    work.audit(
        AuditAction::ResourceConnectorChanged,
        Target::Resource(id),
        json!({"before": before, "after": connector, "credentialReplaced": replaced}),
    );
    Ok((
        Resource {
            connector,
            connector_secret: None,
            updated_at: now,
            ..resource
        },
        permit,
    ))
}

fn private_target(host: &str, what: &str) -> String {
    format!(
        "'{host}' is a loopback, private or link-local address; a {what} must reach a public address \
         (operators of closed networks can allow this with PORTICO_WEBHOOK_ALLOW_PRIVATE=true)"
    )
}

/// Checks a webhook URL: http(s) with a host, no credentials, and unless private
/// targets are allowed, a host that is not (and does not resolve only to) a
/// non-public address. Names that do not resolve now are accepted: delivery resolves
/// them again.
#[tracing::instrument(skip_all)]
pub async fn check_webhook_url(raw: &str, allow_private: bool) -> Result<String, String> {
    check_target_url(raw, allow_private, "webhook URL").await
}

/// The rule of `check_webhook_url` for any connector address; messages name `what`.
async fn check_target_url(raw: &str, allow_private: bool, what: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(format!("a {what} is required"));
    }
    if raw.chars().count() > MAX_URL {
        return Err(format!("a {what} has at most {MAX_URL} characters"));
    }
    let url = Url::parse(raw).map_err(|e| {
        format!("'{raw}' is not a URL ({e}); write it like https://example.com/hooks/portico")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "a {what} starts with https:// or http://, not {}://",
            url.scheme()
        ));
    }
    if url.host().is_none() {
        return Err(format!("a {what} needs a host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("put credentials in the connector secret, not in the URL".into());
    }
    check_public_host(&url, allow_private, what).await?;
    Ok(raw.to_string())
}

/// Unless private targets are allowed, refuses a URL whose host is (or resolves, now,
/// to) a non-public address. Names that do not resolve now are accepted: delivery
/// resolves them again.
async fn check_public_host(url: &Url, allow_private: bool, what: &str) -> Result<(), String> {
    let Some(host) = url.host() else {
        return Err(format!("a {what} needs a host name"));
    };
    if allow_private {
        return Ok(());
    }
    match host {
        Host::Ipv4(ip) if is_private(IpAddr::V4(ip)) => {
            return Err(private_target(&ip.to_string(), what));
        }
        Host::Ipv6(ip) if is_private(IpAddr::V6(ip)) => {
            return Err(private_target(&ip.to_string(), what));
        }
        Host::Ipv4(_) | Host::Ipv6(_) => {}
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(private_target(&name, what));
            }
            let port = url.port_or_known_default().unwrap_or(443);
            if let Ok(Ok(addrs)) = tokio::time::timeout(
                RESOLVE_TIMEOUT,
                tokio::net::lookup_host((name.as_str(), port)),
            )
            .await
            {
                let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                // As at delivery: one non-public answer refuses the name.
                if ips.iter().any(|ip| is_private(*ip)) {
                    return Err(format!(
                        "'{name}' resolves to a loopback, private or otherwise non-public address; a {what} must reach a public address \
                         (operators of closed networks can allow this with PORTICO_WEBHOOK_ALLOW_PRIVATE=true)"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn loopback_private_link_local_and_unspecified_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip(a)), "{a} should not be public");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(ip(a)), "{a} should be public");
        }
    }

    #[tokio::test]
    async fn webhook_urls_must_be_http_with_a_public_host() {
        for bad in [
            "",
            "not a url",
            "ftp://example.com/x",
            "http://localhost:8080/hook",
            "http://api.localhost/hook",
            "http://127.0.0.1/hook",
            "http://[::1]/hook",
            "http://0x7f.1/hook",
            "https://user:pw@93.184.216.34/hook",
        ] {
            assert!(
                check_webhook_url(bad, false).await.is_err(),
                "{bad} should be refused"
            );
        }
        assert!(
            check_webhook_url("https://93.184.216.34/hook", false)
                .await
                .is_ok()
        );
        assert!(
            check_webhook_url("http://127.0.0.1:9/hook", true)
                .await
                .is_ok()
        );
        assert!(
            check_webhook_url("ftp://127.0.0.1/hook", true)
                .await
                .is_err()
        );
    }
}
