//! The admin page "Sign-in and directory": the provider's settings with their field
//! errors, a test sign-in that signs nobody in, removal; SCIM tokens shown once, used
//! and revoked; what the directory last did; who may not use it.

use reqwest::StatusCode;
use serde_json::json;

use super::{CLIENT_ID, CLIENT_SECRET, app, redirect_uri};
use crate::helpers::oidc::{IdpClient, TestIdp};
use crate::helpers::portal::{Answer, Browser, admin_of, sign_in};

const PAGE: &str = "/admin/sign-in";

fn provider_fields(idp: &TestIdp) -> Vec<(&'static str, String)> {
    vec![
        ("displayName", "Acme SSO".into()),
        ("issuer", idp.issuer.clone()),
        ("clientId", CLIENT_ID.into()),
        ("clientSecret", CLIENT_SECRET.into()),
        ("scopes", "openid email profile".into()),
        ("emailClaim", "email".into()),
        ("allowedDomains", String::new()),
        ("emailLinkSignIn", "true".into()),
    ]
}

async fn post_owned(b: &Browser, path: &str, fields: &[(&'static str, String)]) -> Answer {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(path, &pairs).await
}

#[tokio::test]
async fn an_admin_sets_tests_and_removes_the_provider_from_the_page() {
    let app = app().await;
    let (t, b) = admin_of(&app, "acme").await;
    let idp = TestIdp::start(vec![IdpClient::new(
        CLIENT_ID,
        CLIENT_SECRET,
        &redirect_uri(&app, "acme"),
    )])
    .await;
    idp.add_account("ada@acme.test", true, "Ada Lovelace").await;
    app.user(&t, "ada@acme.test", json!({"displayName": "Ada Lovelace"}))
        .await;

    let page = b.get(PAGE).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("No identity provider yet"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&redirect_uri(&app, "acme")));
    assert!(page.body.contains(&format!("{}/scim/v2/acme", app.address)));
    assert!(
        !page.body.contains("Test sign-in</button>"),
        "nothing to test yet"
    );

    // Every bad field is named, next to the field and in the summary.
    let bad = b
        .post(
            PAGE,
            &[
                ("displayName", ""),
                ("issuer", "not a url"),
                ("clientId", ""),
                ("clientSecret", ""),
                ("scopes", "email"),
                ("createUsers", "true"),
                ("allowedDomains", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    for field in [
        "displayName",
        "issuer",
        "clientId",
        "clientSecret",
        "scopes",
        "allowedDomains",
    ] {
        assert!(
            bad.body.contains(&format!("id=\"f-{field}-error\"")),
            "{field} has its error: {}",
            bad.body
        );
    }
    assert!(bad.body.contains("not a url"), "the input comes back");

    // An issuer that does not answer is named too, and nothing is stored.
    let mut unreachable = provider_fields(&idp);
    unreachable[1].1 = "http://127.0.0.1:9/".into();
    let bad = post_owned(&b, PAGE, &unreachable).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"f-issuer-error\""), "{}", bad.body);
    assert!(
        !bad.body.contains(CLIENT_SECRET),
        "the secret is never echoed"
    );

    let saved = post_owned(&b, PAGE, &provider_fields(&idp)).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = b.get(PAGE).await;
    assert!(
        page.body
            .contains("People sign in with <strong>Acme SSO</strong>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("A secret is stored and never shown"));
    assert!(!page.body.contains(CLIENT_SECRET));

    // Saving again without a secret keeps it.
    let mut renamed = provider_fields(&idp);
    renamed[0].1 = "Acme Login".into();
    renamed[3].1 = String::new();
    let saved = post_owned(&b, PAGE, &renamed).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, api) = app.get(&t.admin, "/api/v1/tenant/identityProvider").await;
    assert_eq!(api["displayName"], "Acme Login");
    assert_eq!(api["clientSecretSet"], true);

    // The test sign-in goes through the provider and back, and signs nobody in.
    let sessions_before: i64 =
        sqlx::query_scalar("select count(*) from sessions where tenant_id = $1")
            .bind(t.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let started = b.get(&format!("{PAGE}/test")).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let to_provider = started.location.expect("to the provider");
    assert!(to_provider.starts_with(&idp.issuer), "{to_provider}");
    let callback = idp
        .sign_in_over_http(&b.client, &to_provider, "ada@acme.test")
        .await;
    let back = b.client.get(&callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let location = back.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("/t/acme/admin/sign-in"), "{location}");
    let page = b.get(PAGE).await;
    assert!(
        page.body.contains("Test sign-in worked") && page.body.contains("Ada Lovelace"),
        "{}",
        page.body
    );
    let sessions_after: i64 =
        sqlx::query_scalar("select count(*) from sessions where tenant_id = $1")
            .bind(t.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(sessions_after, sessions_before, "a test opens no session");

    let removed = b.post(&format!("{PAGE}/remove"), &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    let page = b.get(PAGE).await;
    assert!(page.body.contains("No identity provider yet"));
    let test = b.get(&format!("{PAGE}/test")).await;
    assert_eq!(test.status, StatusCode::CONFLICT, "{}", test.body);
}

fn revoke_action(html: &str) -> String {
    let at = html.find("/admin/sign-in/tokens/").expect("a revoke form");
    let end = html[at..].find('"').expect("end of action");
    html[at..at + end].to_string()
}

#[tokio::test]
async fn scim_tokens_are_shown_once_work_only_until_revoked_and_their_calls_are_shown() {
    let app = app().await;
    let (_t, b) = admin_of(&app, "acme").await;
    let page = b.get(PAGE).await;
    assert!(page.body.contains("No SCIM token yet"));
    assert!(page.body.contains("No SCIM call yet"));

    let long = "x".repeat(300);
    let bad = b
        .post(&format!("{PAGE}/tokens"), &[("name", long.as_str())])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"f-name-error\""), "{}", bad.body);

    let created = b
        .client
        .post(b.url(&format!("{PAGE}/tokens")))
        .form(&[
            ("csrf_token", b.csrf().await.as_str()),
            ("name", "Entra ID"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let html = created.text().await.unwrap();
    let at = html.find("pscim_").expect("the token is shown");
    let token: String = html[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert!(token.len() > 40, "{token}");
    let page = b.get(PAGE).await;
    assert!(!page.body.contains(&token), "shown once only");
    assert!(page.body.contains("Entra ID") && page.body.contains("Active"));

    let users = format!("{}/scim/v2/acme/Users", app.address);
    let call = app
        .client
        .get(&users)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), StatusCode::OK);
    let page = b.get(PAGE).await;
    assert!(page.body.contains("GET /Users → 200"), "{}", page.body);

    let action = revoke_action(&page.body);
    let revoked = b.post(&action, &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    let call = app
        .client
        .get(&users)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
    let page = b.get(PAGE).await;
    assert!(page.body.contains("Revoked"));
    assert!(!page.body.contains("/revoke\""), "nothing left to revoke");
}

#[tokio::test]
async fn people_who_do_not_manage_the_directory_cannot_use_the_page_and_forms_need_csrf() {
    let app = app().await;
    let (t, admin) = admin_of(&app, "acme").await;
    app.user(&t, "ada@acme.test", json!({"displayName": "Ada Lovelace"}))
        .await;
    let member = sign_in(&app, "acme", "ada@acme.test").await;
    let page = member.get(PAGE).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    let test = member.get(&format!("{PAGE}/test")).await;
    assert_eq!(test.status, StatusCode::FORBIDDEN, "{}", test.body);
    for path in ["", "/remove", "/tokens"] {
        let posted = member
            .post(&format!("{PAGE}{path}"), &[("name", "x")])
            .await;
        assert_eq!(
            posted.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            posted.body
        );
    }
    let forged = admin
        .post_raw(&format!("{PAGE}/tokens"), &[("name", "x")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "no CSRF token");
    let tokens: i64 = sqlx::query_scalar("select count(*) from scim_tokens where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tokens, 0);
}
