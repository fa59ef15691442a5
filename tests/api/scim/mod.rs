//! The SCIM 2.0 server (INTEGRATIONS.md §2): discovery, Users, Groups, PATCH dialects,
//! tokens, and what the directory drives in Portico. `Scim` calls `/scim/v2/{slug}`
//! with a SCIM token of the tenant.

mod checks;
mod directory;
mod discovery;
mod filters;
mod groups;
mod replays;
mod statistics;
mod tokens;
mod users;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, read};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM client of one tenant.
pub struct Scim<'a> {
    pub app: &'a TestApp,
    pub slug: String,
    pub token: String,
}

/// A SCIM token made by the tenant's admin through the API.
pub async fn scim_token(app: &TestApp, t: &TestTenant) -> String {
    let (status, body) = app
        .post(
            &t.admin,
            "/api/v1/tenant/scimTokens",
            json!({"name": "IdP"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().expect("token").to_string()
}

pub async fn scim<'a>(app: &'a TestApp, t: &TestTenant) -> Scim<'a> {
    Scim {
        app,
        slug: t.slug.clone(),
        token: scim_token(app, t).await,
    }
}

impl Scim<'_> {
    pub fn path(&self, rest: &str) -> String {
        format!("/scim/v2/{}{rest}", self.slug)
    }

    /// Sends a call; returns the status, the body and the content type.
    pub async fn send(
        &self,
        method: Method,
        rest: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, String) {
        let mut req = self.app.request(method, &self.token, &self.path(rest));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let res = req.send().await.expect("send");
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let (status, body) = read(res).await;
        (status, body, ct)
    }

    pub async fn get(&self, rest: &str) -> (StatusCode, Value) {
        let (s, b, _) = self.send(Method::GET, rest, None).await;
        (s, b)
    }

    pub async fn post(&self, rest: &str, body: Value) -> (StatusCode, Value) {
        let (s, b, _) = self.send(Method::POST, rest, Some(body)).await;
        (s, b)
    }

    pub async fn put(&self, rest: &str, body: Value) -> (StatusCode, Value) {
        let (s, b, _) = self.send(Method::PUT, rest, Some(body)).await;
        (s, b)
    }

    pub async fn patch(&self, rest: &str, ops: Value) -> (StatusCode, Value) {
        let (s, b, _) = self
            .send(
                Method::PATCH,
                rest,
                Some(json!({"schemas": [PATCH], "Operations": ops})),
            )
            .await;
        (s, b)
    }

    pub async fn delete(&self, rest: &str) -> StatusCode {
        self.send(Method::DELETE, rest, None).await.0
    }

    /// Creates a user with this email as userName; returns its SCIM id.
    pub async fn user(&self, email: &str, extra: Value) -> String {
        let mut body = json!({"schemas": [USER], "userName": email, "active": true,
            "name": {"givenName": "Given", "familyName": email.split('@').next().unwrap_or(email)}});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let (status, user) = self.post("/Users", body).await;
        assert_eq!(status, StatusCode::CREATED, "create {email}: {user}");
        user["id"].as_str().expect("id").to_string()
    }

    /// Creates a group; returns its SCIM id.
    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let (status, group) = self
            .post(
                "/Groups",
                json!({"schemas": [GROUP], "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create group {name}: {group}");
        group["id"].as_str().expect("id").to_string()
    }

    /// The ids of the group's SCIM members.
    pub async fn members(&self, group: &str) -> Vec<String> {
        let (status, g) = self.get(&format!("/Groups/{group}")).await;
        assert_eq!(status, StatusCode::OK, "{g}");
        let mut ids: Vec<String> = g["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter_map(|x| x["value"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }
}
