//! Sign-in through the organisation's identity provider (INTEGRATIONS.md §1): the
//! settings a tenant admin gives, parsed once, and who a verified ID token lets in.
//!
//! Invariants: the `openid` scope is always asked for; a provider that may create
//! users names the domains it may create them for (a provider such as Google signs in
//! the whole world, so "create anyone" is never a setting); an ID token that says the
//! email is not verified never signs anyone in.

use super::FieldErrors;
use super::values::EmailAddress;

/// The settings as given (API body or admin form); `None` = not given.
#[derive(Clone, Debug, Default)]
pub struct OidcInput {
    pub kind: Option<String>,
    pub display_name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub email_claim: Option<String>,
    pub allowed_domains: Option<Vec<String>>,
    pub create_users: Option<bool>,
    pub email_link_sign_in: Option<bool>,
}

/// Valid settings (the secret travels apart: it is sealed before it is stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcSettings {
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub allowed_domains: Vec<String>,
    pub create_users: bool,
    pub email_link_sign_in: bool,
}

pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];
const MAX_DOMAINS: usize = 100;

/// Parses the input. `secret_kept` says whether a secret is stored already (then an
/// absent `clientSecret` keeps it); `allow_http` admits an `http://` issuer (closed
/// networks and tests, with `PORTICO_WEBHOOK_ALLOW_PRIVATE`).
pub fn parse_settings(
    input: &OidcInput,
    secret_kept: bool,
    allow_http: bool,
) -> Result<(OidcSettings, Option<String>), FieldErrors> {
    let mut errors = FieldErrors::new();
    match input.kind.as_deref() {
        Some("oidc") => {}
        Some(other) => errors.add(
            "type",
            format!("'{other}' is not a supported provider type; use \"oidc\""),
        ),
        None => errors.add("type", "the provider type is required: \"oidc\""),
    }
    let display_name = trimmed(&input.display_name);
    match display_name.chars().count() {
        0 => errors.add(
            "displayName",
            "a name is required; it is shown on the sign-in button",
        ),
        n if n > 100 => errors.add("displayName", "the name must be at most 100 characters"),
        _ => {}
    }
    let issuer = trimmed(&input.issuer);
    if let Err(e) = check_issuer(&issuer, allow_http) {
        errors.add("issuer", e);
    }
    let client_id = trimmed(&input.client_id);
    if client_id.is_empty() {
        errors.add(
            "clientId",
            "the client ID the provider gave Portico is required",
        );
    } else if client_id.len() > 255 || client_id.contains(char::is_control) {
        errors.add(
            "clientId",
            "the client ID must be at most 255 printable characters",
        );
    }
    let secret = input
        .client_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match secret {
        None if !secret_kept => errors.add(
            "clientSecret",
            "the client secret the provider gave Portico is required",
        ),
        Some(s) if s.len() > 1024 || s.contains(char::is_control) => errors.add(
            "clientSecret",
            "the client secret must be at most 1024 printable characters",
        ),
        _ => {}
    }
    let scopes = match &input.scopes {
        None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
        Some(list) => {
            let mut scopes: Vec<String> = Vec::new();
            for s in list.iter().flat_map(|s| s.split_whitespace()) {
                if !s.chars().all(scope_char) || s.len() > 100 {
                    errors.add("scopes", format!("'{s}' is not a valid scope"));
                } else if !scopes.iter().any(|k| k == s) {
                    scopes.push(s.to_string());
                }
            }
            if !scopes.iter().any(|s| s == "openid") {
                errors.add("scopes", "the scopes must include \"openid\"");
            }
            scopes
        }
    };
    let email_claim = match input.email_claim.as_deref().map(str::trim) {
        None | Some("") => "email".to_string(),
        Some(c) => {
            if c.len() > 100
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_-.:/".contains(ch))
            {
                errors.add(
                    "emailClaim",
                    "the claim name may use letters, digits and _ - . : / only",
                );
            }
            c.to_string()
        }
    };
    let mut allowed_domains = Vec::new();
    for d in input.allowed_domains.iter().flatten() {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        if d.is_empty() {
            continue;
        }
        if !is_domain(&d) {
            errors.add(
                "allowedDomains",
                format!("'{d}' is not a domain name such as example.com"),
            );
        } else if !allowed_domains.contains(&d) {
            allowed_domains.push(d);
        }
    }
    if allowed_domains.len() > MAX_DOMAINS {
        errors.add("allowedDomains", format!("at most {MAX_DOMAINS} domains"));
    }
    let create_users = input.create_users.unwrap_or(false);
    if create_users && allowed_domains.is_empty() {
        errors.add(
            "allowedDomains",
            "creating people at their first sign-in needs the email domains it may create them for",
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((
        OidcSettings {
            display_name,
            issuer,
            client_id,
            scopes,
            email_claim,
            allowed_domains,
            create_users,
            email_link_sign_in: input.email_link_sign_in.unwrap_or(true),
        },
        secret.map(str::to_string),
    ))
}

fn trimmed(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or_default().to_string()
}

fn scope_char(c: char) -> bool {
    // RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E
    c == '!' || ('\u{23}'..='\u{5b}').contains(&c) || ('\u{5d}'..='\u{7e}').contains(&c)
}

fn check_issuer(issuer: &str, allow_http: bool) -> Result<(), String> {
    if issuer.is_empty() {
        return Err("the issuer URL is required, e.g. https://login.example.com".into());
    }
    let url = url::Url::parse(issuer)
        .map_err(|_| format!("'{issuer}' is not a URL such as https://login.example.com"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err("the issuer must use https:// (tokens cross the network)".into());
        }
        _ => return Err("the issuer must be an https:// URL".into()),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the issuer URL needs a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the issuer URL has no query or fragment (RFC 8414)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the issuer URL must not carry credentials".into());
    }
    if issuer.len() > 500 {
        return Err("the issuer URL must be at most 500 characters".into());
    }
    Ok(())
}

fn is_domain(d: &str) -> bool {
    d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// What the verified ID token says about the person.
#[derive(Clone, Debug)]
pub struct Identity {
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
}

/// The Portico user an email belongs to, as far as sign-in cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    Active,
    Deactivated,
    Unknown,
}

/// Why a sign-in through the provider was refused; each is a page a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    NoEmail { claim: String },
    EmailNotVerified { email: String },
    Unknown { email: String },
    DomainNotAllowed { email: String },
    Deactivated { email: String },
}

impl Refusal {
    /// A heading and a sentence saying what to do.
    pub fn explain(&self, provider: &str) -> (String, String) {
        match self {
            Self::NoEmail { claim } => (
                "No email address from the identity provider".into(),
                format!(
                    "{provider} did not send an email address (claim \"{claim}\"), so Portico cannot tell who you are. Ask your administrator to release the email claim to Portico."
                ),
            ),
            Self::EmailNotVerified { email } => (
                "Email address not verified".into(),
                format!(
                    "{provider} says the address {email} is not verified. Verify it with {provider}, then sign in again."
                ),
            ),
            Self::Unknown { email } => (
                "No Portico account for this address".into(),
                format!(
                    "{provider} signed you in as {email}, but this organisation's Portico has nobody with that address. Ask your administrator to add you."
                ),
            ),
            Self::DomainNotAllowed { email } => (
                "No Portico account for this address".into(),
                format!(
                    "{provider} signed you in as {email}. Accounts are created at first sign-in only for this organisation's own email domains. Ask your administrator to add you."
                ),
            ),
            Self::Deactivated { email } => (
                "Account deactivated".into(),
                format!(
                    "The Portico account of {email} is deactivated. Ask your administrator if you need access again."
                ),
            ),
        }
    }
}

/// Who the identity lets in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The existing user with this email.
    Existing {
        email: String,
    },
    /// A member to create now (just-in-time).
    Create {
        email: EmailAddress,
        display_name: String,
    },
    Refused(Refusal),
}

