//! The one door for calls Portico makes to other systems: webhook connectors today, and
//! every later caller (SCIM, LDAP, chat, custom extensions) through the same `Outbound`.
//!
//! Invariant: unless the operator sets `PORTICO_WEBHOOK_ALLOW_PRIVATE`, a call reaches
//! only public addresses. A host name is resolved exactly once, by `GuardedResolver`,
//! which refuses the whole lookup when any answer is not public, and the connection goes
//! to the addresses it checked, so a DNS answer that changes between check and connect
//! (rebinding) cannot slip through. Literal IP hosts never reach a resolver, so
//! `Outbound::request` checks them before a request exists. Redirects and environment
//! proxies are off: either would let someone else pick the address. What the target
//! answers is reduced to its status code; its body is never read into errors, so an
//! internal page cannot be read back through the outbox.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// How long a name may take to resolve before the call fails.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The hint every refusal carries, so an operator of a closed network knows the way out.
const ALLOW_HINT: &str =
    "operators of closed networks can allow this with PORTICO_WEBHOOK_ALLOW_PRIVATE=true";

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// IPv4 ranges that are not the public internet (RFC 6890 and friends).
const NOT_PUBLIC_V4: &[Ipv4Net] = &[
    v4(0, 0, 0, 0, 8),       // "this network", includes 0.0.0.0
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // shared address space (carrier-grade NAT)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local, cloud metadata services
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation (TEST-NET-1)
    v4(192, 88, 99, 0, 24),  // 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation (TEST-NET-2)
    v4(203, 0, 113, 0, 24),  // documentation (TEST-NET-3)
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, includes broadcast 255.255.255.255
];

/// Only global unicast (2000::/3) can be a public IPv6 address. Everything outside it
/// is refused, which covers IPv4-compatible ::/96 (with :: and ::1), NAT64 64:ff9b::/96
/// and 64:ff9b:1::/48, discard 100::/64, unique-local fc00::/7, link-local fe80::/10,
/// site-local fec0::/10 and multicast ff00::/8.
const GLOBAL_UNICAST_V6: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// Parts of 2000::/3 that are still not a public host.
const NOT_PUBLIC_V6: &[Ipv6Net] = &[
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments, Teredo 2001::/32
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), // 6to4: the IPv4 host inside is reached by relays
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation
];

/// Whether an address is one an outbound call must not reach. An IPv4-mapped address
/// (`::ffff:a.b.c.d`) is the IPv4 host itself to a dual-stack socket, so it is judged
/// as that host. The other ranges that embed an IPv4 address (NAT64, 6to4,
/// IPv4-compatible) are refused whole: whichever translator is on the path decides
/// where they lead, not the address itself.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => NOT_PUBLIC_V4.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private(IpAddr::V4(v4)),
            None => {
                !GLOBAL_UNICAST_V6.contains(&v6) || NOT_PUBLIC_V6.iter().any(|n| n.contains(&v6))
            }
        },
    }
}

/// Why a call was not made or did not succeed, in Portico's words: recorded on outbox
/// rows and shown to admins, so it never carries what the target sent back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CallError(String);

impl CallError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A refusal by the address rule. It travels through reqwest's error chain as the
/// resolver's error and is found again by `describe`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

fn refused_host(host: &str) -> Refused {
    Refused(format!(
        "'{host}' resolves to a loopback, private, link-local or otherwise non-public address, which is refused ({ALLOW_HINT})"
    ))
}

/// Looks a name up; the default asks the system resolver, tests inject their own.
pub type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> + Send + Sync,
>;

/// The resolver of the outbound client: resolves once, checks every address, and hands
/// reqwest only checked addresses (or nothing at all).
#[derive(Clone)]
pub struct GuardedResolver {
    allow_private: bool,
    lookup: Lookup,
}

