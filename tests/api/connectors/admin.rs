//! The admin portal's delivery forms: a resource added with a SCIM connector and
//! connector values, its connector form showing the token as stored (never its value)
//! and keeping it when left blank, and field errors re-rendered with 422.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::helpers::portal::admin_of;

const TOKEN: &str = "portal-scim-token-0123456789";

async fn stored(app: &TestApp, resource: Uuid) -> (serde_json::Value, String) {
    sqlx::query_as("select connector, connector_secret from resources where id = $1")
        .bind(resource)
        .fetch_one(&app.pool)
        .await
        .expect("resource")
}

#[tokio::test]
async fn an_admin_adds_a_scim_resource_and_changes_its_address_keeping_the_token() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let general = app.general_catalog(&t).await;

    let form = b
        .get(&format!(
            "/admin/catalogs/{general}/resources/new?kind=application"
        ))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"connector.baseUrl\""));
    assert!(form.body.contains("value=\"scim\""));

    // A bad token and a missing base URL come back at their fields, the token unechoed.
    let refused = b
        .post(
            &format!("/admin/catalogs/{general}/resources"),
            &[
                ("kind", "application"),
                ("displayName", "Wiki"),
                ("roles", "Reader\nEditor = Wiki Editors"),
                ("connector.type", "scim"),
                ("connector.token", "two words"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("SCIM base URL"), "{}", refused.body);
    assert!(refused.body.contains("the token holds spaces"));
    assert!(!refused.body.contains("two words"));

    let added = b
        .post(
            &format!("/admin/catalogs/{general}/resources"),
            &[
                ("kind", "application"),
                ("displayName", "Wiki"),
                ("roles", "Reader\nEditor = Wiki Editors"),
                ("connector.type", "scim"),
                ("connector.baseUrl", "http://127.0.0.1:9/scim/v2"),
                ("connector.token", TOKEN),
                ("connector.deactivateOnLastRevoke", "true"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let (resource, values): (Uuid, Vec<String>) = sqlx::query_as(
        "select r.id, array_agg(rr.connector_value order by rr.display_name) from resources r
           join resource_roles rr on rr.tenant_id = r.tenant_id and rr.resource_id = r.id
         where r.tenant_id = $1 and r.display_name = 'Wiki' group by r.id",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("resource");
    assert_eq!(values, vec!["Wiki Editors", "Reader"]);
    let page = b.get(&format!("/admin/catalogs/{general}")).await;
    assert!(page.body.contains("SCIM: http://127.0.0.1:9/scim/v2"));
    assert!(!page.body.contains(TOKEN));
    let (_, sealed_before) = stored(&app, resource).await;

    // The connector form: the token is stored, never shown; blank keeps it.
    let edit = format!("/admin/catalogs/{general}/resources/{resource}/connector");
    let shown = b.get(&edit).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("A token is stored"), "{}", shown.body);
    assert!(shown.body.contains("Wiki Editors"));
    assert!(!shown.body.contains(TOKEN));
    let saved = b
        .post(
            &edit,
            &[
                ("connector.type", "scim"),
                ("connector.baseUrl", "http://127.0.0.1:9/v2"),
                ("connector.token", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (connector, sealed_after) = stored(&app, resource).await;
    assert_eq!(
        connector,
        serde_json::json!({"type": "scim", "baseUrl": "http://127.0.0.1:9/v2",
                           "deactivateOnLastRevoke": false})
    );
    assert_eq!(sealed_after, sealed_before, "the token was kept");
    assert!(
        app.audit_actions(resource)
            .await
            .contains(&"resource.connectorChanged".to_string())
    );

    // Switching to a webhook needs its own secret: a blank one is not the SCIM token.
    let switched = b
        .post(
            &edit,
            &[
                ("connector.type", "webhook"),
                ("connector.url", "http://127.0.0.1:9/hook"),
            ],
        )
        .await;
    assert_eq!(switched.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        switched.body.contains("signing secret"),
        "{}",
        switched.body
    );

    // And back to recorded only: no connector, no secret.
    let none = b.post(&edit, &[("connector.type", "none")]).await;
    assert_eq!(none.status, StatusCode::SEE_OTHER, "{}", none.body);
    let row: (Option<serde_json::Value>, Option<String>) =
        sqlx::query_as("select connector, connector_secret from resources where id = $1")
            .bind(resource)
            .fetch_one(&app.pool)
            .await
            .expect("resource");
    assert_eq!(row, (None, None));
}
