//! Webhook resources made before connectors were typed: the migration turns their
//! URL into a webhook connector and their roles' names into connector values, their
//! sealed secret still opens, and the webhook keeps delivering signed calls.

use portico::crypto::Keys;
use portico::domain::ids::{ResourceId, TenantId};
use portico::services;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::wait_for;
use crate::fixtures::{self, open_policy, request};
use crate::helpers::{TEST_SECRET_KEY, TestApp, TestTenant, fresh_database};
use crate::webhooks::{Receiver, SECRET};

/// The last migration before connectors were typed.
const BEFORE_TYPED_CONNECTORS: i64 = 20261203100000 - 1;

#[tokio::test]
async fn an_existing_webhook_resource_is_migrated_and_keeps_delivering() {
    // A database as it was before typed connectors, with a tenant made by the product.
    let database = fresh_database().await;
    let pool = portico::db::connect(database.options.clone(), 8)
        .await
        .expect("connect");
    sqlx::raw_sql("drop schema public cascade; create schema public;")
        .execute(&pool)
        .await
        .expect("empty schema");
    portico::db::migrator()
        .run_to(BEFORE_TYPED_CONNECTORS, &pool)
        .await
        .expect("migrate to before typed connectors");
    // The tenant, its admin and its "General" catalog as the product wrote them then
    // (today's services write columns later migrations added).
    let (tenant, admin, catalog) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "insert into tenants (id, slug, display_name, created_at, updated_at)
         values ('{tenant}', 'contoso', 'Contoso', now(), now());
         insert into users (tenant_id, id, email, display_name, kind, created_at, updated_at)
         values ('{tenant}', '{admin}', 'admin@contoso.test', 'admin', 'member', now(), now());
         insert into role_assignments (tenant_id, id, role, user_id, created_at)
         values ('{tenant}', '{role_assignment}', 'tenantAdmin', '{admin}', now());
         insert into catalogs (tenant_id, id, display_name, created_at, updated_at)
         values ('{tenant}', '{catalog}', 'General', now(), now());",
        role_assignment = Uuid::now_v7(),
    )))
    .execute(&pool)
    .await
    .expect("a tenant of before");
    let (receiver, url) = Receiver::start(0).await;
    let (resource, role, group_role) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let keys = Keys::derive(TEST_SECRET_KEY);
    let sealed = keys.seal(
        SECRET,
        &services::catalogs::connector_secret_context(TenantId(tenant), ResourceId(resource)),
    );
    let group = Uuid::now_v7();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "insert into resources (tenant_id, id, catalog_id, kind, display_name, connector_url, connector_secret,
                                added_by_tenant_admin, created_at, updated_at)
         values ('{t}', '{resource}', '{catalog}', 'application', 'Ticketing', '{url}', '{sealed}', true, now(), now());
         insert into resource_roles (tenant_id, id, resource_id, display_name, created_at)
         values ('{t}', '{role}', '{resource}', 'Agent', now());
         insert into groups (tenant_id, id, display_name, created_at, updated_at)
         values ('{t}', '{group}', 'Staff', now(), now());
         insert into resources (tenant_id, id, catalog_id, kind, group_id, display_name, added_by_tenant_admin,
                                created_at, updated_at)
         values ('{t}', '{gr}', '{catalog}', 'group', '{group}', 'Staff', true, now(), now());
         insert into resource_roles (tenant_id, id, resource_id, display_name, group_relation, created_at)
         values ('{t}', '{group_role}', '{gr}', 'Member', 'member', now());",
        t = tenant,
        gr = Uuid::now_v7(),
    )))
    .execute(&pool)
    .await
    .expect("a webhook resource of before");

    portico::db::migrate(&pool).await.expect("migrate");

    let migrated: (Value, String) =
        sqlx::query_as("select connector, connector_secret from resources where id = $1")
            .bind(resource)
            .fetch_one(&pool)
            .await
            .expect("migrated resource");
    assert_eq!(migrated.0, json!({"type": "webhook", "url": url}));
    assert_eq!(migrated.1, sealed, "the sealed secret is untouched");
    let values: Vec<(Uuid, Option<String>)> =
        sqlx::query_as("select id, connector_value from resource_roles order by display_name")
            .fetch_all(&pool)
            .await
            .expect("roles");
    assert_eq!(
        values,
        vec![(role, Some("Agent".into())), (group_role, None)]
    );

    // The server on the migrated database answers and delivers as before.
    let app = TestApp::spawn_on(pool.clone(), database.options.clone()).await;
    let token = app.token("contoso", "admin@contoso.test").await;
    let t = TestTenant {
        slug: "contoso".into(),
        id: tenant,
        admin_id: admin,
        admin_email: "admin@contoso.test".into(),
        admin: token.clone(),
    };
    let (status, list) = app
        .get(&token, &format!("/api/v1/catalogs/{catalog}/resources"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ticketing = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["id"] == resource.to_string())
        .cloned()
        .expect("listed");
    assert_eq!(
        ticketing["connector"],
        json!({"type": "webhook", "url": url, "secretSet": true})
    );
    assert_eq!(ticketing["roles"][0]["connectorValue"], "Agent");
    let package = fixtures::package(&app, &t, catalog, "Ticketing", &[role]).await;
    fixtures::policy(&app, &t, package, open_policy(json!({}))).await;
    let (_, user_token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (status, req) = request(&app, &user_token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    let assignment = req["assignmentId"].as_str().expect("id").to_string();
    wait_for(&app, &user_token, &assignment, |a| {
        a["state"] == "delivered"
    })
    .await;
    let calls = receiver.wait_for(1).await;
    let body: Value = serde_json::from_str(&calls[0].body).expect("json");
    assert_eq!(body["type"], "grant");
    assert_eq!(body["role"]["id"], role.to_string());
    assert!(calls[0].signature.starts_with("v1,"));
}
