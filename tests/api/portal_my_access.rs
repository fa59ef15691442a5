//! My Access through its HTML forms, with a cookie-carrying client on the seeded demo
//! tenant: the package list and search, a package page, the request form (happy path,
//! 422 with the field's message, refusals explained), requests and cancel, approvals,
//! my access with extend and remove, and isolation: another tenant's ids and other
//! people's requests, assignments and approvals answer 404; a form without its CSRF
//! token is refused (403) and changes nothing.

use reqwest::StatusCode;
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::helpers::portal::sign_in;

async fn demo() -> TestApp {
    let app = TestApp::spawn_demo("contoso").await;
    portico::services::demo::seed(&app.pool, app.state.keys(), app.now())
        .await
        .expect("seed");
    app
}

async fn package_id(app: &TestApp, name: &str) -> Uuid {
    sqlx::query_scalar("select id from access_packages where display_name = $1")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .expect("package")
}

async fn question_id(app: &TestApp) -> String {
    let v: serde_json::Value = sqlx::query_scalar(
        "select pol.settings from policies pol join access_packages p on p.id = pol.package_id where p.display_name = 'Windows 11 Testing'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("policy");
    v["questions"][0]["id"]
        .as_str()
        .expect("question id")
        .to_string()
}

async fn requests_of(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from assignment_requests r join users u on u.tenant_id = r.tenant_id and u.id = r.target_user_id where u.email = $1",
    )
    .bind(email)
    .fetch_one(&app.pool)
    .await
    .expect("count")
}

#[tokio::test]
async fn an_employee_browses_searches_and_reads_a_package() {
    let app = demo().await;
    let adele = sign_in(&app, "contoso", "adele@contoso.example").await;
    let list = adele.get("/packages").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Windows 11 Testing") && list.body.contains("Sales CRM"));
    let found = adele.get("/packages?q=finance").await;
    assert!(found.body.contains("Finance Reports") && !found.body.contains("Sales CRM"));
    let none = adele.get("/packages?q=zzzz").await;
    assert!(none.body.contains("No access package matches"));
    let id = package_id(&app, "Windows 11 Testing").await;
    let page = adele.get(&format!("/packages/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(
        "If you want to upgrade your system to Windows 11, request access to this package."
    ));
    assert!(page.body.contains("Internal users") && page.body.contains("your manager"));
    assert!(page.body.contains("Which device will you upgrade?"));
}

