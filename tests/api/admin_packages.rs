//! Access packages in the admin portal: create, edit, list and search them, assign
//! directly, filter and remove assignments, and follow requests with their stages and
//! decisions.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::TestApp;
use crate::helpers::portal::{id_in, setup};

#[tokio::test]
async fn packages_are_created_edited_listed_and_searched() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let b = &s.b;
    let choose = b.get("/admin/packages/new").await;
    assert_eq!(choose.status, StatusCode::OK);
    assert!(choose.body.contains("General"));
    let form = b
        .get(&format!("/admin/packages/new?catalog={}", s.general))
        .await;
    assert!(form.body.contains("Windows 11 Testing (group)"));

    let role = s.member_role.to_string();
    let created = b
        .post(
            "/admin/packages",
            &[
                ("catalogId", &s.general.to_string()),
                ("displayName", "Windows 11 Testing"),
                ("description", "Upgrade to Windows 11."),
                ("resourceRoleIds", &role),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id = id_in(&created.location);
    let page = b.get(&format!("/admin/packages/{id}")).await;
    assert!(page.body.contains("Windows 11 Testing — Member"));
    assert!(page.body.contains("No policy yet"));

    let edited = b
        .post(
            &format!("/admin/packages/{id}/edit"),
            &[
                ("displayName", "Windows 11 Testing"),
                ("description", "Changed"),
                ("hidden", "true"),
                ("resourceRoleIds", &role),
                ("addIncompatibleGroup", "Windows 11 Testing"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let page = b.get(&format!("/admin/packages/{id}")).await;
    assert!(page.body.contains("Hidden"));
    assert!(
        page.body
            .contains("Incompatible with membership of Windows 11 Testing")
    );

    let invalid = b
        .post(
            &format!("/admin/packages/{id}/edit"),
            &[("displayName", ""), ("resourceRoleIds", &role)],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("a name is required"));

    for i in 0..3 {
        fixtures::package(&app, &s.t, s.general, &format!("Other {i}"), &[]).await;
    }
    let list = b.get("/admin/packages?q=windows").await;
    assert!(list.body.contains("Windows 11 Testing"));
    assert!(!list.body.contains("Other 1"));
    // htmx live search gets the rows alone.
    let fragment = b
        .client
        .get(b.url("/admin/packages?q=other"))
        .header("HX-Request", "true")
        .header("HX-Target", "package-results")
        .send()
        .await
        .expect("fragment");
    let fragment = fragment.text().await.expect("text");
    assert!(fragment.starts_with("<div id=\"package-results\">"));
    assert!(!fragment.contains("<html"));
    assert!(fragment.contains("Other 2"));
}

#[tokio::test]
async fn admins_assign_directly_filter_remove_and_follow_requests() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let b = &s.b;
    let package = fixtures::package(
        &app,
        &s.t,
        s.general,
        "Windows 11 Testing",
        &[s.member_role],
    )
    .await;
    fixtures::policy(&app, &s.t, package, fixtures::open_policy(json!({}))).await;
    let (ada, _) = app
        .user(&s.t, "ada@acme.test", json!({"displayName": "Ada"}))
        .await;
    let path = format!("/admin/packages/{package}/assignments");

    let unknown = b.post(&path, &[("email", "ghost@acme.test")]).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .body
            .contains("there is no user with the email address ghost@acme.test")
    );

    let added = b.post(&path, &[("email", "ada@acme.test")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(fixtures::sources(&app, s.group, ada).await.len(), 1);
    let list = b.get(&path).await;
    assert!(list.body.contains("Ada"));
    assert!(list.body.contains("Delivered"));
    let again = b.post(&path, &[("email", "ada@acme.test")]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);

    let removed_filter = b.get(&format!("{path}?state=removed")).await;
    assert!(!removed_filter.body.contains("ada@acme.test"));
    assert_eq!(
        b.get(&format!("{path}?state=bogus")).await.status,
        StatusCode::BAD_REQUEST
    );

    let assignment: Uuid =
        sqlx::query_scalar("select id from assignments where target_user_id = $1")
            .bind(ada)
            .fetch_one(&app.pool)
            .await
            .expect("assignment");
    let removed = b
        .post(&format!("/admin/assignments/{assignment}/remove"), &[])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(fixtures::sources(&app, s.group, ada).await.is_empty());
    let removed_filter = b.get(&format!("{path}?state=removed")).await;
    assert!(removed_filter.body.contains("ada@acme.test"));

    let requests = b.get(&format!("/admin/requests?package={package}")).await;
    assert_eq!(requests.status, StatusCode::OK);
    assert!(requests.body.contains("Admin add"));
    assert!(requests.body.contains("Admin remove"));
    let rid: Uuid = sqlx::query_scalar(
        "select id from assignment_requests where target_user_id = $1 and request_type = 'adminAdd'",
    )
    .bind(ada)
    .fetch_one(&app.pool)
    .await
    .expect("request");
    let detail = b.get(&format!("/admin/requests/{rid}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("This request needed no approval"));
}

#[tokio::test]
async fn a_request_shows_its_stages_and_decisions() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (megan, megan_token) = app
        .user(
            &s.t,
            "megan@acme.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let (_, adele_token) = app
        .user(
            &s.t,
            "adele@acme.test",
            json!({"displayName": "Adele Vance", "managerId": megan}),
        )
        .await;
    let gp = fixtures::group_package(
        &app,
        &s.t,
        "Beta",
        fixtures::open_policy(json!({"approval": {"stages": [
            {"approvers": [{"type": "manager"}]},
            {"approvers": [{"type": "user", "id": s.t.admin_id}]}
        ]}})),
    )
    .await;
    let (_, request) = fixtures::request(&app, &adele_token, gp.package, json!({})).await;
    let (status, _) =
        fixtures::decide(&app, &megan_token, &request, "approve", Some("fine by me")).await;
    assert_eq!(status, StatusCode::OK);
    let rid = request["id"].as_str().expect("id");
    let page = s.b.get(&format!("/admin/requests/{rid}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Stage 1"));
    assert!(page.body.contains("Stage 2"));
    assert!(page.body.contains("Megan Bowen"));
    assert!(page.body.contains("fine by me"));
    assert!(page.body.contains("Pending approval"));
    let list = s.b.get("/admin/requests?state=pendingApproval").await;
    assert!(list.body.contains("Adele Vance"));
}
