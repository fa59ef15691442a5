//! Typed connectors on resources: the SCIM 2.0 client connector delivering to a real
//! SCIM server (`helpers::scim_target`), the LDAP connector delivering to a real
//! OpenLDAP server (`helpers::slapd`), testing a connector and its health, connector settings and connector values
//! through the API (422s at their field paths, write-only secrets), and the admin
//! portal's delivery form.

mod admin;
mod connection;
mod ldap;
mod migration;
mod resources;
mod scim;
mod screens;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{self, open_policy};
use crate::helpers::scim_target::{ScimTarget, TOKEN};
use crate::helpers::{TestApp, TestTenant, uuid_of};

/// An application resource delivered by SCIM to `target`, with the roles
/// Editor ("App Editors" there) and Viewer ("App Viewers"); returns the resource
/// and its role ids by name.
pub async fn scim_resource(
    app: &TestApp,
    t: &TestTenant,
    catalog: Uuid,
    target: &ScimTarget,
    roles: Value,
) -> (Uuid, Vec<(String, Uuid)>) {
    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "Ticketing", "roles": roles,
                   "connector": {"type": "scim", "baseUrl": target.base_url, "token": TOKEN}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    let roles = resource["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| {
            (
                r["displayName"].as_str().expect("name").to_string(),
                uuid_of(&r["id"]),
            )
        })
        .collect();
    (uuid_of(&resource["id"]), roles)
}

/// A package of one role with an open policy.
pub async fn package_of(
    app: &TestApp,
    t: &TestTenant,
    catalog: Uuid,
    name: &str,
    role: Uuid,
) -> Uuid {
    let package = fixtures::package(app, t, catalog, name, &[role]).await;
    fixtures::policy(app, t, package, open_policy(json!({}))).await;
    package
}

/// Polls the assignment until `done` holds for it.
pub async fn wait_for(
    app: &TestApp,
    token: &str,
    assignment: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let (_, a) = app
            .get(token, &format!("/api/v1/assignments/{assignment}"))
            .await;
        if done(&a) {
            return a;
        }
        last = a;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the assignment never got there: {last}");
}

pub fn grant_state(a: &Value) -> &str {
    a["grants"][0]["state"].as_str().unwrap_or_default()
}

pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_object()
        .map(|e| e.keys().cloned().collect())
        .unwrap_or_default()
}
