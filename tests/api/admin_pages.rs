//! The admin portal's pages: HTML with one navigation and no inline script, a 403 page
//! for people without an admin role, each role seeing and changing only what it may,
//! and other tenants' ids answering 404.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures;
use crate::helpers::TestApp;
use crate::helpers::portal::{Browser, admin_of, sign_in};

#[tokio::test]
async fn people_without_an_admin_role_get_a_403_page() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    app.user(&t, "bob@acme.test", json!({})).await;
    let bob = sign_in(&app, "acme", "bob@acme.test").await;
    let home = bob.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(!home.body.contains("/admin\""), "no admin links for bob");
    let admin = bob.get("/admin").await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    assert!(admin.body.contains("administrative role"));
    let post = bob
        .post("/admin/catalogs", &[("displayName", "Mine")])
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn each_role_sees_and_changes_only_what_it_may() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    app.user_with_role(&t, "reader@acme.test", "catalogReader", Some(general))
        .await;
    let reader = sign_in(&app, "acme", "reader@acme.test").await;

    let nav = reader.get("/admin").await;
    assert_eq!(nav.status, StatusCode::OK);
    assert!(!nav.body.contains("Audit log"), "readers see no audit log");
    assert!(!nav.body.contains("/admin/users\""), "readers see no users");
    assert_eq!(
        reader.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        reader.get("/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );

    let catalog = reader.get(&format!("/admin/catalogs/{general}")).await;
    assert_eq!(catalog.status, StatusCode::OK);
    assert!(!catalog.body.contains("Add resource"));
    let edit = reader
        .post(
            &format!("/admin/catalogs/{general}/edit"),
            &[("displayName", "Renamed")],
        )
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    assert!(edit.body.contains("You may not edit this catalog"));
    let package = reader
        .post(
            "/admin/packages",
            &[("catalogId", &general.to_string()), ("displayName", "P")],
        )
        .await;
    assert_eq!(package.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_tenants_ids_answer_404() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let (_, beta) = admin_of(&app, "beta").await;
    let alpha_catalog = app.general_catalog(&a).await;
    let group = fixtures::group(&app, &a, "Alpha group").await;
    let page = beta.get(&format!("/admin/catalogs/{alpha_catalog}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("not found"));
    assert_eq!(
        beta.get(&format!("/admin/groups/{group}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        beta.get(&format!("/admin/users/{}", a.admin_id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let edit = beta
        .post(
            &format!("/admin/catalogs/{alpha_catalog}/edit"),
            &[("displayName", "Mine now")],
        )
        .await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    assert_eq!(
        beta.get("/admin/catalogs/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
    let gone = beta.get("/admin/no-such-page").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.body.contains("There is nothing at this address"));
    let wrong_method = beta.get("/sign-out").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    // A session of one tenant does not open another.
    let other = Browser {
        slug: "alpha".into(),
        ..beta
    };
    assert_eq!(other.get("/admin").await.status, StatusCode::SEE_OTHER);
    // An unknown tenant is 404.
    let nowhere = Browser::new(&app, "nowhere");
    assert_eq!(nowhere.get("/sign-in").await.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.get("/admin").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_are_html_with_one_navigation_and_no_inline_script() {
    let app = TestApp::spawn().await;
    let (_, b) = admin_of(&app, "acme").await;
    for path in [
        "/",
        "/admin",
        "/admin/catalogs",
        "/admin/packages",
        "/admin/requests",
        "/admin/reviews",
        "/admin/users",
        "/admin/groups",
        "/admin/audit",
        "/admin/users/import",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("aria-label=\"Main\""), "{path}");
        assert!(page.body.contains("name=\"csrf-token\""), "{path}");
        assert!(
            page.body.contains("/static/vendor/htmx-2.0.4.min.js"),
            "{path}"
        );
        assert!(!page.body.contains("<script>"), "{path}: no inline script");
        assert!(!page.body.contains("style=\""), "{path}: no inline style");
    }
    let js = b
        .client
        .get(format!("{}/static/vendor/htmx-2.0.4.min.js", b.base))
        .send()
        .await
        .expect("htmx");
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.expect("js").contains("htmx"));
}

#[tokio::test]
async fn the_overview_counts_what_needs_attention_within_what_each_admin_manages() {
    let app = TestApp::spawn().await;
    let (t, admin) = admin_of(&app, "contoso").await;
    let (approver, _) = app.user(&t, "grace@contoso.test", json!({})).await;
    let (_, adele) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (diego, _) = app.user(&t, "diego@contoso.test", json!({})).await;
    let stage = json!({"requireJustification": false, "approval": {"stages": [
        {"approvers": [{"type": "user", "id": approver}], "decision": "anyOne", "timeoutDays": 14}]}});
    let slow = fixtures::group_package(&app, &t, "Slow", fixtures::open_policy(stage)).await;
    let (status, r) = fixtures::request(&app, &adele, slow.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");

    let page = admin.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("0 requests waiting for approval for more than 7 days"),
        "{}",
        page.body
    );

    // Eight days later the request is old; an assignment made now ends in three days.
    app.clock.advance(chrono::Duration::days(8));
    let ends = (app.now() + chrono::Duration::days(3)).to_rfc3339();
    let short = fixtures::group_package(&app, &t, "Short", fixtures::open_policy(json!({}))).await;
    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": short.package, "targetUserId": diego,
                   "schedule": {"startDateTime": null, "endDateTime": ends}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    sqlx::query(
        "insert into outbox (tenant_id, id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, completed_at)
         values ($1, gen_random_uuid(), 'webhook', jsonb_build_object('resourceId', gen_random_uuid()), 'failed', 12, now(), 'the target answered 503', now(), now())",
    )
    .bind(t.id)
    .execute(&app.pool)
    .await
    .expect("a failed call");

    // (The session of eight days ago has expired.)
    let admin = sign_in(&app, "contoso", &t.admin_email).await;
    let page = admin.get("/admin").await;
    for line in [
        "1 request waiting for approval for more than 7 days",
        "1 assignment ending in the next seven days",
        "1 delivery failed for good",
        "1 connector with a failed call",
        "0 access reviews in progress",
    ] {
        assert!(page.body.contains(line), "{line}: {}", page.body);
    }

    // The owner of another catalog sees that catalog's counts, and no deliveries.
    let (status, other) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "Finance"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let finance = crate::helpers::uuid_of(&other["id"]);
    app.user_with_role(&t, "lynne@contoso.test", "catalogOwner", Some(finance))
        .await;
    let owner = sign_in(&app, "contoso", "lynne@contoso.test").await;
    let page = owner.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("0 requests waiting for approval"),
        "{}",
        page.body
    );
    assert!(page.body.contains("0 assignments ending"), "{}", page.body);
    assert!(!page.body.contains("failed for good"), "{}", page.body);
}
