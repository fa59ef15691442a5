//! Emailed approval links (DOMAIN.md §12): the tests read the approver's email from the
//! recording mailer and follow its links as a person would — open the page, read the
//! form, send it — against a server whose base URL is its own address.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{AppOptions, TestApp};
use crate::mailbox::{
    Pending, confirm, line_url, open, pending_request, request_now, submit, wait_for_email,
};

async fn app() -> TestApp {
    TestApp::spawn_with(AppOptions {
        self_base_url: true,
        ..AppOptions::default()
    })
    .await
}

/// The Approve and Deny URLs of the approver's email.
async fn links_of(app: &TestApp, p: &Pending) -> (String, String) {
    let email = wait_for_email(&app.mailer, |e| {
        e.to == p.manager_email && e.subject.starts_with("Approval needed")
    })
    .await;
    (
        line_url(&email.text, "Approve: "),
        line_url(&email.text, "Deny: "),
    )
}

async fn decisions(app: &TestApp, p: &Pending) -> i64 {
    sqlx::query_scalar("select count(*) from stage_decisions where request_id = $1::uuid")
        .bind(p.request_id())
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

async fn links_used(app: &TestApp, p: &Pending) -> i64 {
    sqlx::query_scalar(
        "select count(*) from approval_links where request_id = $1::uuid and used_at is not null",
    )
    .bind(p.request_id())
    .fetch_one(&app.pool)
    .await
    .expect("count")
}

#[tokio::test]
async fn opening_a_link_shows_the_request_and_one_confirmation_form_and_decides_nothing() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (approve, _) = links_of(&app, &p).await;
    assert!(
        approve.starts_with(&format!("{}/links/", app.address)),
        "{approve}"
    );

    // Mail scanners open links: any number of GETs decide nothing.
    let page = open(&app, &approve, None).await;
    let again = open(&app, &approve, None).await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(again.status, StatusCode::OK);
    for shown in [
        "Windows 11 Testing",
        "Adele Vance",
        "Beta testing",
        "Which device?",
        "Laptop 42",
        "1 of 1",
        "2027-01-11 09:00 UTC",
        "Tenant contoso",
    ] {
        assert!(
            page.html.contains(shown),
            "{shown} missing from:\n{}",
            page.html
        );
    }
    assert_eq!(page.forms(), 1, "{}", page.html);
    assert!(page.html.contains("method=\"post\""), "{}", page.html);
    assert!(
        page.html.contains("<label for=\"justification\""),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("<textarea id=\"justification\" name=\"justification\"")
    );
    assert!(page.html.contains(">Approve</button>"), "{}", page.html);
    assert_eq!(page.csrf().len(), 43);
    let set_cookie = page.set_cookie.clone().expect("a csrf cookie is set");
    for attr in ["portico_csrf=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "http base URL: {set_cookie}"
    );
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(request_now(&app, &p).await["state"], "pendingApproval");
    assert_eq!(decisions(&app, &p).await, 0);
    assert_eq!(links_used(&app, &p).await, 0);
}

#[tokio::test]
async fn approving_through_the_link_delivers_the_request_and_a_replay_decides_nothing() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (approve, _) = links_of(&app, &p).await;

    let (shown, sent) = confirm(&app, &approve, "Fine for the pilot").await;

    assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
    assert!(sent.html.contains("You approved"), "{}", sent.html);
    assert!(
        sent.html.contains("approved and delivered"),
        "{}",
        sent.html
    );
    let r = request_now(&app, &p).await;
    assert_eq!(r["state"], "delivered", "{r}");
    let d = &r["stages"][0]["decisions"][0];
    assert_eq!(d["approverId"], p.manager.0.to_string());
    assert_eq!(d["decision"], "approve");
    assert_eq!(d["justification"], "Fine for the pilot");
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_events where tenant_id = $1 and action = 'approvalLink.used'",
    )
    .bind(p.t.id)
    .fetch_all(&app.pool)
    .await
    .expect("audit");
    assert_eq!(actions.len(), 1);

    // Replaying the same form decides nothing.
    let cookie = shown.cookie.clone().expect("cookie");
    let replay = submit(
        &app,
        &approve,
        Some(&cookie),
        None,
        &[("justification", "again"), ("csrf_token", &shown.csrf())],
    )
    .await;
    assert_eq!(replay.status, StatusCode::CONFLICT, "{}", replay.html);
    assert!(replay.html.contains("already approved"), "{}", replay.html);
    assert_eq!(decisions(&app, &p).await, 1);

    // Opening it later says who decided what and when.
    let later = open(&app, &approve, None).await;
    assert_eq!(later.status, StatusCode::OK);
    assert!(later.html.contains("already approved"), "{}", later.html);
    assert!(later.html.contains("Megan Bowen"), "{}", later.html);
    assert!(
        later.html.contains("2027-01-04 09:00 UTC"),
        "{}",
        later.html
    );
    assert_eq!(later.forms(), 0, "{}", later.html);
}

