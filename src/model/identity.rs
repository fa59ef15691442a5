//! Records kept in `identity_providers` and `oidc_flows`.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use crate::domain::ids::{TenantId, UserId};

/// A tenant's identity provider as stored; `client_secret` is sealed.
#[derive(Clone, Debug, FromRow)]
pub struct IdentityProvider {
    pub tenant_id: TenantId,
    pub kind: String,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub allowed_domains: Vec<String>,
    pub create_users: bool,
    pub email_link_sign_in: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A sign-in under way at the provider.
#[derive(Clone, Debug, FromRow)]
pub struct OidcFlow {
    pub tenant_id: TenantId,
    pub state_hash: Vec<u8>,
    pub browser_hash: Vec<u8>,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
    pub purpose: String,
    pub started_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}
