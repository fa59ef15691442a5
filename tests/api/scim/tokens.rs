//! SCIM tokens: tenant-scoped, revocable, refused anywhere but their tenant's SCIM base;
//! API tokens are refused at /scim.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{scim, scim_token};
use crate::helpers::{TestApp, read};

#[tokio::test]
async fn tenant_admins_create_list_and_revoke_scim_tokens_and_a_revoked_token_answers_401() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (status, created) = app
        .post(
            &t.admin,
            "/api/v1/tenant/scimTokens",
            json!({"name": "Entra ID"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("token").to_string();
    assert!(token.starts_with("pscim_"));
    assert_eq!(created["name"], "Entra ID");
    assert!(created["createdAt"].is_string());
    let (status, list) = app.get(&t.admin, "/api/v1/tenant/scimTokens").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["name"], "Entra ID");
    assert!(
        list["items"][0].get("token").is_none(),
        "the secret is shown once"
    );

    let (status, _) = app.get(&token, "/scim/v2/acme/Users").await;
    assert_eq!(status, StatusCode::OK);
    let id = created["id"].as_str().expect("id");
    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/tenant/scimTokens/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let res = app
        .request(Method::GET, &token, "/scim/v2/acme/Users")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("application/scim+json")
    );
    let (_, body) = read(res).await;
    assert_eq!(body["status"], "401");
    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/tenant/scimTokens/{id}"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        app.audit_actions(uuid::Uuid::parse_str(id).expect("uuid"))
            .await
            .contains(&"scimToken.revoked".to_string())
    );
}

#[tokio::test]
async fn a_scim_token_works_only_under_its_own_tenants_scim_base() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let token = scim_token(&app, &acme).await;
    let (status, _) = app.get(&token, "/scim/v2/other/Users").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "another tenant's SCIM base"
    );
    let (status, _) = app.get(&token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a SCIM token on the API");
    let (status, _) = app.get(&acme.admin, "/scim/v2/acme/Users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an API token on SCIM");
    let res = app
        .client
        .get(format!("{}/scim/v2/acme/Users", app.address))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "no token");
    // Another tenant's admin cannot see or revoke acme's tokens.
    let (_, list) = app.get(&other.admin, "/api/v1/tenant/scimTokens").await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn members_who_are_not_tenant_admins_cannot_manage_scim_tokens() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, member) = app.user(&t, "m@acme.test", json!({})).await;
    let (status, _) = app
        .post(&member, "/api/v1/tenant/scimTokens", json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&member, "/api/v1/tenant/scimTokens").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn scim_calls_are_counted_in_the_tenants_activity() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    s.user("ada@acme.test", json!({})).await;
    let (count, created, method): (i64, i64, String) = sqlx::query_as(
        "select calls_total, users_created, last_method from scim_activity where tenant_id = $1",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("activity");
    assert_eq!((count, created, method.as_str()), (1, 1, "POST"));
}