#[tokio::test]
async fn the_deny_link_denies_and_the_requestor_is_told() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (_, deny) = links_of(&app, &p).await;

    let (shown, sent) = confirm(&app, &deny, "Not this quarter").await;

    assert!(shown.html.contains(">Deny</button>"), "{}", shown.html);
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
    let r = request_now(&app, &p).await;
    assert_eq!(r["state"], "denied", "{r}");
    assert_eq!(r["stages"][0]["decisions"][0]["decision"], "deny");
    let told = wait_for_email(&app.mailer, |e| {
        e.to == "adele@contoso.test" && e.subject.starts_with("Request denied")
    })
    .await;
    assert!(told.text.contains("Megan Bowen denied it"), "{}", told.text);
    assert!(told.text.contains("Not this quarter"), "{}", told.text);
}

#[tokio::test]
async fn unknown_tokens_answer_404_and_expired_links_410() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (approve, _) = links_of(&app, &p).await;

    let unknown = open(
        &app,
        &format!("{}/links/not-a-token/approve", app.address),
        None,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.html.contains("not valid"), "{}", unknown.html);
    let other_verb = open(&app, &approve.replace("/approve", "/maybe"), None).await;
    assert_eq!(other_verb.status, StatusCode::NOT_FOUND);

    let shown = open(&app, &approve, None).await;
    let cookie = shown.cookie.clone().expect("cookie");
    let csrf = shown.csrf();
    // Past the stage's due time (7 days).
    app.clock
        .advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));

    let expired = open(&app, &approve, None).await;
    assert_eq!(expired.status, StatusCode::GONE, "{}", expired.html);
    assert!(expired.html.contains("expired"), "{}", expired.html);
    let late = submit(
        &app,
        &approve,
        Some(&cookie),
        None,
        &[("justification", "late"), ("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(late.status, StatusCode::GONE, "{}", late.html);
    assert_eq!(decisions(&app, &p).await, 0);
    assert_eq!(
        request_now(&app, &p).await["stages"][0]["decisions"],
        json!([])
    );
}

#[tokio::test]
async fn a_post_without_a_matching_csrf_cookie_and_field_decides_nothing() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (approve, _) = links_of(&app, &p).await;
    let shown = open(&app, &approve, None).await;
    let cookie = shown.cookie.clone().expect("cookie");
    let csrf = shown.csrf();

    let no_cookie = submit(
        &app,
        &approve,
        None,
        None,
        &[("justification", "x"), ("csrf_token", &csrf)],
    )
    .await;
    let no_field = submit(
        &app,
        &approve,
        Some(&cookie),
        None,
        &[("justification", "x")],
    )
    .await;
    let wrong_field = submit(
        &app,
        &approve,
        Some(&cookie),
        None,
        &[("justification", "x"), ("csrf_token", &"A".repeat(43))],
    )
    .await;

    for refused in [&no_cookie, &no_field, &wrong_field] {
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    }
    assert!(
        no_cookie.html.contains("Nothing was decided"),
        "{}",
        no_cookie.html
    );
    assert_eq!(decisions(&app, &p).await, 0);
    assert_eq!(links_used(&app, &p).await, 0);
    assert_eq!(request_now(&app, &p).await["state"], "pendingApproval");
}

#[tokio::test]
async fn a_post_from_another_origin_is_refused_and_a_missing_origin_is_not() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (approve, _) = links_of(&app, &p).await;
    let shown = open(&app, &approve, None).await;
    let cookie = shown.cookie.clone().expect("cookie");
    let csrf = shown.csrf();
    let form = [("justification", "ok"), ("csrf_token", csrf.as_str())];

    let foreign = submit(
        &app,
        &approve,
        Some(&cookie),
        Some("https://evil.example"),
        &form,
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.html);
    assert!(foreign.html.contains("another site"), "{}", foreign.html);
    assert_eq!(decisions(&app, &p).await, 0);

    let no_origin = submit(&app, &approve, Some(&cookie), None, &form).await;
    assert_eq!(no_origin.status, StatusCode::OK, "{}", no_origin.html);
    assert_eq!(request_now(&app, &p).await["state"], "delivered");
}

