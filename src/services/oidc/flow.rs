//! The authorization-code flow (with PKCE S256, `state` and `nonce`): `start` records
//! a single-use flow bound to the browser and returns the provider's URL; `finish`
//! takes the flow back at the callback, exchanges the code, verifies the ID token and
//! signs the person in (or, for an admin's test sign-in, only reports what would happen).
//!
//! Invariants: a flow is used at most once, by the browser that started it, within
//! ten minutes; the provider's `error`, a wrong or missing `state`, a replayed callback
//! and a token that does not verify all end in a page saying what happened, never in
//! a session.

use chrono::{DateTime, Duration, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::client::Providers;
use super::{client_secret, settings_of};
use crate::crypto::Keys;
use crate::db::identity::{IdentityProvider, OidcFlow};
use crate::db::tenants::Tenant;
use crate::db::users::User;
use crate::db::{self};
use crate::domain::audit::{AuditAction, Target};
use crate::domain::identity::{Admission, Identity, Known, admit};
use crate::domain::ids::UserId;
use crate::domain::values::UserKind;
use crate::services::audit::{self, Entry};
use crate::services::links;
use crate::services::sessions::{OpenedSession, SignInMethod, open_session};
use crate::services::{Actor, ServiceResult};

/// How long a person may take at the provider.
pub const FLOW_LIFETIME: Duration = Duration::minutes(10);

/// Why a sign-in is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    /// An admin checks the settings: nobody is signed in or created.
    Test,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "signIn",
            Self::Test => "test",
        }
    }
}

/// A sign-in sent to the provider: where to send the browser, and the value of the
/// cookie that binds the flow to it.
#[derive(Debug)]
pub struct Started {
    pub authorize_url: String,
    pub browser: String,
}

/// What the provider sent back to the callback.
#[derive(Clone, Debug, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer that answered (RFC 9207), when the provider says.
    pub iss: Option<String>,
}

/// A finished flow.
#[derive(Debug)]
pub enum Finished {
    SignedIn {
        session: Box<OpenedSession>,
        next: String,
    },
    /// An admin's test: what the provider said and what a sign-in would do.
    Tested { next: String, outcome: String },
}

/// Why a flow did not sign anyone in; each is a page with a heading and what to do.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The provider is not set, or this callback cannot be used (400).
    #[error("{1}")]
    Invalid(String, String),
    /// The person is not let in (403).
    #[error("{1}")]
    Refused(String, String),
    /// The provider could not be reached or answered nonsense (502).
    #[error("{0}")]
    Provider(String),
    #[error(transparent)]
    Service(#[from] crate::services::ServiceError),
}

impl From<crate::db::DbError> for FlowError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Service(e.into())
    }
}

impl From<sqlx::Error> for FlowError {
    fn from(e: sqlx::Error) -> Self {
        Self::Service(e.into())
    }
}

fn invalid(title: &str, message: impl Into<String>) -> FlowError {
    FlowError::Invalid(title.into(), message.into())
}

fn restart(message: &str) -> FlowError {
    invalid(
        "This sign-in cannot be finished",
        format!("{message} Go back to the sign-in page and start again."),
    )
}

async fn provider_of(pool: &PgPool, tenant: &Tenant) -> Result<IdentityProvider, FlowError> {
    let mut conn = pool.acquire().await?;
    db::identity::get(&mut conn, tenant.id).await?.ok_or_else(|| {
        invalid(
            "No identity provider",
            format!(
                "{} does not sign in through an identity provider. Sign in with an emailed link instead.",
                tenant.display_name
            ),
        )
    })
}

fn redirect_uri(base_url: &url::Url, slug: &str) -> Result<RedirectUrl, FlowError> {
    let uri = base_url
        .join(&format!("/t/{slug}/oidc/callback"))
        .map_err(|_| FlowError::Provider("Portico's base URL cannot form a redirect URI".into()))?;
    RedirectUrl::new(uri.to_string())
        .map_err(|_| FlowError::Provider("Portico's base URL cannot form a redirect URI".into()))
}

fn auth_type(metadata: &CoreProviderMetadata) -> AuthType {
    match metadata.token_endpoint_auth_methods_supported() {
        Some(methods)
            if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
        {
            AuthType::RequestBody
        }
        _ => AuthType::BasicAuth,
    }
}

async fn metadata(providers: &Providers, issuer: &str) -> Result<CoreProviderMetadata, FlowError> {
    providers.metadata(issuer).await.map_err(|e| {
        FlowError::Provider(format!(
            "The identity provider cannot be reached right now ({e}). Try again in a minute; if it keeps failing, tell your administrator."
        ))
    })
}

