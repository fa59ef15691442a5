//! "Sign-in and directory" (people who manage the directory): the tenant's identity
//! provider (OIDC settings, a test sign-in, removal), the SCIM base address with its
//! tokens (created and shown once, revoked), and what the directory last did.
//!
//! Invariants: the client secret and SCIM tokens never appear on a page once stored
//! (a new token is shown once, in the answer to the form that created it, never in a
//! redirect or a flash); a test sign-in changes nobody's session.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::domain::DomainError;
use crate::domain::identity::{DEFAULT_SCOPES, OidcInput};
use crate::domain::ids::ScimTokenId;
use crate::services::oidc::ProviderView;
use crate::services::oidc::flow::Purpose;
use crate::services::scim::ScimActivity;
use crate::services::{self};
use crate::state::AppState;
use crate::time_text::{when, when_opt};
use crate::web::api::identity_provider::redirect_uri;
use crate::web::oidc::redirect_to_provider;
use crate::web::path::Ids;
use crate::web::session::{
    AdminCaller, FormData, PageError, PageResult, Posted, redirect_with_flash,
};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, form_errors, invalid};

const PAGE: &str = "/admin/sign-in";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin/sign-in", get(show).post(save_provider))
        .route("/t/{slug}/admin/sign-in/test", get(test_sign_in))
        .route("/t/{slug}/admin/sign-in/remove", post(remove_provider))
        .route("/t/{slug}/admin/sign-in/tokens", post(create_token))
        .route(
            "/t/{slug}/admin/sign-in/tokens/{tid}/revoke",
            post(revoke_token),
        )
}

/// The provider form's values: as stored, or as posted when it comes back with errors.
struct ProviderForm {
    display_name: String,
    issuer: String,
    client_id: String,
    scopes: String,
    email_claim: String,
    allowed_domains: String,
    create_users: bool,
    email_link_sign_in: bool,
}

impl ProviderForm {
    fn of(view: Option<&ProviderView>) -> Self {
        match view {
            Some(v) => Self {
                display_name: v.settings.display_name.clone(),
                issuer: v.settings.issuer.clone(),
                client_id: v.settings.client_id.clone(),
                scopes: v.settings.scopes.join(" "),
                email_claim: v.settings.email_claim.clone(),
                allowed_domains: v.settings.allowed_domains.join(" "),
                create_users: v.settings.create_users,
                email_link_sign_in: v.settings.email_link_sign_in,
            },
            None => Self {
                display_name: String::new(),
                issuer: String::new(),
                client_id: String::new(),
                scopes: DEFAULT_SCOPES.join(" "),
                email_claim: "email".into(),
                allowed_domains: String::new(),
                create_users: false,
                email_link_sign_in: true,
            },
        }
    }

    fn posted(f: &FormData) -> Self {
        Self {
            display_name: f.text("displayName"),
            issuer: f.text("issuer"),
            client_id: f.text("clientId"),
            scopes: f.text("scopes"),
            email_claim: f.text("emailClaim"),
            allowed_domains: f.text("allowedDomains"),
            create_users: f.checked("createUsers"),
            email_link_sign_in: f.checked("emailLinkSignIn"),
        }
    }
}

