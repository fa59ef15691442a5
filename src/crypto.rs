//! What `PORTICO_SECRET_KEY` is used for: keys derived from it (HKDF-SHA256, one key per
//! purpose, so a key for one use never serves another) that sign CSRF tokens and seal
//! stored secrets (connector secrets) with ChaCha20-Poly1305.
//!
//! Invariant: a sealed value is bound to the row it belongs to (the caller passes the
//! row's identity as associated data), so a sealed secret copied to another tenant or
//! resource does not open there.

use base64::Engine;
use chacha20poly1305::KeyInit as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Prefix of a sealed value as stored; anything else is a value stored before sealing.
pub const SEALED_PREFIX: &str = "enc:v1:";

/// The keys derived from the secret key.
#[derive(Clone)]
pub struct Keys {
    csrf: [u8; 32],
    sealing: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(***)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("the stored value is not a sealed secret")]
    Malformed,
    #[error(
        "the stored secret cannot be opened with the current PORTICO_SECRET_KEY (was the key changed?); set the secret again"
    )]
    WrongKey,
}

impl Keys {
    pub fn derive(secret_key: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"portico"), secret_key.as_bytes());
        let mut csrf = [0u8; 32];
        let mut sealing = [0u8; 32];
        // 32 bytes are always a valid HKDF-SHA256 output length.
        let _ = hk.expand(b"portico csrf v1", &mut csrf);
        let _ = hk.expand(b"portico sealed secrets v1", &mut sealing);
        Self { csrf, sealing }
    }

    /// An unforgeable token for `purpose` and `nonce` (URL-safe base64).
    pub fn sign(&self, purpose: &str, nonce: &str) -> String {
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(nonce.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    /// Whether `token` is the signature of `purpose` and `nonce` (constant time).
    pub fn verify(&self, purpose: &str, nonce: &str, token: &str) -> bool {
        let Ok(sent) = B64.decode(token) else {
            return false;
        };
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf) else {
            return false;
        };
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(nonce.as_bytes());
        mac.verify_slice(&sent).is_ok()
    }

    /// Seals `plain`, bound to `context` (e.g. tenant and row id).
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.sealing));
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher.encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: context.as_bytes(),
            },
        );
        match sealed {
            Ok(ct) => {
                let mut out = nonce.to_vec();
                out.extend_from_slice(&ct);
                format!("{SEALED_PREFIX}{}", B64.encode(out))
            }
            // Encryption of an in-memory buffer does not fail; never store the plain value.
            Err(_) => String::new(),
        }
    }

    /// Opens a value made by `seal` with the same `context`.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, OpenError> {
        let body = stored
            .strip_prefix(SEALED_PREFIX)
            .ok_or(OpenError::Malformed)?;
        let bytes = B64.decode(body).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < 12 + 16 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(12);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.sealing));
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }
}

/// Whether a stored value is sealed (values written before sealing existed are not).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::derive("0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let k = keys();
        let sealed = k.seal("whsec_top", "tenant-a/resource-1");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("whsec_top"));
        assert_eq!(
            k.open(&sealed, "tenant-a/resource-1").as_deref(),
            Ok("whsec_top")
        );
        assert_eq!(
            k.open(&sealed, "tenant-b/resource-1"),
            Err(OpenError::WrongKey)
        );
        let other = Keys::derive("another-key-another-key-another-key");
        assert_eq!(
            other.open(&sealed, "tenant-a/resource-1"),
            Err(OpenError::WrongKey)
        );
        assert_eq!(k.open("whsec_top", "x"), Err(OpenError::Malformed));
        assert_ne!(sealed, k.seal("whsec_top", "tenant-a/resource-1"));
    }

    #[test]
    fn signatures_are_bound_to_purpose_nonce_and_key() {
        let k = keys();
        let t = k.sign("pre-session", "nonce-1");
        assert!(k.verify("pre-session", "nonce-1", &t));
        assert!(!k.verify("links", "nonce-1", &t));
        assert!(!k.verify("pre-session", "nonce-2", &t));
        assert!(!Keys::derive("another-key-another-key-another-key").verify(
            "pre-session",
            "nonce-1",
            &t
        ));
        assert!(!k.verify("pre-session", "nonce-1", "garbage!"));
    }
}
