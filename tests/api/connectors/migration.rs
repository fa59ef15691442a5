//! Webhook resources made before connectors were typed: the migration turns their
//! URL into a webhook connector and their roles' names into connector values, their
//! sealed secret still opens, and the webhook keeps delivering signed calls.

use chrono::Utc;
use portico::crypto::Keys;
use portico::domain::ids::ResourceId;
use portico::domain::values::{DisplayName, EmailAddress, Slug};
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
    // Today's code writes the names kept with each audit event; the old schema has no
    // place for them, so they are lent for the tenant's creation and taken back.
    sqlx::raw_sql(
        "alter table audit_events add column actor_name text, add column target_name text;
         create function audit_person_name(uuid, uuid) returns text language sql as 'select null::text';
         create function audit_target_name(uuid, text, uuid) returns text language sql as 'select null::text';",
    )
    .execute(&pool)
    .await
    .expect("lend the audit name columns");
    let now = Utc::now();
    let (tenant, admin) = services::tenants::create(
        &pool,
        services::tenants::NewTenant {
            slug: Slug::parse("contoso").expect("slug"),
            display_name: DisplayName::parse("Contoso").expect("name"),
            admin_email: EmailAddress::parse("admin@contoso.test").expect("email"),
        },
        now,
    )
    .await
    .expect("tenant");
    sqlx::raw_sql(
        "alter table audit_events drop column actor_name, drop column target_name;
         drop function audit_person_name(uuid, uuid);
         drop function audit_target_name(uuid, text, uuid);",
    )
    .execute(&pool)
    .await
    .expect("take the audit name columns back");
    let catalog: Uuid = sqlx::query_scalar("select id from catalogs where tenant_id = $1")
        .bind(tenant.id)
        .fetch_one(&pool)
        .await
        .expect("catalog");
    let (receiver, url) = Receiver::start(0).await;
    let (resource, role, group_role) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let keys = Keys::derive(TEST_SECRET_KEY);
    let sealed = keys.seal(
        SECRET,
        &services::catalogs::connector_secret_context(tenant.id, ResourceId(resource)),
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
        t = tenant.id,
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
        id: tenant.id.0,
        admin_id: admin.id.0,
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
