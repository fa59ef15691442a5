//! Custom extensions in the admin portal: the catalog page's section (add, edit with
//! the secret kept, delete; 422 with each problem at its field; 409 naming the policy
//! that calls one), the policy editor's select per stage (a waiting extension only
//! where a request can be held), and the extension steps on the request pages of both
//! portals.

use reqwest::StatusCode;
use serde_json::json;

use super::{body_of, extension, package_with};
use crate::fixtures::{self, request};
use crate::helpers::TestApp;
use crate::helpers::portal::{admin_of, sign_in};
use crate::webhooks::{Receiver, SECRET};

async fn stored_secret(app: &TestApp) -> String {
    sqlx::query_scalar("select secret from custom_extensions order by id limit 1")
        .fetch_one(&app.pool)
        .await
        .expect("secret")
}

#[tokio::test]
async fn admins_add_edit_and_delete_custom_extensions_on_the_catalog_page() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let base = format!("/admin/catalogs/{catalog}");
    let page = b.get(&base).await;
    assert!(page.body.contains("Custom extensions"), "{}", page.body);
    assert_eq!(
        b.get(&format!("{base}/extensions/new")).await.status,
        StatusCode::OK
    );

    let refused = b
        .post(
            &format!("{base}/extensions"),
            &[
                ("displayName", " "),
                ("url", "ftp://hr.example/x"),
                ("secret", "short"),
                ("behavior", "waitForCallback"),
                ("timeoutMinutes", "2000"),
                ("onTimeout", "deny"),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    for shown in [
        "f-displayName-error",
        "f-url-error",
        "f-secret-error",
        "f-timeoutMinutes-error",
        "Please correct these 4 problems",
        "ftp://hr.example/x",
    ] {
        assert!(refused.body.contains(shown), "{shown}: {}", refused.body);
    }
    let not_a_number = b
        .post(
            &format!("{base}/extensions"),
            &[
                ("displayName", "HR"),
                ("url", "https://hr.example/hook"),
                ("secret", SECRET),
                ("behavior", "waitForCallback"),
                ("timeoutMinutes", "soon"),
                ("onTimeout", "deny"),
            ],
        )
        .await;
    assert_eq!(not_a_number.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(not_a_number.body.contains("whole number of minutes"));

    let added = b
        .post(
            &format!("{base}/extensions"),
            &[
                ("displayName", "HR check"),
                ("url", "https://hr.example/hook"),
                ("secret", SECRET),
                ("behavior", "waitForCallback"),
                ("timeoutMinutes", "30"),
                ("onTimeout", "deny"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = b.get(&base).await;
    assert!(
        page.body.contains("HR check") && page.body.contains("Waits up to 30 min, then denies"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(SECRET), "the secret is never shown");
    let sealed = stored_secret(&app).await;
    let id: uuid::Uuid = sqlx::query_scalar("select id from custom_extensions")
        .fetch_one(&app.pool)
        .await
        .expect("id");

    let edit = b.get(&format!("{base}/extensions/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("leave this blank to keep it") && !edit.body.contains(SECRET));
    let saved = b
        .post(
            &format!("{base}/extensions/{id}/edit"),
            &[
                ("displayName", "HR check 2"),
                ("url", "https://hr.example/hook"),
                ("secret", ""),
                ("behavior", "fireAndForget"),
                ("timeoutMinutes", "30"),
                ("onTimeout", "continue"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        stored_secret(&app).await,
        sealed,
        "a blank secret keeps the stored one"
    );

    // In use by a policy: the delete is refused on the catalog page, naming it.
    package_with(&app, &t, 0, &[("assignmentRemoved", id)]).await;
    let refused = b.post(&format!("{base}/extensions/{id}/delete"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("Laptops"), "{}", refused.body);
    sqlx::query("update policies set settings = settings - 'customExtensions'")
        .execute(&app.pool)
        .await
        .expect("unused");
    let deleted = b.post(&format!("{base}/extensions/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert!(
        !b.get(&base)
            .await
            .body
            .contains("aria-label=\"Edit HR check 2\"")
    );
}

#[tokio::test]
async fn the_policy_editor_chooses_an_extension_for_each_stage() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let waits = extension(
        &app,
        &t,
        catalog,
        "https://hr.example/a",
        "waitForCallback",
        "deny",
    )
    .await;
    let tells = extension(
        &app,
        &t,
        catalog,
        "https://hr.example/b",
        "fireAndForget",
        "deny",
    )
    .await;
    let p = package_with(&app, &t, 0, &[("requestCreated", waits)]).await;
    let path = format!("/admin/packages/{}/policies/{}", p.package, p.policy);
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    let select = |stage: &str| {
        let start = page
            .body
            .find(&format!("name=\"ext.{stage}\""))
            .expect("select");
        let end = start + page.body[start..].find("</select>").expect("end");
        page.body[start..end].to_string()
    };
    assert!(select("requestCreated").contains(&format!("value=\"{waits}\" selected")));
    assert!(
        !select("assignmentGranted").contains(&waits.to_string()),
        "a waiting extension is not offered where nothing can be held"
    );
    assert!(select("assignmentGranted").contains(&tells.to_string()));

    let fields = [
        ("op", "save"),
        ("displayName", "Employees"),
        ("scope", "allMembers"),
        ("requestsEnabled", "true"),
        ("stageCount", "0"),
        ("questionCount", "0"),
        ("expiration", "never"),
        ("ext.requestApproved", waits.to_string().leak() as &str),
        ("ext.assignmentGranted", tells.to_string().leak() as &str),
    ];
    let saved = b.post(&path, &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings: serde_json::Value =
        sqlx::query_scalar("select settings from policies where id = $1")
            .bind(p.policy)
            .fetch_one(&app.pool)
            .await
            .expect("policy");
    assert_eq!(
        settings["customExtensions"],
        json!([{"stage": "requestApproved", "extensionId": waits}, {"stage": "assignmentGranted", "extensionId": tells}])
    );
    // A waiting extension posted for a stage that cannot hold: 422 at that select.
    let mut bad = fields.to_vec();
    bad.push(("ext.assignmentRemoved", waits.to_string().leak() as &str));
    let refused = b.post(&path, &bad).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("f-ext-assignmentRemoved-error"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn request_pages_show_each_extension_step() {
    let app = TestApp::spawn().await;
    let (t, admin) = admin_of(&app, "acme").await;
    let (receiver, url) = Receiver::start(0).await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let ext = extension(&app, &t, catalog, &url, "waitForCallback", "deny").await;
    let p = package_with(&app, &t, 0, &[("requestCreated", ext)]).await;
    let (_, token) = app.user(&t, "adele@acme.test", json!({})).await;
    let (_, req) = request(&app, &token, p.package, json!({})).await;
    let id = req["id"].as_str().expect("id").to_string();
    let body = body_of(&receiver.wait_for(1).await[0]);
    let user = sign_in(&app, "acme", "adele@acme.test").await;
    let held = user.get(&format!("/requests/{id}")).await;
    assert!(
        held.body.contains("Waiting for callback")
            && held
                .body
                .contains("Waiting for an outside system to confirm this request."),
        "{}",
        held.body
    );
    let (status, _) = super::resume(
        &app,
        &id,
        json!({"callbackToken": body["callbackToken"], "outcome": "deny", "message": "Not in HR records"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let page = admin.get(&format!("/admin/requests/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let mine = user.get(&format!("/requests/{id}")).await;
    assert_eq!(mine.status, StatusCode::OK);
    for html in [&page.body, &mine.body] {
        for shown in [
            "Custom extensions",
            "Request created: custom extension “Check waitForCallback” called",
            "waiting for the custom extension to answer",
            "the custom extension denied the request: “Not in HR records”",
        ] {
            assert!(html.contains(shown), "{shown}: {html}");
        }
    }
}
