//! The authorization-code flow over plain HTTP against the real provider: who gets in,
//! and each refusal (wrong state, replay, other browser, provider error, tampered
//! tokens, unverified email, unknown people with and without JIT, deactivated people,
//! a flow left too long), plus key rotation between two sign-ins.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;
use url::Url;

use super::{app, browser, connected, redirect_uri, start_url};
use crate::helpers::TestApp;
use crate::helpers::oidc::{Tamper, TestIdp};
use crate::helpers::portal::input_value;

/// Signs `email` in at the provider; the callback URL Portico is sent back to.
async fn at_provider(
    app: &TestApp,
    idp: &TestIdp,
    client: &reqwest::Client,
    email: &str,
) -> String {
    let callback = idp
        .sign_in_over_http(client, &start_url(app, "acme"), email)
        .await;
    assert!(
        callback.starts_with(&redirect_uri(app, "acme")),
        "{callback}"
    );
    callback
}

async fn page(client: &reqwest::Client, url: &str) -> (StatusCode, Option<String>, String) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, location, r.text().await.unwrap())
}

async fn sessions_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from sessions s join users u on u.tenant_id = s.tenant_id and u.id = s.user_id
          where lower(u.email) = lower($1) and s.method = 'oidc'",
    )
    .bind(email)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Tests share this: a refusal page, and nobody signed in.
async fn refused(client: &reqwest::Client, callback: &str, status: StatusCode, says: &str) {
    let (got, _, body) = page(client, callback).await;
    assert_eq!(got, status, "{body}");
    assert!(body.contains(says), "expected {says:?} in {body}");
    assert!(
        body.contains("/t/acme/sign-in"),
        "a way back to the sign-in page"
    );
}

#[tokio::test]
async fn a_known_person_signs_in_with_pkce_state_and_nonce_and_lands_where_they_were_going() {
    let app = app().await;
    let (_t, idp) = connected(&app, json!({})).await;
    let client = browser();
    let start = format!("{}?next=/t/acme/requests", start_url(&app, "acme"));
    let callback = idp
        .sign_in_over_http(&client, &start, "ADA@acme.test")
        .await;

    let asked = idp.last_authorization().await;
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(
        asked["code_challenge"]
            .as_str()
            .is_some_and(|c| c.len() >= 43)
    );
    assert!(asked["state"].as_str().is_some_and(|s| s.len() >= 16));
    assert!(asked["nonce"].as_str().is_some_and(|s| s.len() >= 16));
    assert_eq!(asked["scope"], "openid email profile");
    assert_eq!(asked["client_id"], "portico");

    let (status, location, body) = page(&client, &callback).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location.as_deref(), Some("/t/acme/requests"));
    // The session works in the portal.
    let (status, _, home) = page(&client, &format!("{}/t/acme/", app.address)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Ada Lovelace"), "{home}");
    assert_eq!(sessions_of(&app, "ada@acme.test").await, 1);
    let last: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_sign_in_at from users where email = 'ada@acme.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(last.is_some());
}

