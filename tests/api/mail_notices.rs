//! The emails people expect (DOMAIN.md §10), read from the real SMTP mailer as a
//! person's mail client would, text and HTML parts alike: the requestor hears of an
//! approval while the access is not there yet and of a cancellation, whoever made it;
//! co-approvers hear that someone else decided; a later stage's approvers see the
//! earlier stages' decisions; the delivered email says what was granted and until when;
//! the review emails name the package, how many people and the due date.

use std::sync::Arc;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{self, decide, group_package, open_policy};
use crate::helpers::{AppOptions, TestApp, TestTenant, start_time};
use crate::mailbox::{Mime, SmtpCatcher};

/// An app whose emails go over SMTP to a catcher in this process.
async fn app_with_smtp() -> (TestApp, SmtpCatcher) {
    let smtp = SmtpCatcher::start().await;
    let app = TestApp::spawn_with(AppOptions {
        settings: vec![
            ("PORTICO_SMTP_URL".into(), smtp.url()),
            ("PORTICO_MAIL_FROM".into(), "access@portico.test".into()),
        ],
        mailer: Some(Arc::new(
            portico::email::smtp::SmtpMailer::from_url(&smtp.url(), "access@portico.test")
                .expect("smtp mailer"),
        )),
        ..AppOptions::default()
    })
    .await;
    (app, smtp)
}

/// The first message to `to` whose subject is `subject`.
async fn mail_to(smtp: &SmtpCatcher, to: &str, subject: &str) -> Mime {
    smtp.wait_for(|m| m.header("to") == Some(to) && m.header("subject") == Some(subject))
        .await
        .1
}

/// How many email rows for `template` were queued.
async fn queued(app: &TestApp, template: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from outbox where kind = 'email' and payload -> 'notice' ->> 'template' = $1",
    )
    .bind(template)
    .fetch_one(&app.pool)
    .await
    .expect("count")
}

/// Megan Bowen manages Adele Vance; Nestor Wilke is another approver.
struct People {
    t: TestTenant,
    megan: (Uuid, String),
    adele: (Uuid, String),
    nestor: (Uuid, String),
}

async fn people(app: &TestApp) -> People {
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
    let nestor = app
        .user(
            &t,
            "nestor@contoso.test",
            json!({"displayName": "Nestor Wilke"}),
        )
        .await;
    People {
        t,
        megan,
        adele,
        nestor,
    }
}

/// A package "Windows 11 Testing" (membership of a group resource named "group") whose
/// policy has `stages` and lasts `expiration`.
async fn package(app: &TestApp, p: &People, stages: Value, expiration: Value) -> Uuid {
    group_package(
        app,
        &p.t,
        "Windows 11 Testing",
        open_policy(json!({"approval": {"stages": stages}, "expiration": expiration, "allowCustomSchedule": true})),
    )
    .await
    .package
}