/// Decides a sign-in from the verified identity and what Portico knows of its email.
/// An absent `email_verified` is accepted: providers such as Entra ID do not send it
/// and vouch for the addresses they issue; only an explicit `false` is refused.
pub fn admit(settings: &OidcSettings, identity: &Identity, known: Known) -> Admission {
    let Some(email) = identity
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    else {
        return Admission::Refused(Refusal::NoEmail {
            claim: settings.email_claim.clone(),
        });
    };
    let email = email.to_string();
    if identity.email_verified == Some(false) {
        return Admission::Refused(Refusal::EmailNotVerified { email });
    }
    match known {
        Known::Active => Admission::Existing { email },
        Known::Deactivated => Admission::Refused(Refusal::Deactivated { email }),
        Known::Unknown if !settings.create_users => Admission::Refused(Refusal::Unknown { email }),
        Known::Unknown => {
            let Ok(parsed) = EmailAddress::parse(&email) else {
                return Admission::Refused(Refusal::Unknown { email });
            };
            let domain = email
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            if !settings.allowed_domains.contains(&domain) {
                return Admission::Refused(Refusal::DomainNotAllowed { email });
            }
            let display_name = identity
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty() && n.chars().count() <= 200)
                .map(str::to_string)
                .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_string());
            Admission::Create {
                email: parsed,
                display_name,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> OidcInput {
        OidcInput {
            kind: Some("oidc".into()),
            display_name: Some("Contoso SSO".into()),
            issuer: Some("https://login.contoso.com".into()),
            client_id: Some("portico".into()),
            client_secret: Some("s3cret".into()),
            ..OidcInput::default()
        }
    }

    fn settings(create: bool, domains: &[&str]) -> OidcSettings {
        let mut i = input();
        i.create_users = Some(create);
        i.allowed_domains = Some(domains.iter().map(|d| d.to_string()).collect());
        parse_settings(&i, false, false).map(|(s, _)| s).unwrap()
    }

    #[test]
    fn defaults_ask_for_openid_email_profile_and_keep_email_links() {
        let (s, secret) = parse_settings(&input(), false, false).unwrap();
        assert_eq!(s.scopes, ["openid", "email", "profile"]);
        assert_eq!(s.email_claim, "email");
        assert!(s.email_link_sign_in);
        assert!(!s.create_users);
        assert_eq!(secret.as_deref(), Some("s3cret"));
    }

    #[test]
    fn every_missing_or_bad_field_is_named_at_once() {
        let bad = OidcInput {
            kind: Some("saml".into()),
            issuer: Some("ftp://x".into()),
            scopes: Some(vec!["email".into(), "bad\"scope".into()]),
            allowed_domains: Some(vec!["not a domain".into()]),
            ..OidcInput::default()
        };
        let errors = parse_settings(&bad, false, false).unwrap_err();
        for field in [
            "type",
            "displayName",
            "issuer",
            "clientId",
            "clientSecret",
            "scopes",
            "allowedDomains",
        ] {
            assert!(errors.0.contains_key(field), "{field}: {errors:?}");
        }
    }

    #[test]
    fn an_http_issuer_is_refused_unless_private_targets_are_allowed() {
        let mut i = input();
        i.issuer = Some("http://127.0.0.1:4000".into());
        assert!(
            parse_settings(&i, false, false)
                .unwrap_err()
                .0
                .contains_key("issuer")
        );
        assert!(parse_settings(&i, false, true).is_ok());
        i.issuer = Some("https://login.contoso.com/?x=1".into());
        assert!(parse_settings(&i, false, true).is_err());
    }

    #[test]
    fn a_kept_secret_need_not_be_sent_again() {
        let mut i = input();
        i.client_secret = None;
        assert!(parse_settings(&i, false, false).is_err());
        let (_, secret) = parse_settings(&i, true, false).unwrap();
        assert_eq!(secret, None);
    }

    #[test]
    fn creating_users_needs_allowed_domains() {
        let mut i = input();
        i.create_users = Some(true);
        let e = parse_settings(&i, false, false).unwrap_err();
        assert!(e.0.contains_key("allowedDomains"));
        i.allowed_domains = Some(vec!["@Contoso.com".into()]);
        let (s, _) = parse_settings(&i, false, false).unwrap();
        assert_eq!(s.allowed_domains, ["contoso.com"]);
    }

    fn who(email: Option<&str>, verified: Option<bool>) -> Identity {
        Identity {
            email: email.map(str::to_string),
            email_verified: verified,
            name: Some("Ada Lovelace".into()),
        }
    }

    #[test]
    fn a_known_active_person_signs_in_and_an_unverified_email_never_does() {
        let s = settings(false, &[]);
        assert!(matches!(
            admit(&s, &who(Some("ada@contoso.com"), Some(true)), Known::Active),
            Admission::Existing { .. }
        ));
        assert!(matches!(
            admit(&s, &who(Some("ada@contoso.com"), None), Known::Active),
            Admission::Existing { .. }
        ));
        assert!(matches!(
            admit(
                &s,
                &who(Some("ada@contoso.com"), Some(false)),
                Known::Active
            ),
            Admission::Refused(Refusal::EmailNotVerified { .. })
        ));
        assert!(matches!(
            admit(&s, &who(None, Some(true)), Known::Active),
            Admission::Refused(Refusal::NoEmail { .. })
        ));
        assert!(matches!(
            admit(
                &s,
                &who(Some("ada@contoso.com"), Some(true)),
                Known::Deactivated
            ),
            Admission::Refused(Refusal::Deactivated { .. })
        ));
    }

    #[test]
    fn unknown_people_are_created_only_with_create_users_and_an_allowed_domain() {
        let off = settings(false, &["contoso.com"]);
        assert!(matches!(
            admit(
                &off,
                &who(Some("new@contoso.com"), Some(true)),
                Known::Unknown
            ),
            Admission::Refused(Refusal::Unknown { .. })
        ));
        let on = settings(true, &["contoso.com"]);
        match admit(
            &on,
            &who(Some("New@Contoso.com"), Some(true)),
            Known::Unknown,
        ) {
            Admission::Create { display_name, .. } => assert_eq!(display_name, "Ada Lovelace"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            admit(
                &on,
                &who(Some("x@fabrikam.com"), Some(true)),
                Known::Unknown
            ),
            Admission::Refused(Refusal::DomainNotAllowed { .. })
        ));
        assert!(matches!(
            admit(
                &on,
                &who(Some("x@sub.contoso.com"), Some(true)),
                Known::Unknown
            ),
            Admission::Refused(Refusal::DomainNotAllowed { .. })
        ));
    }
}