#[tokio::test]
async fn a_replayed_callback_a_wrong_state_and_another_browser_are_refused() {
    let app = app().await;
    let (_t, idp) = connected(&app, json!({})).await;

    // Wrong and missing state.
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "ada@acme.test").await;
    let mut wrong = Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = wrong
        .query_pairs()
        .map(|(k, v)| {
            let forged = k == "state";
            (
                k.into_owned(),
                if forged {
                    "forged".into()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    wrong.query_pairs_mut().clear().extend_pairs(pairs.iter());
    refused(
        &client,
        wrong.as_str(),
        StatusCode::BAD_REQUEST,
        "not one Portico started",
    )
    .await;
    let bare = callback.split('?').next().unwrap().to_string() + "?code=abc";
    refused(
        &client,
        &bare,
        StatusCode::BAD_REQUEST,
        "does not say which sign-in",
    )
    .await;

    // Another browser (no binding cookie) with the real callback.
    let other = browser();
    refused(
        &other,
        &callback,
        StatusCode::BAD_REQUEST,
        "another browser",
    )
    .await;
    // That attempt spent the flow: the right browser cannot use it afterwards either.
    refused(&client, &callback, StatusCode::BAD_REQUEST, "already used").await;

    // Replay after a successful sign-in.
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "ada@acme.test").await;
    assert_eq!(page(&client, &callback).await.0, StatusCode::SEE_OTHER);
    refused(&client, &callback, StatusCode::BAD_REQUEST, "already used").await;
    assert_eq!(sessions_of(&app, "ada@acme.test").await, 1);
}

#[tokio::test]
async fn the_providers_error_is_shown_as_it_was_said() {
    let app = app().await;
    let (_t, idp) = connected(&app, json!({})).await;
    let client = browser();
    let (status, location, _) = page(&client, &start_url(&app, "acme")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = Url::parse(location.as_deref().unwrap()).unwrap();
    assert!(to.as_str().starts_with(&idp.issuer));
    let state = to
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let callback = format!(
        "{}?error=access_denied&error_description=The+user+said+no&state={state}",
        redirect_uri(&app, "acme")
    );
    refused(
        &client,
        &callback,
        StatusCode::BAD_REQUEST,
        "access_denied: The user said no",
    )
    .await;
}

#[tokio::test]
async fn tokens_with_a_wrong_audience_issuer_nonce_key_or_expiry_are_refused() {
    let app = app().await;
    let (_t, idp) = connected(&app, json!({})).await;
    for (tamper, says) in [
        (Tamper::WrongAudience, "issued for another application"),
        (Tamper::WrongIssuer, "issued by another identity provider"),
        (Tamper::BadNonce, "does not belong to this sign-in"),
        (
            Tamper::UnknownKey,
            "signed by a key the identity provider does not publish",
        ),
        (Tamper::Expired, "has expired"),
    ] {
        let client = browser();
        let callback = at_provider(&app, &idp, &client, "ada@acme.test").await;
        idp.tamper(tamper).await;
        refused(&client, &callback, StatusCode::BAD_REQUEST, says).await;
    }
    assert_eq!(sessions_of(&app, "ada@acme.test").await, 0);
}

#[tokio::test]
async fn a_key_rotated_at_the_provider_between_two_sign_ins_is_fetched_and_trusted() {
    let app = app().await;
    let (_t, idp) = connected(&app, json!({})).await;
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "ada@acme.test").await;
    assert_eq!(page(&client, &callback).await.0, StatusCode::SEE_OTHER);
    let kid = idp.rotate_keys().await;
    assert_eq!(idp.jwks_kids().await, vec![kid]);
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "ada@acme.test").await;
    let (status, _, body) = page(&client, &callback).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(sessions_of(&app, "ada@acme.test").await, 2);
}

#[tokio::test]
async fn an_unverified_email_a_deactivated_person_and_a_stranger_are_refused() {
    let app = app().await;
    let (t, idp) = connected(&app, json!({})).await;
    idp.add_account("eve@acme.test", false, "Eve").await;
    app.user(&t, "eve@acme.test", json!({})).await;
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "eve@acme.test").await;
    refused(&client, &callback, StatusCode::FORBIDDEN, "is not verified").await;

    idp.add_account("stranger@acme.test", true, "Stranger")
        .await;
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "stranger@acme.test").await;
    refused(
        &client,
        &callback,
        StatusCode::FORBIDDEN,
        "has nobody with that address",
    )
    .await;

    let (bob, _) = app.user(&t, "bob@acme.test", json!({})).await;
    idp.add_account("bob@acme.test", true, "Bob").await;
    let (status, _) = app.delete(&t.admin, &format!("/api/v1/users/{bob}")).await;
    assert!(status.is_success(), "{status}");
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "bob@acme.test").await;
    refused(&client, &callback, StatusCode::FORBIDDEN, "is deactivated").await;
    let users: i64 = sqlx::query_scalar("select count(*) from users where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 4, "admin, ada, eve, bob: nobody was created");
}