#[tokio::test]
async fn a_request_without_its_answer_is_refused_with_the_message_and_then_accepted() {
    let app = demo().await;
    let adele = sign_in(&app, "contoso", "adele@contoso.example").await;
    let id = package_id(&app, "Windows 11 Testing").await;
    let q = format!("answers.{}", question_id(&app).await);
    let bad = adele
        .post(
            &format!("/packages/{id}/request"),
            &[("justification", "beta")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("error-summary"));
    assert_eq!(requests_of(&app, "adele@contoso.example").await, 0);
    let ok = adele
        .post(
            &format!("/packages/{id}/request"),
            &[("justification", "beta"), (q.as_str(), "Surface")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let at = ok.location.expect("location");
    let detail = adele.get(at.trim_start_matches("/t/contoso")).await;
    assert!(detail.body.contains("Pending approval") && detail.body.contains("Megan Bowen"));

    // A second request is refused in words, with a link to the open one.
    let again = adele
        .post(
            &format!("/packages/{id}/request"),
            &[("justification", "beta"), (q.as_str(), "Surface")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("open request") && again.body.contains("See your open request"));

    // Megan sees it in Approvals; Diego (not an approver) gets 404.
    let megan = sign_in(&app, "contoso", "megan@contoso.example").await;
    let approvals = megan.get("/approvals").await;
    assert!(approvals.body.contains("Windows 11 Testing"));
    let rid = at.rsplit('/').next().expect("id").to_string();
    let diego = sign_in(&app, "contoso", "diego@contoso.example").await;
    assert_eq!(
        diego.get(&format!("/approvals/{rid}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        diego.get(&format!("/requests/{rid}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Without its CSRF token the cancel is refused and nothing changes.
    let refused = adele
        .post_raw(&format!("/requests/{rid}/cancel"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let canceled = adele.post(&format!("/requests/{rid}/cancel"), &[]).await;
    assert_eq!(canceled.status, StatusCode::SEE_OTHER);
    let state: String =
        sqlx::query_scalar("select state from assignment_requests where id = $1::uuid")
            .bind(&rid)
            .fetch_one(&app.pool)
            .await
            .expect("state");
    assert_eq!(state, "canceled");
}

#[tokio::test]
async fn a_package_without_approval_is_delivered_then_extended_or_removed() {
    let app = demo().await;
    let isaiah = sign_in(&app, "contoso", "isaiah@contoso.example").await;
    let id = package_id(&app, "Sales CRM").await;
    let ok = isaiah.post(&format!("/packages/{id}/request"), &[]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let access = isaiah.get("/access").await;
    assert!(access.body.contains("Sales CRM"));
    let aid: Uuid = sqlx::query_scalar("select id from assignments where package_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("assignment");
    // Already assigned: explained, with the way to extend.
    let again = isaiah.post(&format!("/packages/{id}/request"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("Extend your access"));
    // Someone else's assignment is not found.
    let adele = sign_in(&app, "contoso", "adele@contoso.example").await;
    assert_eq!(
        adele.get(&format!("/access/{aid}/extend")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        adele
            .post(&format!("/access/{aid}/remove"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Too early to extend: explained (409).
    let early = isaiah.post(&format!("/access/{aid}/extend"), &[]).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert!(early.body.contains("last 14 days"));
    // Remove with confirmation.
    let confirm = isaiah.get(&format!("/access/{aid}/remove")).await;
    assert!(confirm.body.contains("Yes, remove my access"));
    let removed = isaiah.post(&format!("/access/{aid}/remove"), &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let state: String = sqlx::query_scalar("select state from assignments where id = $1")
        .bind(aid)
        .fetch_one(&app.pool)
        .await
        .expect("state");
    assert_eq!(state, "removed");
}

#[tokio::test]
async fn another_tenants_ids_answer_404_in_my_access() {
    let app = demo().await;
    let other = app.tenant("fabrikam").await;
    let b = sign_in(&app, "fabrikam", &other.admin_email).await;
    let id = package_id(&app, "Windows 11 Testing").await;
    assert_eq!(
        b.get(&format!("/packages/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.post(&format!("/packages/{id}/request"), &[]).await.status,
        StatusCode::NOT_FOUND
    );
    for page in [
        "/",
        "/packages",
        "/requests",
        "/access",
        "/approvals",
        "/approvals?tab=decided",
        "/reviews",
    ] {
        assert_eq!(b.get(page).await.status, StatusCode::OK, "{page}");
    }
}

/// My Access offers Extend only inside the extension window, and before it says when
/// the window opens.
#[tokio::test]
async fn extend_is_offered_only_inside_its_window_and_says_when_it_opens() {
    let app = demo().await;
    let isaiah = sign_in(&app, "contoso", "isaiah@contoso.example").await;
    let id = package_id(&app, "Sales CRM").await;
    let ok = isaiah.post(&format!("/packages/{id}/request"), &[]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let end: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select end_at from assignments where package_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("the assignment's end");
    let opens = end - chrono::Duration::days(14);

    let early = isaiah.get("/access").await;
    assert!(
        early
            .body
            .contains(&format!("Extend from {}", opens.format("%Y-%m-%d"))),
        "{}",
        early.body
    );
    assert!(!early.body.contains("aria-label=\"Extend Sales CRM\""));

    app.clock.set(opens + chrono::Duration::minutes(1));
    // Months later: a new session.
    let isaiah = sign_in(&app, "contoso", "isaiah@contoso.example").await;
    let inside = isaiah.get("/access").await;
    assert!(
        inside.body.contains("aria-label=\"Extend Sales CRM\""),
        "{}",
        inside.body
    );
    assert!(!inside.body.contains("Extend from"));
}