/// Starts a sign-in at the tenant's provider.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
#[allow(clippy::too_many_arguments)]
pub async fn start(
    pool: &PgPool,
    providers: &Providers,
    base_url: &url::Url,
    tenant: &Tenant,
    next: String,
    purpose: Purpose,
    started_by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Started, FlowError> {
    let provider = provider_of(pool, tenant).await?;
    let metadata = metadata(providers, &provider.issuer).await?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(provider.client_id.clone()),
        None,
    )
    .set_redirect_uri(redirect_uri(base_url, &tenant.slug)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in provider.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if purpose == Purpose::Test {
        // The admin is likely signed in at the provider already: ask it to show its
        // sign-in again, so any account can be tried.
        request = request.add_prompt(openidconnect::core::CoreAuthPrompt::Login);
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    let browser = links::new_token();
    let flow = OidcFlow {
        tenant_id: tenant.id,
        state_hash: links::hash(state.secret()),
        browser_hash: links::hash(&browser),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        next_path: next,
        purpose: purpose.as_str().into(),
        started_by,
        created_at: now,
        expires_at: now + FLOW_LIFETIME,
        used_at: None,
    };
    let mut conn = pool.acquire().await?;
    db::identity::prune_flows(&mut conn, tenant.id, now - Duration::days(1)).await?;
    db::identity::insert_flow(&mut conn, &flow).await?;
    Ok(Started {
        authorize_url: url.to_string(),
        browser,
    })
}

/// Finishes a sign-in at the callback. `browser` is the binding cookie's value.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    pool: &PgPool,
    providers: &Providers,
    keys: &Keys,
    base_url: &url::Url,
    tenant: &Tenant,
    browser: Option<&str>,
    callback: Callback,
    now: DateTime<Utc>,
) -> Result<Finished, FlowError> {
    let Some(state) = callback.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(restart(
            "The identity provider's answer does not say which sign-in it belongs to.",
        ));
    };
    let flow = {
        let mut conn = pool.acquire().await?;
        db::identity::take_flow(&mut conn, tenant.id, &links::hash(state), now).await?
    };
    let Some(flow) = flow else {
        return Err(restart("This sign-in is not one Portico started."));
    };
    if flow.used_at.is_some() {
        return Err(restart("This sign-in was already used."));
    }
    if browser.map(links::hash).as_deref() != Some(flow.browser_hash.as_slice()) {
        return Err(restart(
            "This sign-in was started in another browser, or your browser did not keep Portico's cookie.",
        ));
    }
    if flow.expires_at <= now {
        return Err(restart("This sign-in took longer than ten minutes."));
    }
    if let Some(error) = callback.error.as_deref() {
        let said = match callback.error_description.as_deref() {
            Some(d) if !d.trim().is_empty() => format!("{error}: {}", d.trim()),
            _ => error.to_string(),
        };
        return Err(invalid(
            "The identity provider did not sign you in",
            format!(
                "It said \"{said}\". Go back to the sign-in page and try again, or ask your administrator."
            ),
        ));
    }
    let Some(code) = callback.code.filter(|c| !c.is_empty()) else {
        return Err(restart(
            "The identity provider's answer carries no authorization code.",
        ));
    };
    let provider = provider_of(pool, tenant).await?;
    if callback
        .iss
        .as_deref()
        .is_some_and(|iss| iss != provider.issuer)
    {
        return Err(restart(
            "The answer comes from another identity provider than the one this organisation uses.",
        ));
    }
    let metadata = metadata(providers, &provider.issuer).await?;
    let secret = client_secret(keys, &provider).map_err(FlowError::Service)?;
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(provider.client_id.clone()),
        Some(ClientSecret::new(secret.clone())),
    )
    .set_auth_type(auth_type(&metadata))
    .set_redirect_uri(redirect_uri(base_url, &tenant.slug)?);
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| FlowError::Provider("the identity provider names no token endpoint".into()))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()));
    let http = providers.http();
    let tokens = exchange.request_async(&http).await.map_err(|e| match e {
        RequestTokenError::ServerResponse(r) => invalid(
            "The identity provider refused this sign-in",
            format!(
                "It said \"{}\" when Portico redeemed the sign-in. Go back to the sign-in page and start again.",
                r.error()
            ),
        ),
        RequestTokenError::Request(call) => FlowError::Provider(format!(
            "The identity provider could not be reached to finish the sign-in ({call}). Try again in a minute."
        )),
        _ => FlowError::Provider(
            "The identity provider's answer to the code exchange is not valid. Tell your administrator.".into(),
        ),
    })?;
    let Some(id_token) = tokens.id_token() else {
        return Err(FlowError::Provider(
            "The identity provider sent no ID token. Tell your administrator (the \"openid\" scope may be missing).".into(),
        ));
    };
    let claims = providers
        .verify(
            &provider.issuer,
            &metadata,
            (&provider.client_id, &secret),
            id_token,
            &flow.nonce,
            now,
        )
        .await
        .map_err(|e| {
            invalid(
                "This sign-in cannot be trusted",
                format!("Portico refused the identity provider's answer: {e}. Start again; if it keeps happening, tell your administrator."),
            )
        })?;
    let identity = identity_of(&claims, &provider.email_claim);
    let settings = settings_of(&provider);
    let mut tx = pool.begin().await?;
    let existing = match identity.email.as_deref() {
        Some(email) => db::users::by_email(&mut tx, tenant.id, email.trim()).await?,
        None => None,
    };
    let known = match &existing {
        Some(u) if u.active => Known::Active,
        Some(_) => Known::Deactivated,
        None => Known::Unknown,
    };
    let admission = admit(&settings, &identity, known);
    if flow.purpose == Purpose::Test.as_str() {
        return Ok(Finished::Tested {
            next: flow.next_path,
            outcome: describe_test(&provider.display_name, &admission, existing.as_ref()),
        });
    }
    let user = match (admission, existing) {
        (Admission::Existing { .. }, Some(user)) => user,
        (
            Admission::Create {
                email,
                display_name,
            },
            _,
        ) => create_member(&mut tx, tenant, email.as_str(), &display_name, now).await?,
        (Admission::Refused(why), _) => {
            let (title, message) = why.explain(&provider.display_name);
            return Err(FlowError::Refused(title, message));
        }
        (Admission::Existing { email }, None) => {
            return Err(restart(&format!("No account was found for {email}.")));
        }
    };
    let session = open_session(&mut tx, user, SignInMethod::Oidc, now).await?;
    tx.commit().await?;
    Ok(Finished::SignedIn {
        session: Box::new(session),
        next: flow.next_path,
    })
}