#[tokio::test]
async fn with_create_users_a_newcomer_of_an_allowed_domain_is_created_at_first_sign_in() {
    let app = app().await;
    let (t, idp) = connected(
        &app,
        json!({"createUsers": true, "allowedDomains": ["acme.test"]}),
    )
    .await;
    idp.add_account("grace@acme.test", true, "Grace Hopper")
        .await;
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "grace@acme.test").await;
    let (status, _, body) = page(&client, &callback).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (name, kind): (String, String) = sqlx::query_as(
        "select display_name, kind from users where tenant_id = $1 and email = 'grace@acme.test'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((name.as_str(), kind.as_str()), ("Grace Hopper", "member"));
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_events where tenant_id = $1 and action = 'user.created'
            and details->>'source' = 'identityProvider'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    idp.add_account("mallory@globex.test", true, "Mallory")
        .await;
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "mallory@globex.test").await;
    refused(
        &client,
        &callback,
        StatusCode::FORBIDDEN,
        "own email domains",
    )
    .await;
}

#[tokio::test]
async fn a_sign_in_left_for_more_than_ten_minutes_is_refused() {
    let app = app().await;
    let (_t, idp) = connected(&app, json!({})).await;
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "ada@acme.test").await;
    app.clock.advance(chrono::Duration::minutes(11));
    refused(
        &client,
        &callback,
        StatusCode::BAD_REQUEST,
        "longer than ten minutes",
    )
    .await;
}

#[tokio::test]
async fn with_email_links_off_the_email_form_is_gone_and_its_post_is_refused() {
    let app = app().await;
    let (t, idp) = connected(&app, json!({})).await;
    let client = browser();
    let sign_in = format!("{}/t/acme/sign-in", app.address);
    let (_, _, before) = page(&client, &sign_in).await;
    let csrf = input_value(&before, "csrf_token").expect("the email form's token");

    let mut body = super::settings_body(&idp);
    body["emailLinkSignIn"] = json!(false);
    let (status, _) = app
        .put(&t.admin, "/api/v1/tenant/identityProvider", body)
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, _, after) = page(&client, &sign_in).await;
    assert!(after.contains("Sign in with Acme SSO"), "{after}");
    assert!(!after.contains("Email me a sign-in link"), "{after}");
    let r = client
        .post(&sign_in)
        .form(&[("csrf_token", csrf.as_str()), ("email", "ada@acme.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("emailed sign-in links are turned off")
    );
    assert_eq!(
        crate::helpers::portal::links_sent(&app, "ada@acme.test").await,
        0
    );
}

#[tokio::test]
async fn starting_a_sign_in_without_a_provider_says_so() {
    let app = app().await;
    app.tenant("acme").await;
    let (status, _, body) = page(&browser(), &start_url(&app, "acme")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("does not sign in through an identity provider"),
        "{body}"
    );
}

#[tokio::test]
async fn flows_ended_more_than_a_day_ago_are_tidied_away_by_the_next_start() {
    let app = app().await;
    let (t, _idp) = connected(&app, json!({})).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from oidc_flows where tenant_id = $1")
            .bind(t.id)
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    assert_eq!(
        page(&browser(), &start_url(&app, "acme")).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        page(&browser(), &start_url(&app, "acme")).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(count().await, 2);
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(
        page(&browser(), &start_url(&app, "acme")).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(count().await, 1);
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_refused() {
    let app = app().await;
    let (_t, idp) = connected(&app, json!({})).await;
    let client = browser();
    let callback = at_provider(&app, &idp, &client, "ada@acme.test").await;
    let mut url = Url::parse(&callback).unwrap();
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "iss" && v == idp.issuer.as_str())
    );
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let other = k == "iss";
            (
                k.into_owned(),
                if other {
                    "https://evil.example".into()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs.iter());
    refused(
        &client,
        url.as_str(),
        StatusCode::BAD_REQUEST,
        "another identity provider",
    )
    .await;
    assert_eq!(sessions_of(&app, "ada@acme.test").await, 0);
}
