//! Requester portal details through its HTML, with a cookie-carrying client: a
//! requestor's cancel and a reviewer's deny each ask for confirmation first (no
//! JavaScript needed), the Decided tab of Approvals shows your decision and its date,
//! and an approval link for a canceled request says so and leads to the tenant's portal.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{self, decide, group_package, open_policy};
use crate::helpers::portal::sign_in;
use crate::helpers::{AppOptions, TestApp, start_time};
use crate::mailbox::{line_url, open, pending_request, wait_for_email};

/// The text between `start` and the end of the element that `start` opens.
fn element<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in:\n{html}"));
    let rest = &html[at..];
    let len = rest
        .find(end)
        .unwrap_or_else(|| panic!("no {end} after {start}"));
    &rest[..len + end.len()]
}

#[tokio::test]
async fn a_requestor_confirms_a_cancel_before_it_happens() {
    let app = TestApp::spawn().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let adele = sign_in(&app, "contoso", "adele@contoso.test").await;

    let page = adele.get(&format!("/requests/{}", p.request_id())).await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let confirm = element(&page.body, "<details class=\"confirm", "</details>");
    assert!(
        confirm.contains("<summary class=\"button danger\">Cancel this request…</summary>"),
        "{confirm}"
    );
    assert!(
        confirm.contains(">Yes, cancel this request</button>"),
        "{confirm}"
    );
    // Only the confirmation's own button cancels.
    assert_eq!(page.body.matches("/cancel\"").count(), 1, "{}", page.body);
    assert!(confirm.contains("/cancel\""), "{confirm}");
}

#[tokio::test]
async fn the_decided_tab_shows_your_decision_and_when() {
    let app = TestApp::spawn().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    app.clock.advance(Duration::hours(3));
    let (status, done) = decide(&app, &p.manager.1, &p.request, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let megan = sign_in(&app, "contoso", &p.manager_email).await;

    let page = megan.get("/approvals?tab=decided").await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("<th scope=\"col\">Your decision</th>")
            && page.body.contains("<th scope=\"col\">Decided on</th>"),
        "{}",
        page.body
    );
    let decided_at = (start_time() + Duration::hours(3))
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    assert!(
        page.body.contains(&format!(
            "<td>You approved</td>\n      <td>{decided_at}</td>"
        )),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_reviewer_confirms_a_deny_before_it_is_sent() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let megan = app
        .user(
            &t,
            "megan@contoso.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let adele = app
        .user(
            &t,
            "adele@contoso.test",
            json!({"displayName": "Adele Vance", "managerId": megan.0}),
        )
        .await;
    let review = json!({"startDate": (start_time() + Duration::hours(1)).to_rfc3339(), "recurrence": "monthly",
        "durationDays": 14, "reviewers": [{"type": "manager"}], "fallbackReviewers": [],
        "ifNoResponse": "keep", "autoApply": true, "requireJustification": false});
    let pkg = group_package(&app, &t, "Pkg", open_policy(json!({"review": review}))).await;
    let (status, r) = fixtures::request(&app, &adele.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    app.clock.advance(Duration::hours(1));
    portico::scheduler::reviews::run_once(&app.state, app.now())
        .await
        .expect("review job");
    let review_id: Uuid = sqlx::query_scalar("select id from access_reviews where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("review started");
    let reviewer = sign_in(&app, "contoso", "megan@contoso.test").await;

    let page = reviewer.get(&format!("/reviews/{review_id}")).await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let confirm = element(&page.body, "<details class=\"confirm", "</details>");
    assert!(
        confirm.contains("aria-label=\"Deny Adele Vance…\">Deny…</summary>"),
        "{confirm}"
    );
    assert!(
        confirm.contains("value=\"deny\" aria-label=\"Yes, deny Adele Vance\">Yes, deny</button>"),
        "{confirm}"
    );
    // No deny button outside the confirmation.
    assert_eq!(
        page.body.matches("value=\"deny\"").count(),
        1,
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_link_of_a_canceled_request_says_so_and_leads_to_the_tenant_portal() {
    let app = TestApp::spawn_with(AppOptions {
        self_base_url: true,
        ..AppOptions::default()
    })
    .await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let email = wait_for_email(&app.mailer, |e| {
        e.to == p.manager_email && e.subject.starts_with("Approval needed")
    })
    .await;
    let approve = line_url(&email.text, "Approve: ");
    let (status, body) = app
        .post(
            &p.employee.1,
            &format!("/api/v1/assignmentRequests/{}/cancel", p.request_id()),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let page = open(&app, &approve, None).await;

    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html
            .contains("<title>This request was canceled · Portico</title>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("<h1>This request was canceled</h1>"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("<a class=\"brand\" href=\"/t/contoso/\">Portico</a>"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains(&format!("href=\"{}/t/contoso/\"", app.address)),
        "{}",
        page.html
    );
    assert_eq!(page.forms(), 0, "{}", page.html);
}