/// The person the verified claims describe. `email_verified` may come as a string
/// ("true") from some providers.
fn identity_of(claims: &Value, email_claim: &str) -> Identity {
    let text = |v: &Value| v.as_str().map(str::to_string);
    Identity {
        email: claims.get(email_claim).and_then(text),
        email_verified: match claims.get("email_verified") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => s.trim().parse::<bool>().ok().or(Some(false)),
            Some(Value::Null) | None => None,
            Some(_) => Some(false),
        },
        name: claims.get("name").and_then(text),
    }
}

fn describe_test(provider: &str, admission: &Admission, existing: Option<&User>) -> String {
    match (admission, existing) {
        (Admission::Existing { email }, Some(u)) => format!(
            "Test sign-in worked: {provider} identified you as {email}, which signs in as {} ({}).",
            u.display_name, u.email
        ),
        (Admission::Create { email, .. }, _) => format!(
            "Test sign-in worked: {provider} identified you as {email}; nobody has this address yet, so a member would be created at first sign-in."
        ),
        (Admission::Refused(why), _) => {
            let (title, message) = why.explain(provider);
            format!(
                "Test sign-in reached {provider}, but the sign-in would be refused: {title}. {message}"
            )
        }
        (Admission::Existing { email }, None) => {
            format!("Test sign-in reached {provider}, but no account was found for {email}.")
        }
    }
}

/// A member created at their first sign-in (`createUsers`), audited as the provider's doing.
async fn create_member(
    conn: &mut crate::db::Conn,
    tenant: &Tenant,
    email: &str,
    display_name: &str,
    now: DateTime<Utc>,
) -> ServiceResult<User> {
    let user = User {
        tenant_id: tenant.id,
        id: UserId::new(),
        email: email.to_string(),
        display_name: display_name.to_string(),
        department: None,
        job_title: None,
        manager_id: None,
        kind: UserKind::Member,
        active: true,
        external_id: None,
        directory_managed: false,
        time_zone: None,
        last_sign_in_at: None,
        created_at: now,
        updated_at: now,
    };
    db::users::insert(conn, &user).await?;
    audit::record(
        conn,
        tenant.id,
        Actor::System,
        Entry {
            action: AuditAction::UserCreated,
            target: Target::User(user.id),
            details: json!({"email": user.email, "displayName": user.display_name,
                            "kind": "member", "source": "identityProvider"}),
        },
        now,
    )
    .await?;
    Ok(user)
}
