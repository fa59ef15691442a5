//! `/api/v1/tenant/identityProvider`: tenant admins set it after a discovery check; the
//! secret is write-only and sealed; every bad field is named.

use reqwest::StatusCode;
use serde_json::json;

use super::{CLIENT_SECRET, app, connected, settings_body};
use crate::helpers::oidc::{IdpClient, TestIdp};

const PATH: &str = "/api/v1/tenant/identityProvider";

#[tokio::test]
async fn an_admin_sets_reads_and_removes_the_provider_and_the_secret_never_comes_back() {
    let app = app().await;
    let (t, idp) = connected(&app, json!({})).await;

    let (status, got) = app.get(&t.admin, PATH).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["issuer"], idp.issuer.as_str());
    assert_eq!(got["clientSecretSet"], true);
    assert_eq!(got["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(got["emailLinkSignIn"], true);
    assert_eq!(
        got["redirectUri"],
        format!("{}/t/acme/oidc/callback", app.address)
    );
    assert!(!got.to_string().contains(CLIENT_SECRET), "{got}");

    // Sealed at rest, bound to the tenant.
    let stored: String =
        sqlx::query_scalar("select client_secret from identity_providers where tenant_id = $1")
            .bind(t.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    assert!(!stored.contains(CLIENT_SECRET));

    // A later PUT without the secret keeps it.
    let mut body = settings_body(&idp);
    body.as_object_mut().unwrap().remove("clientSecret");
    body["displayName"] = json!("Acme Login");
    let (status, got) = app.put(&t.admin, PATH, body).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["displayName"], "Acme Login");
    let after: String =
        sqlx::query_scalar("select client_secret from identity_providers where tenant_id = $1")
            .bind(t.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(after, stored);

    // The sign-in page offers it.
    let page = app
        .client
        .get(format!("{}/t/acme/sign-in", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with Acme Login"), "{page}");

    let (status, _) = app.delete(&t.admin, PATH).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&t.admin, PATH).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete(&t.admin, PATH).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_events where tenant_id = $1 and action like 'tenant.identityProvider%'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn every_bad_field_is_named_and_nothing_is_stored() {
    let app = app().await;
    let t = app.tenant("acme").await;
    let (status, problem) = app
        .put(
            &t.admin,
            PATH,
            json!({"type": "saml", "issuer": "not a url", "scopes": ["email"],
                   "createUsers": true}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let errors = &problem["errors"];
    for field in [
        "type",
        "displayName",
        "issuer",
        "clientId",
        "clientSecret",
        "scopes",
        "allowedDomains",
    ] {
        assert!(errors.get(field).is_some(), "{field}: {problem}");
    }
    let (status, _) = app.get(&t.admin, PATH).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_issuer_whose_discovery_fails_is_refused_with_the_reason() {
    let app = app().await;
    let t = app.tenant("acme").await;
    // Nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, problem) = app
        .put(
            &t.admin,
            PATH,
            json!({"type": "oidc", "displayName": "X", "issuer": format!("http://127.0.0.1:{port}"),
                   "clientId": "a", "clientSecret": "b"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let why = problem["errors"]["issuer"].as_str().unwrap_or_default();
    assert!(
        why.contains("discovery document could not be fetched"),
        "{problem}"
    );

    // An issuer that answers, but as another issuer: its document does not fit.
    let idp = TestIdp::start(vec![IdpClient::new("a", "b", "http://x/cb")]).await;
    let (status, problem) = app
        .put(
            &t.admin,
            PATH,
            json!({"type": "oidc", "displayName": "X", "issuer": format!("{}/", idp.issuer.replace("127.0.0.1", "localhost")),
                   "clientId": "a", "clientSecret": "b"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["issuer"].as_str().is_some(), "{problem}");
}

#[tokio::test]
async fn only_tenant_admins_may_read_or_change_the_provider() {
    let app = app().await;
    let (t, idp) = connected(&app, json!({})).await;
    let (_, member) = app.user(&t, "bob@acme.test", json!({})).await;
    assert_eq!(app.get(&member, PATH).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.put(&member, PATH, settings_body(&idp)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.delete(&member, PATH).await.0, StatusCode::FORBIDDEN);
    // Another tenant's admin sees no provider of theirs.
    let other = app.tenant("globex").await;
    assert_eq!(app.get(&other.admin, PATH).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_http_issuer_is_refused_where_private_targets_are_not_allowed() {
    let app =
        crate::helpers::TestApp::spawn_with_settings(&[("PORTICO_WEBHOOK_ALLOW_PRIVATE", "false")])
            .await;
    let t = app.tenant("acme").await;
    let (status, problem) = app
        .put(
            &t.admin,
            PATH,
            json!({"type": "oidc", "displayName": "X", "issuer": "http://127.0.0.1:9",
                   "clientId": "a", "clientSecret": "b"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["errors"]["issuer"]
            .as_str()
            .unwrap_or_default()
            .contains("https"),
        "{problem}"
    );
    let (status, problem) = app
        .put(
            &t.admin,
            PATH,
            json!({"type": "oidc", "displayName": "X", "issuer": "https://10.0.0.1",
                   "clientId": "a", "clientSecret": "b"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["errors"]["issuer"]
            .as_str()
            .unwrap_or_default()
            .contains("non-public"),
        "{problem}"
    );
}
