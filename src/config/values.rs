//! Parsers for values that several variables share: counts, bounded numbers, and
//! address lists.

use std::net::IpAddr;
use std::num::NonZeroU32;

use ipnet::IpNet;

use super::{SettingsError, bad};

/// `PORTICO_TRUSTED_PROXIES`: addresses (`10.0.0.5`) and ranges (`10.0.0.0/8`),
/// comma-separated.
pub(super) fn parse_trusted_proxies(value: &str) -> Result<Vec<IpNet>, SettingsError> {
    let mut nets = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let net = match (part.parse::<IpNet>(), part.parse::<IpAddr>()) {
            (Ok(net), _) => net.trunc(),
            (_, Ok(ip)) => IpNet::from(ip),
            _ => {
                return Err(bad(
                    "PORTICO_TRUSTED_PROXIES",
                    format!(
                        "'{part}' is not an IP address or range; write e.g. 10.0.0.5,192.168.0.0/16"
                    ),
                ));
            }
        };
        nets.push(net);
    }
    Ok(nets)
}

/// A positive count of at most a million, or the default when unset.
pub(super) fn parse_count(
    var: &'static str,
    value: Option<String>,
    default: NonZeroU32,
) -> Result<NonZeroU32, SettingsError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<NonZeroU32>()
            .ok()
            .filter(|n| n.get() <= 1_000_000)
            .ok_or_else(|| bad(var, format!("'{v}' is not a number from 1 to 1000000"))),
    }
}

/// A whole number from `range` in variable `var`, or `default` when it is not set.
pub(super) fn number_in(
    value: Option<String>,
    var: &'static str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
    unit: &str,
) -> Result<u64, SettingsError> {
    match value {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(bad(
                var,
                format!(
                    "'{v}' is not a number of {unit} from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}
