//! Microsoft Teams: an Adaptive Card posted to a channel's incoming webhook (a
//! Workflows or connector URL the tenant admin copied from Teams), through the
//! outbound guard. The URL is the credential, so errors never repeat it.

use std::time::Duration;

use serde_json::Value;

use super::outbound::Outbound;

/// Posts `message` (a `message` with the card as its attachment); `Ok` on any 2xx.
pub async fn post(outbound: &Outbound, webhook_url: &str, message: &Value) -> Result<(), String> {
    let request = outbound
        .request(reqwest::Method::POST, webhook_url)
        .map_err(|e| format!("the Teams webhook: {e}"))?
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(message).unwrap_or_default());
    outbound
        .send(request)
        .await
        .map(drop)
        .map_err(|e| format!("the Teams webhook: {e}"))
}
