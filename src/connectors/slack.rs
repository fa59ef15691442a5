//! Slack: the Web API calls Portico makes with a tenant's bot token (through the
//! outbound guard, at `PORTICO_SLACK_API_URL`), and the check of Slack's request
//! signature on interactions (`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with
//! the signing secret, the timestamp within five minutes, compared in constant time).
//!
//! What Slack answers is reduced to its `ok` flag, the fields Portico reads and its
//! error code (a short word such as `users_not_found`), never more of the body.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::outbound::Outbound;

/// How far Slack's timestamp may be from Portico's clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// The largest answer read from Slack.
const MAX_ANSWER: usize = 1024 * 1024;

/// Why a request did not come from Slack (as far as Portico can tell).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request carries no X-Slack-Request-Timestamp")]
    NoTimestamp,
    #[error("the request's timestamp is more than five minutes from Portico's clock")]
    Stale,
    #[error("the request's X-Slack-Signature does not match its body")]
    Mismatch,
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    Some(mac)
}

/// The `X-Slack-Signature` Slack sends for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    mac(secret, timestamp, body).map_or_else(String::new, |m| {
        format!("v0={}", hex::encode(m.finalize().into_bytes()))
    })
}

/// Checks a request's signature at `now` (Unix seconds).
pub fn verify(
    secret: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::NoTimestamp)?;
    if (now - ts).abs() > MAX_SKEW_SECONDS {
        return Err(SignatureError::Stale);
    }
    let sent = signature
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Mismatch)?;
    let mac = mac(secret, timestamp, body).ok_or(SignatureError::Mismatch)?;
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sent)
        .map_err(|_| SignatureError::Mismatch)
}

/// Why a call did not succeed, and whether trying again may help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// Slack was unreachable, slow, rate-limiting or failing: try again later.
    #[error("{0}")]
    Transient(String),
    /// Slack refused the call (bad token, missing scope, unknown channel): trying again
    /// will not help until someone changes something.
    #[error("{0}")]
    Permanent(String),
}

/// Slack's error codes that mean "try again later".
const TRANSIENT: [&str; 6] = [
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
];

/// Keeps only what an error code is made of, so a recorded error is Slack's word.
fn code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

/// A Slack workspace as the tenant's bot sees it.
pub struct Slack<'a> {
    outbound: &'a Outbound,
    api: &'a str,
    token: &'a str,
}

enum Body<'a> {
    Json(Value),
    Form(&'a [(&'a str, &'a str)]),
}

impl<'a> Slack<'a> {
    pub fn new(outbound: &'a Outbound, api: &'a str, token: &'a str) -> Self {
        Self {
            outbound,
            api,
            token,
        }
    }

    async fn call(&self, method: &str, body: Body<'_>) -> Result<Value, SlackError> {
        let url = format!("{}/{method}", self.api.trim_end_matches('/'));
        let request = self
            .outbound
            .request(reqwest::Method::POST, &url)
            .map_err(|e| SlackError::Permanent(format!("Slack's Web API: {e}")))?
            .timeout(Duration::from_secs(10))
            .bearer_auth(self.token);
        let request = match body {
            Body::Json(v) => request
                .header("content-type", "application/json; charset=utf-8")
                .body(serde_json::to_vec(&v).unwrap_or_default()),
            Body::Form(pairs) => request.form(pairs),
        };
        let response = self
            .outbound
            .send(request)
            .await
            .map_err(|e| SlackError::Transient(format!("Slack {method}: {e}")))?;
        let bytes = response
            .bytes()
            .await
            .map_err(|_| SlackError::Transient(format!("Slack {method}: the answer broke off")))?;
        if bytes.len() > MAX_ANSWER {
            return Err(SlackError::Transient(format!(
                "Slack {method}: the answer is larger than Portico accepts"
            )));
        }
        let answer: Value = serde_json::from_slice(&bytes).map_err(|_| {
            SlackError::Transient(format!("Slack {method}: the answer is not JSON"))
        })?;
        if answer["ok"].as_bool() == Some(true) {
            return Ok(answer);
        }
        let error = code(answer["error"].as_str().unwrap_or("unknown_error"));
        let message = format!("Slack {method} answered {error}");
        if TRANSIENT.contains(&error.as_str()) {
            Err(SlackError::Transient(message))
        } else {
            Err(SlackError::Permanent(message))
        }
    }

