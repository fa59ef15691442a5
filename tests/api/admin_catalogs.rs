//! Catalogs and resources in the admin portal: create, edit and disable catalogs, their
//! roles by email, resources picked from the directory or described with a webhook
//! connector, and removal unless a package uses them.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::TestApp;
use crate::helpers::portal::{admin_of, catalog_count, id_in};

#[tokio::test]
async fn admins_create_edit_and_disable_catalogs() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    assert_eq!(b.get("/admin/catalogs/new").await.status, StatusCode::OK);
    let created = b
        .post(
            "/admin/catalogs",
            &[
                ("displayName", "Operating systems"),
                ("description", "Beta programmes"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = id_in(&created.location);
    let page = b.get(&format!("/admin/catalogs/{id}")).await;
    assert!(page.body.contains("Operating systems"));
    assert!(page.body.contains("Catalog “Operating systems” created."));
    // The flash shows once.
    let again = b.get(&format!("/admin/catalogs/{id}")).await;
    assert!(!again.body.contains("created."));

    let edited = b
        .post(
            &format!("/admin/catalogs/{id}/edit"),
            &[
                ("displayName", "Operating systems (beta)"),
                ("description", "Beta programmes"),
                ("enabled", "true"),
                ("externallyVisible", "true"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let disabled = b
        .post(
            &format!("/admin/catalogs/{id}/enabled"),
            &[("enabled", "false")],
        )
        .await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER);
    let row: (String, bool, bool) = sqlx::query_as(
        "select display_name, enabled, externally_visible from catalogs where tenant_id = $1 and id = $2",
    )
    .bind(t.id)
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .expect("catalog");
    assert_eq!(row, ("Operating systems (beta)".to_string(), false, true));
    let list = b.get("/admin/catalogs").await;
    assert!(list.body.contains("Operating systems (beta)"));
    assert!(list.body.contains("Disabled"));
}

#[tokio::test]
async fn a_catalog_without_a_name_is_refused_with_the_message_at_its_field() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let before = catalog_count(&app, &t).await;
    let refused = b
        .post(
            "/admin/catalogs",
            &[("displayName", "   "), ("description", "kept")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("a name is required"));
    assert!(refused.body.contains("id=\"f-displayName-error\""));
    assert!(refused.body.contains(">kept</textarea>"), "input is kept");
    assert_eq!(catalog_count(&app, &t).await, before);
}

#[tokio::test]
async fn catalog_owners_grant_and_revoke_roles_by_email() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let general = app.general_catalog(&t).await;
    app.user(&t, "pm@acme.test", json!({})).await;
    let granted = b
        .post(
            &format!("/admin/catalogs/{general}/roles"),
            &[("role", "packageManager"), ("principal", "pm@acme.test")],
        )
        .await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    let page = b.get(&format!("/admin/catalogs/{general}")).await;
    assert!(page.body.contains("Access package manager"));
    assert!(page.body.contains("pm@acme.test"));

    let unknown = b
        .post(
            &format!("/admin/catalogs/{general}/roles"),
            &[("role", "catalogReader"), ("principal", "ghost@acme.test")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .body
            .contains("there is no user with the email address ghost@acme.test")
    );

    let rid: Uuid = sqlx::query_scalar(
        "select id from role_assignments where tenant_id = $1 and role = 'packageManager'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("role");
    let revoked = b
        .post(
            &format!("/admin/catalogs/{general}/roles/{rid}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let left: i64 = sqlx::query_scalar("select count(*) from role_assignments where id = $1")
        .bind(rid)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
}

#[tokio::test]
async fn resources_are_added_from_the_directory_and_removed_unless_in_use() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let general = app.general_catalog(&t).await;
    let group = fixtures::group(&app, &t, "Windows 11 Testing").await;

    let picker = b
        .get(&format!(
            "/admin/catalogs/{general}/resources/new?kind=group&q=windows"
        ))
        .await;
    assert_eq!(picker.status, StatusCode::OK);
    assert!(picker.body.contains("Windows 11 Testing"));
    let added = b
        .post(
            &format!("/admin/catalogs/{general}/resources"),
            &[("kind", "group"), ("groupId", &group.to_string())],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);

    // An application with roles and a webhook connector; its secret never comes back.
    let secret = "s3cret-s3cret-s3cret";
    let app_added = b
        .post(
            &format!("/admin/catalogs/{general}/resources"),
            &[
                ("kind", "application"),
                ("displayName", "Ticketing"),
                ("roles", "Reader\nAgent"),
                ("connector.type", "webhook"),
                ("connector.url", "http://127.0.0.1:9/hook"),
                ("connector.secret", secret),
            ],
        )
        .await;
    assert_eq!(
        app_added.status,
        StatusCode::SEE_OTHER,
        "{}",
        app_added.body
    );
    let page = b.get(&format!("/admin/catalogs/{general}")).await;
    assert!(page.body.contains("Ticketing"));
    assert!(page.body.contains("Reader, Agent"));
    assert!(!page.body.contains(secret));

    // Validation: a short secret and a duplicate role, each at its field.
    let refused = b
        .post(
            &format!("/admin/catalogs/{general}/resources"),
            &[
                ("kind", "site"),
                ("displayName", "Wiki"),
                ("roles", "Editor\neditor"),
                ("connector.type", "webhook"),
                ("connector.url", "http://127.0.0.1:9/hook"),
                ("connector.secret", "short"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("the secret must have at least 16 characters")
    );
    assert!(refused.body.contains("is named twice"));
    assert!(
        !refused.body.contains("value=\"short\""),
        "the secret is not echoed"
    );

    // A resource used by a package cannot be removed: 409 with the reason.
    let (resource, role): (Uuid, Uuid) = sqlx::query_as(
        "select r.id, rr.id from resources r join resource_roles rr on rr.tenant_id = r.tenant_id and rr.resource_id = r.id
          where r.tenant_id = $1 and r.group_id = $2 and rr.display_name = 'Member'",
    )
    .bind(t.id)
    .bind(group)
    .fetch_one(&app.pool)
    .await
    .expect("resource");
    fixtures::package(&app, &t, general, "Uses it", &[role]).await;
    let blocked = b
        .post(
            &format!("/admin/catalogs/{general}/resources/{resource}/remove"),
            &[],
        )
        .await;
    assert_eq!(blocked.status, StatusCode::CONFLICT);
    assert!(
        blocked
            .body
            .contains("Access packages use roles of this resource")
    );
    let ticketing: Uuid = sqlx::query_scalar(
        "select id from resources where tenant_id = $1 and display_name = 'Ticketing'",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("ticketing");
    let removed = b
        .post(
            &format!("/admin/catalogs/{general}/resources/{ticketing}/remove"),
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
}
