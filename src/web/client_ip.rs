//! The address a request came from, for limits that must hit the sender and nobody
//! else. `X-Forwarded-For` is believed only when the peer is one of the operator's
//! proxies (`PORTICO_TRUSTED_PROXIES`); from anyone else it is ignored, since a client
//! can write any address there and so pick whose limit it spends.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

use crate::state::AppState;

/// The client behind a connection from `peer` that carried `forwarded_for` (the
/// `X-Forwarded-For` values, in header order). When the peer is a trusted proxy, the
/// client is the right-most listed address that is not a trusted proxy: each proxy
/// appends the address it heard from, so entries left of the first untrusted one are
/// the client's own say and cannot be believed. Otherwise, and whenever the list
/// offers nothing usable, the client is the peer.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .collect();
    for entry in entries.into_iter().rev() {
        match parse_entry(entry) {
            Some(ip) if is_trusted(&ip) => continue,
            Some(ip) => return ip,
            // A trusted proxy wrote something unreadable: nothing further left is known.
            None => return peer,
        }
    }
    peer
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client address of a request, from its connection and headers.
pub fn of_request(
    extensions: &Extensions,
    headers: &HeaderMap,
    state: &AppState,
) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    Some(client_address(
        peer,
        forwarded,
        &state.settings().trusted_proxies,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("net")).collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let client = client_address(ip("203.0.113.9"), ["198.51.100.1"], &[]);
        assert_eq!(client, ip("203.0.113.9"));
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        let client = client_address(ip("203.0.113.9"), ["10.0.0.1, 198.51.100.1"], &trusted);
        assert_eq!(client, ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client put a made-up address first; the proxies appended what they saw.
        let client = client_address(
            ip("10.0.0.2"),
            ["1.2.3.4, 198.51.100.7", "192.168.1.1"],
            &trusted,
        );
        assert_eq!(client, ip("198.51.100.7"));
        let single = client_address(ip("10.0.0.2"), ["198.51.100.7"], &trusted);
        assert_eq!(single, ip("198.51.100.7"));
    }

    #[test]
    fn entries_with_ports_and_mapped_addresses_are_read() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("::ffff:10.0.0.2"), ["198.51.100.7:5123"], &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), ["[2001:db8::5]:443"], &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), ["::ffff:198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_list_of_only_proxies_or_garbage_leaves_the_peer() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(client_address(ip("10.0.0.2"), [], &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_address(ip("10.0.0.2"), ["10.0.0.9, 10.0.0.3"], &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), ["198.51.100.7, unknown"], &trusted),
            ip("10.0.0.2")
        );
    }
}