    /// The Slack user with this email address; `None` when the workspace has nobody
    /// with it (`users_not_found`).
    pub async fn lookup_by_email(&self, email: &str) -> Result<Option<String>, SlackError> {
        match self
            .call("users.lookupByEmail", Body::Form(&[("email", email)]))
            .await
        {
            Ok(answer) => Ok(answer["user"]["id"].as_str().map(String::from)),
            Err(SlackError::Permanent(e)) if e.ends_with("users_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The email address of a Slack user, when the bot may read it (`users:read.email`).
    pub async fn email_of(&self, user: &str) -> Result<Option<String>, SlackError> {
        let answer = self
            .call("users.info", Body::Form(&[("user", user)]))
            .await?;
        Ok(answer["user"]["profile"]["email"]
            .as_str()
            .map(String::from))
    }

    /// Posts a message; a user id as `channel` opens the bot's direct message with
    /// them. Returns the message's `(channel, ts)`.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(String, String), SlackError> {
        let answer = self
            .call(
                "chat.postMessage",
                Body::Json(json!({"channel": channel, "text": text, "blocks": blocks})),
            )
            .await?;
        match (answer["channel"].as_str(), answer["ts"].as_str()) {
            (Some(c), Some(ts)) => Ok((c.to_string(), ts.to_string())),
            _ => Err(SlackError::Transient(
                "Slack chat.postMessage answered without the message's channel and ts".into(),
            )),
        }
    }

    /// Replaces a message Portico posted.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &Value,
    ) -> Result<(), SlackError> {
        self.call(
            "chat.update",
            Body::Json(json!({"channel": channel, "ts": ts, "text": text, "blocks": blocks})),
        )
        .await
        .map(drop)
    }

    /// A message only `user` sees, in `channel`.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), SlackError> {
        self.call(
            "chat.postEphemeral",
            Body::Json(json!({"channel": channel, "user": user, "text": text})),
        )
        .await
        .map(drop)
    }

    /// Opens a modal for the person who clicked (the trigger lives three seconds).
    pub async fn open_view(&self, trigger_id: &str, view: &Value) -> Result<(), SlackError> {
        self.call(
            "views.open",
            Body::Json(json!({"trigger_id": trigger_id, "view": view})),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Slack's "Verifying requests from Slack".
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn signs_slacks_published_example() {
        assert_eq!(sign(SECRET, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
    }

    #[test]
    fn accepts_slacks_published_example_within_five_minutes() {
        for now in [1531420618, 1531420618 + 300, 1531420618 - 300] {
            assert_eq!(
                verify(SECRET, TIMESTAMP, BODY.as_bytes(), SIGNATURE, now),
                Ok(())
            );
        }
    }

    #[test]
    fn refuses_a_stale_timestamp_even_with_a_good_signature() {
        for now in [1531420618 + 301, 1531420618 - 301] {
            assert_eq!(
                verify(SECRET, TIMESTAMP, BODY.as_bytes(), SIGNATURE, now),
                Err(SignatureError::Stale)
            );
        }
    }

    #[test]
    fn refuses_a_changed_body_secret_or_signature() {
        let now = 1531420618;
        let changed = BODY.replace("roadrunner", "coyote");
        assert_eq!(
            verify(SECRET, TIMESTAMP, changed.as_bytes(), SIGNATURE, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("another-secret", TIMESTAMP, BODY.as_bytes(), SIGNATURE, now),
            Err(SignatureError::Mismatch)
        );
        for bad in [
            "",
            "v0=",
            "v1=a2114d57",
            "v0=zz",
            &SIGNATURE.replace("b503", "b504"),
        ] {
            assert_eq!(
                verify(SECRET, TIMESTAMP, BODY.as_bytes(), bad, now),
                Err(SignatureError::Mismatch),
                "{bad}"
            );
        }
        assert_eq!(
            verify(SECRET, "", BODY.as_bytes(), SIGNATURE, now),
            Err(SignatureError::NoTimestamp)
        );
    }

    #[test]
    fn error_codes_keep_only_their_word() {
        assert_eq!(code("users_not_found"), "users_not_found");
        assert_eq!(code("<b>x</b> y"), "bxby");
    }
}
