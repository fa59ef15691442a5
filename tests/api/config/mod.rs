//! Configuration as code: export, plan and apply through the API and the command line.

mod admin;
mod api;
mod cli;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant};

pub const DEMO_ADMIN: &str = portico::services::demo::ADMIN_EMAIL;

/// A server with the demo tenant seeded; returns the demo admin's token.
pub async fn demo() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    portico::services::demo::seed(&app.pool, app.state.keys(), app.now())
        .await
        .expect("seed the demo");
    let token = app.token("contoso", DEMO_ADMIN).await;
    (app, token)
}

pub async fn export(app: &TestApp, token: &str) -> Value {
    let (status, doc) = app.get(token, "/api/v1/tenant/config").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

/// A new tenant holding the same people (email, name) and groups (name) as `contoso`,
/// and nothing else of its configuration but the "General" catalog every tenant has.
pub async fn copy_of_directory(app: &TestApp, slug: &str) -> TestTenant {
    let t = app.tenant(slug).await;
    let people: Vec<(String, String)> = sqlx::query_as(
        "select u.email, u.display_name from users u join tenants t on t.id = u.tenant_id
         where t.slug = 'contoso' order by u.email",
    )
    .fetch_all(&app.pool)
    .await
    .expect("people");
    for (email, name) in people {
        let (status, body) = app
            .post(
                &t.admin,
                "/api/v1/users",
                json!({"email": email, "displayName": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{email}: {body}");
    }
    let groups: Vec<String> = sqlx::query_scalar(
        "select g.display_name from groups g join tenants t on t.id = g.tenant_id
         where t.slug = 'contoso' order by g.display_name",
    )
    .fetch_all(&app.pool)
    .await
    .expect("groups");
    for name in groups {
        let (status, body) = app
            .post(&t.admin, "/api/v1/groups", json!({"displayName": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
    }
    t
}

/// The document's tenant roles without the one tenant admin every new tenant starts with.
pub fn without_roles_of(mut doc: Value, email: &str) -> Value {
    if let Some(roles) = doc["roles"].as_array_mut() {
        roles.retain(|r| r["user"] != json!(email));
    }
    doc
}
