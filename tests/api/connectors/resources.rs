//! Connectors and connector values through the API: a SCIM connector is answered
//! without its token (only that one is set), sealed at rest, kept out of audit; roles
//! come as names or `{displayName, connectorValue}`; every bad value is a 422 at its
//! field path; a private SCIM target is refused unless the operator allows it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::error_fields;
use crate::helpers::{TestApp, uuid_of};

const TOKEN: &str = "scim-bearer-token-0123456789-abcdef";

#[tokio::test]
async fn a_scim_connector_and_connector_values_are_answered_without_the_token() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let path = format!("/api/v1/catalogs/{general}/resources");

    let (status, resource) = app
        .post(
            &t.admin,
            &path,
            json!({"kind": "application", "displayName": "Wiki",
                   "roles": ["Reader", {"displayName": "Editor", "connectorValue": "Wiki Editors"},
                             {"displayName": "Owner"}],
                   "connector": {"type": "scim", "baseUrl": "http://127.0.0.1:9/scim/v2/", "token": TOKEN}}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{resource}");
    assert_eq!(
        resource["connector"],
        json!({"type": "scim", "baseUrl": "http://127.0.0.1:9/scim/v2", "tokenSet": true,
               "deactivateOnLastRevoke": true})
    );
    let values: Vec<(&str, &str)> = resource["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|r| {
            (
                r["displayName"].as_str().unwrap_or_default(),
                r["connectorValue"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        values,
        vec![
            ("Reader", "Reader"),
            ("Editor", "Wiki Editors"),
            ("Owner", "Owner")
        ]
    );
    let id = uuid_of(&resource["id"]);
    let (_, list) = app.get(&t.admin, &path).await;
    assert_eq!(list["items"][0], resource, "listed as answered");
    let (_, audit) = app.get(&t.admin, "/api/v1/auditEvents").await;
    let stored: String = sqlx::query_scalar("select connector_secret from resources where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("stored");
    assert!(stored.starts_with("enc:v1:"), "sealed at rest: {stored}");
    let rows: Vec<Value> = sqlx::query_scalar("select details from audit_events")
        .fetch_all(&app.pool)
        .await
        .expect("audit rows");
    for text in [
        resource.to_string(),
        list.to_string(),
        audit.to_string(),
        json!(rows).to_string(),
        stored,
    ] {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
    assert!(
        json!(rows).to_string().contains("Wiki Editors"),
        "the audit shows the connector values"
    );

    // Switched off, deactivation is kept as sent.
    let (status, kept) = app
        .post(
            &t.admin,
            &path,
            json!({"kind": "site", "displayName": "Intranet", "roles": ["Reader"],
                   "connector": {"type": "scim", "baseUrl": "https://scim.example.com/v2",
                                 "token": TOKEN, "deactivateOnLastRevoke": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{kept}");
    assert_eq!(kept["connector"]["deactivateOnLastRevoke"], false);
}

#[tokio::test]
async fn every_bad_connector_or_role_value_is_a_422_at_its_field_path() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let path = format!("/api/v1/catalogs/{general}/resources");
    let scim = |connector: Value| {
        let mut c =
            json!({"type": "scim", "baseUrl": "https://scim.example.com/v2", "token": TOKEN});
        for (k, v) in connector.as_object().expect("object") {
            c[k] = v.clone();
        }
        json!({"kind": "application", "displayName": "Wiki", "roles": ["Reader"], "connector": c})
    };
    let with_roles = |roles: Value| {
        json!({"kind": "application", "displayName": "Wiki", "roles": roles,
               "connector": {"type": "scim", "baseUrl": "https://scim.example.com/v2", "token": TOKEN}})
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (scim(json!({"baseUrl": null})), vec!["connector.baseUrl"]),
        (
            scim(json!({"baseUrl": "ftp://scim.example.com/v2"})),
            vec!["connector.baseUrl"],
        ),
        (
            scim(json!({"baseUrl": "not a url"})),
            vec!["connector.baseUrl"],
        ),
        (
            scim(json!({"baseUrl": "https://scim.example.com/v2?tenant=1"})),
            vec!["connector.baseUrl"],
        ),
        (
            scim(json!({"baseUrl": "https://user:pw@scim.example.com/v2"})),
            vec!["connector.baseUrl"],
        ),
        (scim(json!({"token": null})), vec!["connector.token"]),
        (scim(json!({"token": "two words"})), vec!["connector.token"]),
        (scim(json!({"token": "   "})), vec!["connector.token"]),
        (
            scim(json!({"url": "https://hooks.example.com"})),
            vec!["connector.url"],
        ),
        (
            scim(json!({"secret": "0123456789abcdef"})),
            vec!["connector.secret"],
        ),
        (
            scim(json!({"deactivateOnLastRevoke": "yes"})),
            vec!["connector.deactivateOnLastRevoke"],
        ),
        (scim(json!({"type": "smtp"})), vec!["connector.type"]),
        (
            json!({"kind": "application", "displayName": "Wiki", "roles": ["Reader"],
                   "connector": {"type": "webhook", "url": "https://hooks.example.com/x",
                                 "secret": "0123456789abcdef", "token": TOKEN}}),
            vec!["connector.token"],
        ),
        (
            with_roles(json!(["Reader", {"displayName": "Editor", "connectorValue": ""}])),
            vec!["roles[1].connectorValue"],
        ),
        (
            with_roles(json!(["Reader", {"displayName": "Editor", "connectorValue": "a\nb"}])),
            vec!["roles[1].connectorValue"],
        ),
        (
            with_roles(json!([{"connectorValue": "Editors"}])),
            vec!["roles[0].displayName"],
        ),
        (
            with_roles(json!(["Reader", {"displayName": "  ", "connectorValue": "Editors"}])),
            vec!["roles[1].displayName"],
        ),
        (
            with_roles(json!([{"displayName": "Editor", "connectorValue": "Staff"},
                              {"displayName": "Viewer", "connectorValue": "staff"}])),
            vec!["roles[1].connectorValue"],
        ),
        (
            with_roles(json!(["Reader", {"displayName": "reader"}])),
            vec!["roles[1].displayName"],
        ),
        (with_roles(json!(["Reader", 42])), vec!["roles[1]"]),
        (
            with_roles(json!([{"displayName": 7}])),
            vec!["roles[0].displayName"],
        ),
    ];
    for (body, fields) in cases {
        let (status, problem) = app.post(&t.admin, &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        assert_eq!(error_fields(&problem), fields, "{body} → {problem}");
        assert!(
            !problem.to_string().contains(TOKEN),
            "no token in errors: {problem}"
        );
    }
    let (_, list) = app.get(&t.admin, &path).await;
    assert_eq!(list["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn private_scim_targets_are_refused_unless_the_operator_allows_them() {
    let app = TestApp::spawn_with_settings(&[("PORTICO_WEBHOOK_ALLOW_PRIVATE", "false")]).await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    for base in [
        "http://127.0.0.1:8080/scim/v2",
        "http://localhost/scim",
        "http://169.254.169.254/latest",
    ] {
        let (status, problem) = app
            .post(
                &t.admin,
                &format!("/api/v1/catalogs/{general}/resources"),
                json!({"kind": "application", "displayName": "Wiki", "roles": ["Reader"],
                       "connector": {"type": "scim", "baseUrl": base, "token": TOKEN}}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{base}: {problem}"
        );
        let message = problem["errors"]["connector.baseUrl"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains("PORTICO_WEBHOOK_ALLOW_PRIVATE") && message.contains("SCIM base URL"),
            "{message}"
        );
    }
}