impl GuardedResolver {
    /// Resolves with the system resolver (getaddrinfo, so /etc/hosts counts).
    pub fn system(allow_private: bool) -> Self {
        Self::with_lookup(
            allow_private,
            Arc::new(|name: String| {
                Box::pin(async move {
                    Ok(tokio::net::lookup_host((name.as_str(), 0))
                        .await?
                        .map(|a| a.ip())
                        .collect())
                })
            }),
        )
    }

    pub fn with_lookup(allow_private: bool, lookup: Lookup) -> Self {
        Self {
            allow_private,
            lookup,
        }
    }

    /// The addresses of `host`, all of them public unless private targets are allowed.
    /// One non-public answer refuses the whole name: connecting to the others would
    /// still let whoever controls the zone aim at an internal host on a retry.
    pub async fn resolve_checked(&self, host: &str) -> Result<Vec<IpAddr>, CallError> {
        let looked_up = tokio::time::timeout(RESOLVE_TIMEOUT, (self.lookup)(host.to_string()))
            .await
            .map_err(|_| CallError::new(format!("resolving '{host}' took too long")))?
            .map_err(|_| CallError::new(format!("the host '{host}' cannot be resolved")))?;
        if looked_up.is_empty() {
            return Err(CallError::new(format!(
                "the host '{host}' resolves to no address"
            )));
        }
        if !self.allow_private && looked_up.iter().any(|ip| is_private(*ip)) {
            return Err(CallError(refused_host(host).0));
        }
        Ok(looked_up)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            match this.resolve_checked(&host).await {
                Ok(ips) => {
                    // Port 0 tells reqwest to use the URL's port.
                    let addrs = ips.into_iter().map(|ip| SocketAddr::new(ip, 0));
                    Ok(Box::new(addrs.collect::<Vec<_>>().into_iter()) as Addrs)
                }
                Err(e) => Err(Box::new(Refused(e.0)) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// The client for every outbound call. Cheap to clone; the raw reqwest client stays
/// inside so no caller can skip the checks.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    /// The client of a running server: system resolver behind the address rule.
    pub fn new(allow_private: bool) -> anyhow::Result<Self> {
        Self::with_resolver(GuardedResolver::system(allow_private))
    }

    /// A client with its own resolver (tests inject DNS answers this way).
    pub fn with_resolver(resolver: GuardedResolver) -> anyhow::Result<Self> {
        let allow_private = resolver.allow_private;
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(resolver))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("Portico/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// Checks a target URL as far as can be done without resolving it: http(s), a host,
    /// and, for a literal IP (which reqwest connects to without asking the resolver),
    /// a public one.
    pub fn check_url(&self, raw: &str) -> Result<Url, CallError> {
        let url = Url::parse(raw).map_err(|e| CallError::new(format!("invalid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CallError::new(
                "the URL must start with http:// or https://",
            ));
        }
        let literal = match url.host() {
            None => return Err(CallError::new("the URL needs a host")),
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        };
        if let Some(ip) = literal
            && !self.allow_private
            && is_private(ip)
        {
            return Err(CallError::new(format!(
                "{ip} is a loopback, private, link-local or otherwise non-public address, which is refused ({ALLOW_HINT})"
            )));
        }
        Ok(url)
    }

    /// A request to `url`, or why it may not be made.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, CallError> {
        let url = self.check_url(url)?;
        Ok(self.client.request(method, url))
    }

    /// Sends a request built by `request`. A 2xx answer is returned for the caller to
    /// read; any other status becomes an error naming only the status.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CallError> {
        let response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else {
            // Dropped unread: the body is the target's to keep.
            Err(answered(status))
        }
    }
}

impl Outbound {
    /// Sends a request given as an `http::Request` (the OpenID Connect client's form)
    /// and returns the answer whatever its status, with at most `limit` bytes of body:
    /// OAuth 2.0 endpoints say what went wrong in the body, and the caller reads only
    /// the protocol's fields from it. The address rule applies as to every call.
    pub async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
        limit: usize,
    ) -> Result<http::Response<Vec<u8>>, CallError> {
        let (parts, body) = request.into_parts();
        let url = self.check_url(&parts.uri.to_string())?;
        let mut builder = self.client.request(parts.method, url).body(body);
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if bytes.len() + chunk.len() > limit {
                return Err(CallError::new("the answer is larger than Portico accepts"));
            }
            bytes.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(bytes);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

fn answered(status: reqwest::StatusCode) -> CallError {
    match status.canonical_reason() {
        Some(reason) => CallError::new(format!("the target answered {} {reason}", status.as_u16())),
        None => CallError::new(format!("the target answered {}", status.as_u16())),
    }
}

/// Portico's words for a failed send. reqwest's own messages are not used: they name
/// the URL (which may carry a token in its query) and are written for developers.
fn describe(e: &reqwest::Error) -> CallError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut io_kind = None;
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return CallError::new(refused.0.clone());
        }
        if let Some(io) = err.downcast_ref::<io::Error>() {
            io_kind = Some(io.kind());
        }
        source = err.source();
    }
    if e.is_timeout() {
        CallError::new("the target did not answer in time")
    } else if e.is_connect() {
        match io_kind {
            Some(kind) => CallError::new(format!("cannot connect to the target ({kind})")),
            None => CallError::new("cannot connect to the target"),
        }
    } else if e.is_redirect() {
        CallError::new("the target answered with a redirect, which is not followed")
    } else {
        CallError::new("the call to the target failed before an answer arrived")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn fixed(ips: &'static [&'static str], calls: Arc<AtomicUsize>) -> Lookup {
        Arc::new(move |_name| {
            calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Ok(ips.iter().map(|s| ip(s)).collect()) })
        })
    }

    #[test]
    fn every_non_public_range_is_refused_at_both_ends() {
        for a in [
            // The ranges refused before.
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.0",
            "172.31.255.255",
            "192.168.0.1",
            "::",
            "::1",
            "fc00::",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1",
            "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            // Benchmarking 198.18.0.0/15.
            "198.18.0.0",
            "198.19.255.255",
            // Reserved 240.0.0.0/4 and broadcast.
            "240.0.0.0",
            "255.255.255.254",
            "255.255.255.255",
            // Multicast 224.0.0.0/4.
            "224.0.0.0",
            "239.255.255.255",
            // IETF protocol assignments, documentation, 6to4 relay.
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.255",
            "192.88.99.1",
            // IPv4-compatible ::/96, with a public and a private IPv4 inside.
            "::8.8.8.8",
            "::127.0.0.1",
            "::ffff:ffff",
            // IPv4-mapped: judged by the IPv4 address inside.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:198.18.0.1",
            // NAT64 64:ff9b::/96 (and the local-use 64:ff9b:1::/48).
            "64:ff9b::",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b::ffff:ffff",
            "64:ff9b:1::1",
            // 6to4 2002::/16.
            "2002::",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            // Site-local fec0::/10.
            "fec0::",
            "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            // IPv6 multicast, discard, Teredo, documentation.
            "ff02::1",
            "ff0e::1",
            "100::1",
            "2001::1",
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db8::1",
            "3fff::1",
        ] {
            assert!(is_private(ip(a)), "{a} must be refused");
        }
    }

    #[test]
    fn public_addresses_next_to_refused_ranges_are_allowed() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "2001:200::1",
            "2001:4860:4860::8888",
            "2001:db9::1",
            "2003::1",
            "2606:4700::1111",
            "3ffe:ffff::1",
            "3fff:1000::1",
        ] {
            assert!(!is_private(ip(a)), "{a} must be allowed");
        }
    }

    #[test]
    fn literal_ip_hosts_are_checked_before_a_request_exists() {
        let out = Outbound::new(false).expect("client");
        for url in [
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[64:ff9b::a00:1]/hook",
            "http://[2002:a00:1::1]/hook",
            // The URL parser reads these as 127.0.0.1 and 10.0.0.1.
            "http://2130706433/hook",
            "http://0x0a.0.0.1/hook",
            "http://198.18.0.1/hook",
            "http://[fec0::1]/hook",
        ] {
            let e = out
                .request(reqwest::Method::POST, url)
                .err()
                .unwrap_or_else(|| panic!("{url} must be refused"));
            assert!(e.to_string().contains("refused"), "{url}: {e}");
        }
        assert!(
            out.request(reqwest::Method::POST, "http://8.8.8.8/hook")
                .is_ok()
        );
        assert!(
            out.request(reqwest::Method::POST, "ftp://example.com/x")
                .is_err()
        );
        let open = Outbound::new(true).expect("client");
        assert!(
            open.request(reqwest::Method::POST, "http://127.0.0.1:9/hook")
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_name_with_any_private_answer_is_refused_whole() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver =
            GuardedResolver::with_lookup(false, fixed(&["93.184.216.34", "10.0.0.7"], calls));
        let e = resolver
            .resolve_checked("hooks.example.com")
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("'hooks.example.com'"), "{e}");
        assert!(
            !e.to_string().contains("10.0.0.7"),
            "internal addresses are not told"
        );
        let calls = Arc::new(AtomicUsize::new(0));
        let public = GuardedResolver::with_lookup(false, fixed(&["93.184.216.34"], calls));
        assert_eq!(
            public
                .resolve_checked("hooks.example.com")
                .await
                .expect("public"),
            vec![ip("93.184.216.34")]
        );
    }

    #[tokio::test]
    async fn the_system_resolver_refuses_localhost() {
        let resolver = GuardedResolver::system(false);
        assert!(resolver.resolve_checked("localhost").await.is_err());
        let open = GuardedResolver::system(true);
        let ips = open.resolve_checked("localhost").await.expect("allowed");
        assert!(ips.iter().all(|ip| ip.is_loopback()));
    }

    /// A receiver on loopback that counts its calls and answers 204.
    async fn receiver() -> (u16, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { axum::http::StatusCode::NO_CONTENT }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (port, hits)
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_never_connected_to() {
        let (port, hits) = receiver().await;
        let lookups = Arc::new(AtomicUsize::new(0));
        let out = Outbound::with_resolver(GuardedResolver::with_lookup(
            false,
            fixed(&["127.0.0.1"], lookups.clone()),
        ))
        .expect("client");
        let request = out
            .request(
                reqwest::Method::POST,
                &format!("http://rebind.portico.test:{port}/hook"),
            )
            .expect("a name passes the literal check");
        let e = out.send(request).await.expect_err("refused");
        assert!(e.to_string().contains("'rebind.portico.test'"), "{e}");
        assert!(e.to_string().contains("refused"), "{e}");
        assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the target");
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_connection_goes_to_the_address_the_resolver_checked() {
        // The name exists nowhere but in the injected lookup; reaching the receiver
        // proves reqwest connects to what the guard returned instead of resolving again.
        let (port, hits) = receiver().await;
        let lookups = Arc::new(AtomicUsize::new(0));
        let out = Outbound::with_resolver(GuardedResolver::with_lookup(
            true,
            fixed(&["127.0.0.1"], lookups.clone()),
        ))
        .expect("client");
        let request = out
            .request(
                reqwest::Method::POST,
                &format!("http://hooks.portico.test:{port}/hook"),
            )
            .expect("request");
        out.send(request).await.expect("delivered");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(lookups.load(Ordering::SeqCst), 1, "resolved once");
    }

    #[test]
    fn a_failed_status_is_named_without_the_body() {
        assert_eq!(
            answered(reqwest::StatusCode::INTERNAL_SERVER_ERROR).to_string(),
            "the target answered 500 Internal Server Error"
        );
        assert_eq!(
            answered(reqwest::StatusCode::from_u16(599).expect("status")).to_string(),
            "the target answered 599"
        );
    }
}
