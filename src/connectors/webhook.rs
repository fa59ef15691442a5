//! Webhook connectors: signed HTTP calls per the Standard Webhooks specification
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`
//! over `id.timestamp.body`). The id is the outbox row's id, so it is the same on every
//! retry and receivers can drop duplicates.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::outbound::Outbound;
// Where the rule used to live; URL checks at save time still name it from here.
pub use super::outbound::is_private;

/// The HMAC key of a secret: `whsec_<base64>` secrets are decoded, others used as bytes.
fn key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` header value.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key(secret)) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Sends one signed call through the outbound guard; `Ok` on a 2xx answer, otherwise
/// the error to record (never the target's answer body).
pub async fn send(
    outbound: &Outbound,
    url: &str,
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<(), String> {
    let request = outbound
        .request(reqwest::Method::POST, url)
        .map_err(|e| e.to_string())?
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", sign(secret, id, timestamp, body))
        .body(body.to_vec());
    outbound
        .send(request)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // Test vector of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
