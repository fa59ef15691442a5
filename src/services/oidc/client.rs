//! Talking to a tenant's OpenID provider: discovery, the JWKS (cached, refetched when
//! a token names a key it does not hold, which is how providers rotate keys), the code
//! exchange and ID token verification, with the `openidconnect` crate over Portico's
//! one outbound door (`connectors::outbound`: the private-address rule, no redirects).
//!
//! Invariant: an ID token is accepted only when its signature checks against the
//! issuer's published keys and `iss`, `aud`, `exp` (60 s of clock skew), `iat` and
//! `nonce` hold, judged by Portico's clock.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreProviderMetadata,
};
use openidconnect::{
    ClaimsVerificationError, ClientId, ClientSecret, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    SignatureVerificationError,
};
use tokio::sync::Mutex;

use crate::connectors::outbound::{CallError, Outbound};

/// How long discovery documents and keys are trusted before being fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Tolerated difference between the provider's clock and Portico's.
pub const CLOCK_SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// The most of a provider's answer that is read.
const MAX_BODY: usize = 1024 * 1024;

/// Cached discovery documents and keys, shared by every request of a server.
#[derive(Clone)]
pub struct Providers {
    http: Outbound,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
}

#[derive(Clone)]
struct Cached {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Providers")
    }
}

/// The HTTP client handed to `openidconnect`: every call goes through `Outbound`.
pub struct Http<'a>(&'a Outbound);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http<'_> {
    type Error = CallError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, CallError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move { self.0.exchange(request, MAX_BODY).await })
    }
}

/// Why talking to the provider failed, in words for an administrator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

fn discovery_error(e: openidconnect::DiscoveryError<CallError>) -> ProviderError {
    use openidconnect::DiscoveryError as D;
    ProviderError(match e {
        D::Request(call) => format!("the discovery document could not be fetched: {call}"),
        D::Response(status, _, _) => format!(
            "the discovery document could not be fetched: the provider answered {}",
            status.as_u16()
        ),
        D::Parse(p) => format!(
            "the provider's discovery document is not valid OpenID Connect metadata ({})",
            p.path()
        ),
        D::Validation(v) => format!("the provider's discovery document does not fit: {v}"),
        D::UrlParse(_) => "the issuer URL cannot be turned into a discovery URL".into(),
        D::Other(o) => format!("discovery failed: {o}"),
        _ => "discovery failed".into(),
    })
}

impl Providers {
    pub fn new(http: Outbound) -> Self {
        Self {
            http,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn http(&self) -> Http<'_> {
        Http(&self.http)
    }

    /// Fetches the issuer's discovery document and keys now (a settings change), and
    /// keeps them for the next sign-ins.
    pub async fn discover(&self, issuer: &str) -> Result<CoreProviderMetadata, ProviderError> {
        let url = IssuerUrl::new(issuer.to_string())
            .map_err(|_| ProviderError("the issuer is not a URL".into()))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http())
            .await
            .map_err(discovery_error)?;
        if metadata.token_endpoint().is_none() {
            return Err(ProviderError(
                "the provider's discovery document names no token endpoint".into(),
            ));
        }
        self.cache.lock().await.insert(
            issuer.to_string(),
            Cached {
                metadata: metadata.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(metadata)
    }

    /// The issuer's metadata, from the cache while fresh.
    pub async fn metadata(&self, issuer: &str) -> Result<CoreProviderMetadata, ProviderError> {
        if let Some(c) = self.cache.lock().await.get(issuer)
            && c.fetched.elapsed() < METADATA_TTL
        {
            return Ok(c.metadata.clone());
        }
        self.discover(issuer).await
    }

    /// Fetches the keys again (a token named a key not in the cached set).
    async fn refresh_keys(
        &self,
        issuer: &str,
        metadata: &CoreProviderMetadata,
    ) -> Result<CoreProviderMetadata, ProviderError> {
        let keys = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http())
            .await
            .map_err(discovery_error)?;
        let fresh = metadata.clone().set_jwks(keys);
        self.cache.lock().await.insert(
            issuer.to_string(),
            Cached {
                metadata: fresh.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(fresh)
    }

    /// Verifies an ID token for `client_id` with `nonce`, at `now` (Portico's clock).
    /// A token signed by a key the cached set lacks makes Portico fetch the keys once
    /// more before it refuses.
    pub async fn verify(
        &self,
        issuer: &str,
        metadata: &CoreProviderMetadata,
        client: (&str, &str),
        token: &CoreIdToken,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, TokenRefused> {
        match check(metadata, client, token, nonce, now) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self
                    .refresh_keys(issuer, metadata)
                    .await
                    .map_err(|e| TokenRefused(e.0))?;
                check(&fresh, client, token, nonce, now).map_err(refused)
            }
            other => other.map_err(refused),
        }
    }
}

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenRefused(pub String);

fn refused(e: ClaimsVerificationError) -> TokenRefused {
    use ClaimsVerificationError as C;
    TokenRefused(match e {
        C::Expired(_) => "the identity provider's token has expired".into(),
        C::InvalidAudience(_) => "the token was issued for another application".into(),
        C::InvalidIssuer(_) => "the token was issued by another identity provider".into(),
        C::InvalidNonce(_) => "the token does not belong to this sign-in".into(),
        C::SignatureVerification(SignatureVerificationError::NoMatchingKey) => {
            "the token is signed by a key the identity provider does not publish".into()
        }
        C::SignatureVerification(_) => "the token's signature does not check".into(),
        other => format!("the token is not valid ({other})"),
    })
}

/// The verified claims as JSON, so a tenant may name any claim as the email.
fn check(
    metadata: &CoreProviderMetadata,
    (client_id, secret): (&str, &str),
    token: &CoreIdToken,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, ClaimsVerificationError> {
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(client_id.to_string()),
        ClientSecret::new(secret.to_string()),
        metadata.issuer().clone(),
        metadata.jwks().clone(),
    )
    // Expiry is judged with the skew given to the provider's clock.
    .set_time_fn(move || now - CLOCK_SKEW)
    .set_issue_time_verifier_fn(move |iat| {
        if iat > now + CLOCK_SKEW {
            Err("the token was issued in the future".into())
        } else {
            Ok(())
        }
    });
    let nonce = Nonce::new(nonce.to_string());
    token.claims(&verifier, &nonce)?;
    // The signature and claims above are verified; read the payload for the email claim.
    payload(token).map_err(ClaimsVerificationError::Other)
}

fn payload(token: &CoreIdToken) -> Result<serde_json::Value, String> {
    use base64::Engine;
    let raw = token.to_string();
    let part = raw
        .split('.')
        .nth(1)
        .ok_or_else(|| "the token has no payload".to_string())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| "the token's payload is not base64url".to_string())?;
    serde_json::from_slice(&bytes).map_err(|_| "the token's payload is not JSON".to_string())
}