fn manager_stage() -> Value {
    json!({"approvers": [{"type": "manager"}], "decision": "anyOne", "timeoutDays": 7})
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn rfc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn an_approved_request_with_a_later_start_tells_the_requestor_now_and_when_it_starts() {
    let (app, smtp) = app_with_smtp().await;
    let p = people(&app).await;
    let pkg = package(
        &app,
        &p,
        json!([manager_stage()]),
        json!({"type": "afterDays", "days": 30}),
    )
    .await;
    let start = start_time() + Duration::days(3);
    let (status, request) = fixtures::request(
        &app,
        &p.adele.1,
        pkg,
        json!({"schedule": {"startDateTime": rfc(start)}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");

    let (status, done) = decide(&app, &p.megan.1, &request, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "scheduled", "{done}");

    let approved = mail_to(
        &smtp,
        "adele@contoso.test",
        "Request approved: Windows 11 Testing",
    )
    .await;
    let end = start + Duration::days(30);
    let sentence = format!(
        "Access will be delivered on {}, until {}",
        when(start),
        when(end)
    );
    assert!(approved.text.contains(&sentence), "{}", approved.text);
    assert!(approved.html.contains(&sentence), "{}", approved.html);

    app.clock.set(start + Duration::minutes(1));
    portico::scheduler::scheduled::run_once(&app.state, app.now())
        .await
        .expect("scheduled job");
    let delivered = mail_to(
        &smtp,
        "adele@contoso.test",
        "Access delivered: Windows 11 Testing",
    )
    .await;
    let until = when(start + Duration::minutes(1) + Duration::days(30));
    assert!(
        delivered.text.contains("It gives:\n  - Member of group"),
        "{}",
        delivered.text
    );
    assert!(
        delivered.text.contains(&format!("Access until: {until}")),
        "{}",
        delivered.text
    );
    assert!(
        delivered.html.contains("<li>Member of group</li>"),
        "{}",
        delivered.html
    );
    assert!(
        delivered
            .html
            .contains(&format!("Access until: <strong>{until}</strong>")),
        "{}",
        delivered.html
    );
    assert_eq!(queued(&app, "requestApproved").await, 1);
}

#[tokio::test]
async fn an_approval_delivered_at_once_sends_only_the_delivered_email_naming_what_and_no_end_date()
{
    let (app, smtp) = app_with_smtp().await;
    let p = people(&app).await;
    let pkg = package(&app, &p, json!([manager_stage()]), json!({"type": "never"})).await;
    let (status, request) = fixtures::request(&app, &p.adele.1, pkg, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{request}");

    let (status, done) = decide(&app, &p.megan.1, &request, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered", "{done}");

    let delivered = mail_to(
        &smtp,
        "adele@contoso.test",
        "Access delivered: Windows 11 Testing",
    )
    .await;
    for part in [&delivered.text, &delivered.html] {
        assert!(part.contains("with no end date"), "{part}");
        assert!(part.contains("no end date"), "{part}");
    }
    assert!(
        delivered.text.contains("It gives:\n  - Member of group"),
        "{}",
        delivered.text
    );
    assert!(
        delivered.text.contains("Access until: no end date"),
        "{}",
        delivered.text
    );
    assert!(
        delivered.html.contains("<li>Member of group</li>"),
        "{}",
        delivered.html
    );
    // The delivered email says it all: no separate approval email.
    assert_eq!(queued(&app, "requestApproved").await, 0);
}

#[tokio::test]
async fn the_requestor_is_told_when_a_request_is_canceled_by_them_or_by_an_admin() {
    let (app, smtp) = app_with_smtp().await;
    let p = people(&app).await;
    let pkg = package(
        &app,
        &p,
        json!([manager_stage()]),
        json!({"type": "afterDays", "days": 30}),
    )
    .await;
    let cancel = async |token: &str, request: &Value| {
        let (status, body) = app
            .post(
                token,
                &format!(
                    "/api/v1/assignmentRequests/{}/cancel",
                    request["id"].as_str().expect("id")
                ),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    };

    let (_, first) = fixtures::request(&app, &p.adele.1, pkg, json!({})).await;
    cancel(&p.adele.1, &first).await;
    let own = mail_to(
        &smtp,
        "adele@contoso.test",
        "Request canceled: Windows 11 Testing",
    )
    .await;
    for part in [&own.text, &own.html] {
        assert!(part.contains("was canceled. You canceled it."), "{part}");
    }

    let (_, second) = fixtures::request(&app, &p.adele.1, pkg, json!({})).await;
    cancel(&p.t.admin, &second).await;
    let admin: String = sqlx::query_scalar("select display_name from users where id = $1")
        .bind(p.t.admin_id)
        .fetch_one(&app.pool)
        .await
        .expect("admin name");
    let by_admin = smtp
        .wait_for(|m| {
            m.header("to") == Some("adele@contoso.test")
                && m.header("subject") == Some("Request canceled: Windows 11 Testing")
                && m.text.contains(&format!("{admin} canceled it."))
        })
        .await
        .1;
    assert!(
        by_admin
            .html
            .contains(&format!("was canceled. {admin} canceled it.")),
        "{}",
        by_admin.html
    );
    assert_eq!(queued(&app, "requestCanceled").await, 2);
}

#[tokio::test]
async fn co_approvers_are_told_when_another_approver_decided_their_stage() {
    let (app, smtp) = app_with_smtp().await;
    let p = people(&app).await;
    let stage = json!({"approvers": [{"type": "user", "id": p.megan.0}, {"type": "user", "id": p.nestor.0}],
        "decision": "anyOne", "timeoutDays": 7});
    let pkg = package(
        &app,
        &p,
        json!([stage]),
        json!({"type": "afterDays", "days": 30}),
    )
    .await;
    let (_, request) = fixtures::request(&app, &p.adele.1, pkg, json!({})).await;

    let (status, done) = decide(&app, &p.megan.1, &request, "deny", Some("Not this quarter")).await;
    assert_eq!(status, StatusCode::OK, "{done}");

    let told = mail_to(
        &smtp,
        "nestor@contoso.test",
        "Already denied: Adele Vance requests Windows 11 Testing",
    )
    .await;
    assert!(
        told.text.contains(&format!(
            "Megan Bowen denied stage 1 of the request by Adele Vance for the access package \"Windows 11 Testing\" on {}:\n    Not this quarter",
            when(start_time())
        )),
        "{}",
        told.text
    );
    assert!(told.text.contains("Your decision is no longer needed"));
    assert!(
        told.html
            .contains("Megan Bowen denied stage 1 of the request by Adele Vance"),
        "{}",
        told.html
    );
    assert!(told.html.contains("Not this quarter"), "{}", told.html);
    assert!(told.html.contains("Your decision is no longer needed"));
    // Only who had not decided is told.
    assert_eq!(queued(&app, "stageDecided").await, 1);
}

#[tokio::test]
async fn the_second_stage_approval_email_shows_what_the_first_stage_decided() {
    let (app, smtp) = app_with_smtp().await;
    let p = people(&app).await;
    let second = json!({"approvers": [{"type": "user", "id": p.nestor.0}], "decision": "anyOne", "timeoutDays": 7});
    let pkg = package(
        &app,
        &p,
        json!([manager_stage(), second]),
        json!({"type": "afterDays", "days": 30}),
    )
    .await;
    let (_, request) = fixtures::request(&app, &p.adele.1, pkg, json!({})).await;
    app.clock.advance(Duration::hours(2));

    let (status, done) = decide(&app, &p.megan.1, &request, "approve", Some("Fine by me")).await;
    assert_eq!(status, StatusCode::OK, "{done}");

    let asked = mail_to(
        &smtp,
        "nestor@contoso.test",
        "Approval needed: Adele Vance requests Windows 11 Testing",
    )
    .await;
    let at = when(start_time() + Duration::hours(2));
    assert!(
        asked.text.contains(&format!(
            "Decided at earlier stages:\n  Stage 1: Megan Bowen approved on {at}:\n    Fine by me"
        )),
        "{}",
        asked.text
    );
    assert!(
        asked.text.find("Approve: ") < asked.text.find("Fine by me"),
        "{}",
        asked.text
    );
    assert!(
        asked.html.contains("Decided at earlier stages"),
        "{}",
        asked.html
    );
    assert!(
        asked
            .html
            .contains(&format!("Megan Bowen approved on {at}")),
        "{}",
        asked.html
    );
    assert!(asked.html.contains("Fine by me"), "{}", asked.html);
}

#[tokio::test]
async fn review_emails_name_the_package_how_many_people_and_the_due_date() {
    let (app, smtp) = app_with_smtp().await;
    let p = people(&app).await;
    let review = json!({"startDate": rfc(start_time() + Duration::hours(1)), "recurrence": "monthly",
        "durationDays": 4, "reviewers": [{"type": "user", "id": p.megan.0}], "fallbackReviewers": [],
        "ifNoResponse": "keep", "autoApply": true, "requireJustification": false});
    let pkg = group_package(
        &app,
        &p.t,
        "Windows 11 Testing",
        open_policy(json!({"review": review})),
    )
    .await;
    for token in [&p.adele.1, &p.nestor.1] {
        let (status, r) = fixtures::request(&app, token, pkg.package, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(r["state"], "delivered", "{r}");
    }

    app.clock.advance(Duration::hours(1));
    portico::scheduler::reviews::run_once(&app.state, app.now())
        .await
        .expect("review job");
    let due = when(start_time() + Duration::hours(1) + Duration::days(4));
    let started = mail_to(
        &smtp,
        "megan@contoso.test",
        &format!("Access review started: Windows 11 Testing, due {due}"),
    )
    .await;
    for part in [&started.text, &started.html] {
        assert!(part.contains("Windows 11 Testing"), "{part}");
        assert!(part.contains("2 people"), "{part}");
        assert!(part.contains(&due), "{part}");
    }
    assert!(
        started.text.contains("People to review: 2 people\nDue: "),
        "{}",
        started.text
    );

    app.clock.advance(Duration::days(3) + Duration::minutes(1));
    portico::scheduler::reviews::run_once(&app.state, app.now())
        .await
        .expect("review job");
    let reminder = mail_to(
        &smtp,
        "megan@contoso.test",
        "Reminder: access review of Windows 11 Testing is waiting for you",
    )
    .await;
    assert!(
        reminder.text.contains("Still to decide: 2 people of 2"),
        "{}",
        reminder.text
    );
    assert!(reminder.html.contains("2 people of 2"), "{}", reminder.html);
    for part in [&reminder.text, &reminder.html] {
        assert!(part.contains(&due), "{part}");
    }
}

#[tokio::test]
async fn an_approval_whose_access_waits_for_a_connector_tells_the_requestor_it_is_on_its_way() {
    let (app, smtp) = app_with_smtp().await;
    let p = people(&app).await;
    let catalog = fixtures::general_catalog(&app, &p.t).await;
    // Nothing listens there: the grant stays pending, the request delivering.
    let (_, role) =
        fixtures::webhook_resource(&app, &p.t, catalog, "http://127.0.0.1:9/hook", "s3cret").await;
    let pkg = fixtures::package(&app, &p.t, catalog, "Ticketing access", &[role]).await;
    fixtures::policy(
        &app,
        &p.t,
        pkg,
        open_policy(json!({"approval": {"stages": [manager_stage()]},
            "expiration": {"type": "afterDays", "days": 30}})),
    )
    .await;
    let (status, request) = fixtures::request(&app, &p.adele.1, pkg, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{request}");

    let (status, done) = decide(&app, &p.megan.1, &request, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivering", "{done}");

    let approved = mail_to(
        &smtp,
        "adele@contoso.test",
        "Request approved: Ticketing access",
    )
    .await;
    let sentence = format!(
        "Access is being delivered, until {}; you will get another email once it is there.",
        when(start_time() + Duration::days(30))
    );
    assert!(approved.text.contains(&sentence), "{}", approved.text);
    assert!(approved.html.contains(&sentence), "{}", approved.html);
}