/// Words separated by spaces, commas or new lines; `None` when there are none.
fn words(raw: &str) -> Vec<String> {
    raw.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn input_of(f: &FormData) -> OidcInput {
    OidcInput {
        kind: Some("oidc".into()),
        display_name: Some(f.text("displayName")),
        issuer: Some(f.text("issuer")),
        client_id: Some(f.text("clientId")),
        client_secret: f.opt("clientSecret"),
        scopes: Some(words(&f.text("scopes"))),
        email_claim: Some(f.text("emailClaim")),
        allowed_domains: Some(words(&f.text("allowedDomains"))),
        create_users: Some(f.checked("createUsers")),
        email_link_sign_in: Some(f.checked("emailLinkSignIn")),
    }
}

struct TokenRow {
    name: String,
    created: String,
    last_used: String,
    status: &'static str,
    revoke: Option<String>,
}

/// A token just created: its secret, shown this once.
struct NewToken {
    name: String,
    token: String,
}

struct Activity {
    last_call: String,
    calls_total: i64,
    counts: Vec<(&'static str, i64)>,
}

fn activity_of(a: &ScimActivity) -> Activity {
    let last_call = match (a.last_call_at, &a.last_method, &a.last_path, a.last_status) {
        (Some(at), Some(m), Some(p), Some(s)) => format!("{m} {p} → {s}, {}", when(at)),
        (Some(at), ..) => when(at),
        _ => "No SCIM call yet".into(),
    };
    Activity {
        last_call,
        calls_total: a.calls_total,
        counts: vec![
            ("Users created", a.users_created),
            ("Users updated", a.users_updated),
            ("Users deactivated", a.users_deactivated),
            ("Groups created", a.groups_created),
            ("Groups updated", a.groups_updated),
            ("Groups deleted", a.groups_deleted),
        ],
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/sign_in.html")]
struct SignInPage {
    shell: Shell,
    csrf: String,
    base: String,
    errors: Errors,
    configured: bool,
    secret_set: bool,
    updated: String,
    form: ProviderForm,
    redirect_uri: String,
    scim_url: String,
    token_errors: Errors,
    token_name: String,
    new_token: Option<NewToken>,
    tokens: Vec<TokenRow>,
    activity: Activity,
}

/// What the page is built from besides its forms.
struct Posting<'a> {
    provider_form: Option<&'a FormData>,
    errors: Errors,
    token_form: Option<&'a FormData>,
    token_errors: Errors,
    new_token: Option<NewToken>,
}

impl Posting<'_> {
    fn none() -> Self {
        Self {
            provider_form: None,
            errors: Errors::none(),
            token_form: None,
            token_errors: Errors::none(),
            new_token: None,
        }
    }
}

fn address(state: &AppState, path: &str) -> String {
    state
        .settings()
        .base_url
        .as_ref()
        .and_then(|b| b.join(path).ok())
        .map_or_else(
            || format!("{path} (set PORTICO_BASE_URL to the address people reach Portico at)"),
            |u| u.to_string(),
        )
}

async fn page(
    state: &AppState,
    who: &AdminCaller,
    p: Posting<'_>,
) -> Result<SignInPage, PageError> {
    let pool = state.pool();
    let provider = services::oidc::get(pool, &who.caller).await?;
    let tokens = services::scim::tokens::list(pool, &who.caller).await?;
    let activity = services::scim::tokens::activity(pool, &who.caller).await?;
    let base = who.url(PAGE);
    let slug = who.slug();
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            revoke: t
                .revoked_at
                .is_none()
                .then(|| format!("{base}/tokens/{}/revoke", t.id)),
            status: if t.revoked_at.is_some() {
                "Revoked"
            } else {
                "Active"
            },
            name: t.name,
            created: when(t.created_at),
            last_used: when_opt(t.last_used_at),
        })
        .collect();
    Ok(SignInPage {
        shell: who.shell("Sign-in and directory", Section::SignIn),
        csrf: who.csrf.clone(),
        errors: p.errors,
        configured: provider.is_some(),
        secret_set: provider.as_ref().is_some_and(|v| v.client_secret_set),
        updated: provider
            .as_ref()
            .map(|v| when(v.updated_at))
            .unwrap_or_default(),
        form: match p.provider_form {
            Some(f) => ProviderForm::posted(f),
            None => ProviderForm::of(provider.as_ref()),
        },
        redirect_uri: redirect_uri(state, slug)
            .unwrap_or_else(|| address(state, &format!("/t/{slug}/oidc/callback"))),
        scim_url: address(state, &format!("/scim/v2/{slug}")),
        token_errors: p.token_errors,
        token_name: p.token_form.map(|f| f.text("name")).unwrap_or_default(),
        new_token: p.new_token,
        tokens,
        activity: activity_of(&activity),
        base,
    })
}

async fn show(State(state): State<AppState>, who: AdminCaller) -> PageResult {
    Ok(page(&state, &who, Posting::none()).await?.into_response())
}

async fn save_provider(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let saved = services::oidc::put(
        state.pool(),
        state.providers(),
        state.keys(),
        state.settings().webhook_allow_private,
        &who.caller,
        input_of(&form),
        state.now(),
    )
    .await;
    match saved {
        Ok(v) => Ok(redirect_with_flash(
            &state,
            &who.url(PAGE),
            &format!(
                "Sign-in with {} saved. Use “Test sign-in” to try it before you tell people.",
                v.settings.display_name
            ),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let posting = Posting {
                provider_form: Some(&form),
                errors,
                ..Posting::none()
            };
            Ok(invalid(page(&state, &who, posting).await?))
        }
    }
}

/// Sends the admin through the provider and back to this page, which then says what a
/// real sign-in of the account they used would do; nobody is signed in. A GET, like
/// `/oidc/start`: it changes nothing but a flow row, and the page's policy lets forms
/// post only to Portico itself, so a form could not lead to the provider.
async fn test_sign_in(State(state): State<AppState>, who: AdminCaller) -> PageResult {
    if services::oidc::get(state.pool(), &who.caller)
        .await?
        .is_none()
    {
        return Err(PageError::from(DomainError::conflict(
            "There is no identity provider to test: save its settings first.",
        ))
        .in_tenant(who.slug()));
    }
    redirect_to_provider(
        &state,
        who.slug(),
        who.url(PAGE),
        Purpose::Test,
        Some(who.caller.user_id()),
    )
    .await
}

async fn remove_provider(
    State(state): State<AppState>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::oidc::remove(state.pool(), &who.caller, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(PAGE),
        "The identity provider was removed: people sign in with emailed links again.",
    ))
}

async fn create_token(
    State(state): State<AppState>,
    Posted { who, form }: Posted<AdminCaller>,
) -> PageResult {
    let name = form.opt("name");
    match services::scim::tokens::create(state.pool(), &who.caller, name.as_deref(), state.now())
        .await
    {
        Ok((token, plain)) => {
            let posting = Posting {
                new_token: Some(NewToken {
                    name: token.name,
                    token: plain,
                }),
                ..Posting::none()
            };
            let page = page(&state, &who, posting).await?;
            // Shown once: never kept by a cache or the browser's history.
            Ok((StatusCode::CREATED, [("cache-control", "no-store")], page).into_response())
        }
        Err(e) => {
            let token_errors = form_errors(e)?;
            let posting = Posting {
                token_form: Some(&form),
                token_errors,
                ..Posting::none()
            };
            Ok(invalid(page(&state, &who, posting).await?))
        }
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    Ids(tid): Ids<ScimTokenId>,
    Posted { who, .. }: Posted<AdminCaller>,
) -> PageResult {
    services::scim::tokens::revoke(state.pool(), &who.caller, tid, state.now()).await?;
    Ok(redirect_with_flash(
        &state,
        &who.url(PAGE),
        "SCIM token revoked: the directory can no longer use it.",
    ))
}
