//! The webhook connector of a resource: its URL is checked when it is saved (delivery
//! checks the addresses again), and its secret is sealed at rest, bound to its tenant
//! and resource.

use std::net::IpAddr;
use std::time::Duration;

use sqlx::PgPool;
use url::{Host, Url};

use crate::connectors::webhook::is_private;
use crate::crypto::Keys;
use crate::db;
use crate::domain::ids::{ResourceId, TenantId};
use crate::services::ServiceResult;

const MAX_URL: usize = 2048;
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

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

fn private_target(host: &str) -> String {
    format!(
        "'{host}' is a loopback, private or link-local address; a webhook must reach a public address \
         (operators of closed networks can allow this with PORTICO_WEBHOOK_ALLOW_PRIVATE=true)"
    )
}

/// Checks a webhook URL: http(s) with a host, no credentials, and unless private
/// targets are allowed, a host that is not (and does not resolve only to) a
/// non-public address. Names that do not resolve now are accepted: delivery resolves
/// them again.
#[tracing::instrument(skip_all)]
pub async fn check_webhook_url(raw: &str, allow_private: bool) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("a webhook URL is required".into());
    }
    if raw.chars().count() > MAX_URL {
        return Err(format!("a webhook URL has at most {MAX_URL} characters"));
    }
    let url = Url::parse(raw).map_err(|e| {
        format!("'{raw}' is not a URL ({e}); write it like https://example.com/hooks/portico")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "a webhook URL starts with https:// or http://, not {}://",
            url.scheme()
        ));
    }
    let Some(host) = url.host() else {
        return Err("a webhook URL needs a host name".into());
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("put credentials in the connector secret, not in the URL".into());
    }
    if allow_private {
        return Ok(raw.to_string());
    }
    match host {
        Host::Ipv4(ip) if is_private(IpAddr::V4(ip)) => {
            return Err(private_target(&ip.to_string()));
        }
        Host::Ipv6(ip) if is_private(IpAddr::V6(ip)) => {
            return Err(private_target(&ip.to_string()));
        }
        Host::Ipv4(_) | Host::Ipv6(_) => {}
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(private_target(&name));
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
                        "'{name}' resolves to a loopback, private or otherwise non-public address; a webhook must reach a public address \
                         (operators of closed networks can allow this with PORTICO_WEBHOOK_ALLOW_PRIVATE=true)"
                    ));
                }
            }
        }
    }
    Ok(raw.to_string())
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