#[tokio::test]
async fn a_link_only_ever_acts_within_its_own_tenant() {
    let app = app().await;
    let a = pending_request(&app, "contoso", |_| json!({})).await;
    let b = pending_request(&app, "fabrikam", |_| json!({})).await;
    let (a_approve, _) = links_of(&app, &a).await;

    let (shown, sent) = confirm(&app, &a_approve, "ok").await;

    assert!(shown.html.contains("Tenant contoso"), "{}", shown.html);
    assert!(!shown.html.contains("fabrikam"), "{}", shown.html);
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
    assert_eq!(request_now(&app, &a).await["state"], "delivered");
    let untouched = request_now(&app, &b).await;
    assert_eq!(untouched["state"], "pendingApproval");
    assert_eq!(untouched["stages"][0]["decisions"], json!([]));
    // The decision is recorded as made by tenant A's approver, in tenant A only.
    let tenants: Vec<uuid::Uuid> = sqlx::query_scalar(
        "select tenant_id from stage_decisions union select tenant_id from audit_events where action = 'approvalLink.used'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("tenants");
    assert_eq!(tenants, vec![a.t.id]);
}

#[tokio::test]
async fn when_the_tenant_requires_sign_in_a_link_shows_the_request_but_decides_nothing() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (status, t) = app
        .patch(
            &p.t.admin,
            "/api/v1/tenant",
            json!({"approvalLinksRequireSignIn": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let (approve, _) = links_of(&app, &p).await;

    let (shown, sent) = confirm(&app, &approve, "ok").await;

    assert!(shown.html.contains("sign in"), "{}", shown.html);
    assert_eq!(sent.status, StatusCode::FORBIDDEN, "{}", sent.html);
    assert!(sent.html.contains("sign in to the portal"), "{}", sent.html);
    assert!(
        sent.html.contains(&format!("{}/t/contoso/", app.address)),
        "{}",
        sent.html
    );
    assert!(sent.html.contains("Approvals"), "{}", sent.html);
    assert_eq!(decisions(&app, &p).await, 0);
    assert_eq!(links_used(&app, &p).await, 0);
    assert_eq!(request_now(&app, &p).await["state"], "pendingApproval");
}

#[tokio::test]
async fn a_missing_required_justification_re_renders_the_form_with_422() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({"requireJustification": true})).await;
    let (approve, _) = links_of(&app, &p).await;
    let shown = open(&app, &approve, None).await;
    assert!(
        shown.html.contains("Justification (required)"),
        "{}",
        shown.html
    );
    let cookie = shown.cookie.clone().expect("cookie");
    let csrf = shown.csrf();

    let empty = submit(
        &app,
        &approve,
        Some(&cookie),
        None,
        &[("justification", "   "), ("csrf_token", &csrf)],
    )
    .await;

    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.html
    );
    assert!(
        empty.html.contains("a justification is required"),
        "{}",
        empty.html
    );
    assert!(
        empty
            .html
            .contains("aria-describedby=\"justification-error\"")
    );
    assert_eq!(empty.forms(), 1);
    assert_eq!(decisions(&app, &p).await, 0);
    assert_eq!(links_used(&app, &p).await, 0, "the link is still usable");

    let fixed = submit(
        &app,
        &approve,
        Some(&cookie),
        None,
        &[
            ("justification", "Pilot group"),
            ("csrf_token", &empty.csrf()),
        ],
    )
    .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.html);
    assert_eq!(request_now(&app, &p).await["state"], "delivered");
}

#[tokio::test]
async fn after_a_decision_in_the_portal_the_link_says_who_decided_and_decides_nothing() {
    let app = app().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (_, deny) = links_of(&app, &p).await;
    let shown = open(&app, &deny, None).await;
    let cookie = shown.cookie.clone().expect("cookie");
    let csrf = shown.csrf();
    let (status, r) =
        crate::fixtures::decide(&app, &p.manager.1, &p.request, "approve", Some("via API")).await;
    assert_eq!(status, StatusCode::OK, "{r}");

    let later = open(&app, &deny, None).await;
    let post = submit(
        &app,
        &deny,
        Some(&cookie),
        None,
        &[("justification", ""), ("csrf_token", &csrf)],
    )
    .await;

    assert_eq!(later.status, StatusCode::OK, "{}", later.html);
    assert!(
        later
            .html
            .contains("approved this request on 2027-01-04 09:00 UTC"),
        "{}",
        later.html
    );
    assert!(later.html.contains("via API"), "{}", later.html);
    assert_eq!(post.status, StatusCode::CONFLICT, "{}", post.html);
    assert_eq!(request_now(&app, &p).await["state"], "delivered");
    assert_eq!(decisions(&app, &p).await, 1);
}

#[tokio::test]
async fn once_another_approver_decided_the_link_says_who_and_when() {
    let app = app().await;
    let p = pending_request(
        &app,
        "contoso",
        |t| json!({"approvers": [{"type": "manager"}, {"type": "user", "id": t.admin_id}]}),
    )
    .await;
    let (approve, _) = links_of(&app, &p).await;
    let shown = open(&app, &approve, None).await;
    let cookie = shown.cookie.clone().expect("cookie");
    let csrf = shown.csrf();
    app.clock.advance(chrono::Duration::hours(2));
    let (status, r) =
        crate::fixtures::decide(&app, &p.t.admin, &p.request, "deny", Some("No budget")).await;
    assert_eq!(status, StatusCode::OK, "{r}");

    let later = open(&app, &approve, None).await;
    let post = submit(
        &app,
        &approve,
        Some(&cookie),
        None,
        &[("justification", "yes"), ("csrf_token", &csrf)],
    )
    .await;

    assert_eq!(later.status, StatusCode::OK, "{}", later.html);
    assert!(
        later.html.contains("This stage was already denied by"),
        "{}",
        later.html
    );
    assert!(
        later.html.contains("2027-01-04 11:00 UTC"),
        "{}",
        later.html
    );
    assert!(later.html.contains("No budget"), "{}", later.html);
    assert_eq!(post.status, StatusCode::CONFLICT, "{}", post.html);
    assert!(post.html.contains("already denied"), "{}", post.html);
    assert_eq!(decisions(&app, &p).await, 1);
    assert_eq!(links_used(&app, &p).await, 0);
}
