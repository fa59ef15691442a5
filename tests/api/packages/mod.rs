//! Access packages and their policies: defaults, validation with field paths, who may
//! see and change what, PUT round trips, deletion rules, and tenant isolation.
//!
//! The tests are grouped by area in the submodules; the helpers they share live here.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, uuid_of};

mod authorization;
mod crud;
mod deletion;
mod policies;

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

async fn catalog(app: &TestApp, t: &TestTenant, body: Value) -> uuid::Uuid {
    let (status, created) = app.post(&t.admin, "/api/v1/catalogs", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    uuid_of(&created["id"])
}

/// An application resource in `catalog`; returns the ids of its roles.
async fn roles_in(
    app: &TestApp,
    t: &TestTenant,
    catalog: uuid::Uuid,
    names: &[&str],
) -> Vec<uuid::Uuid> {
    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "App", "roles": names}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    resource["roles"]
        .as_array()
        .map(|roles| roles.iter().map(|r| uuid_of(&r["id"])).collect())
        .unwrap_or_default()
}

async fn package(app: &TestApp, t: &TestTenant, body: Value) -> Value {
    let (status, created) = app.post(&t.admin, "/api/v1/accessPackages", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn policy(app: &TestApp, t: &TestTenant, package: uuid::Uuid, body: Value) -> Value {
    let (status, created) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{package}/policies"),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

fn minimal_policy() -> Value {
    json!({"displayName": "Everyone", "requestors": {"scope": "allMembers"}})
}

/// `base` with the top-level fields of `overrides` replaced.
fn with(base: Value, overrides: Value) -> Value {
    let mut out = base;
    if let (Some(o), Some(e)) = (out.as_object_mut(), overrides.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    out
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p["displayName"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
