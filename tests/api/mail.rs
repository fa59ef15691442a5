//! Email (DOMAIN.md §10): every notice renders from the database, the scheduler sends
//! queued emails through the real SMTP mailer (to a catcher in this process) with a
//! stable Message-ID, retries with backoff, gives up after a day (visible through
//! `GET /api/v1/outbox?state=failed`), and the demo keeps emails in its dev mailbox.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use portico::domain::ids::{AssignmentId, RequestId, TenantId, UserId};
use portico::email::render::message_id;
use portico::email::{Email, Mailer, SendFuture};
use portico::services::mail::{self, Rendered};
use portico::services::notify::{AskReason, Notice};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::decide;
use crate::helpers::{AppOptions, TestApp, fresh_database, uuid_of};
use crate::mailbox::{
    SmtpCatcher, confirm, line_url, pending_request, request_now, wait_for_email,
};

#[tokio::test]
async fn an_approval_email_travels_over_smtp_and_its_approve_link_decides() {
    let smtp = SmtpCatcher::start().await;
    let app = TestApp::spawn_with(AppOptions {
        self_base_url: true,
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
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (status, _) = app
        .patch(
            &p.t.admin,
            "/api/v1/tenant",
            json!({"replyTo": "it@contoso.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (raw, mail) = smtp
        .wait_for(|m| {
            m.header("to") == Some("megan@contoso.test")
                && m.header("subject")
                    .is_some_and(|s| s.starts_with("Approval needed"))
        })
        .await;

    assert_eq!(
        mail.header("subject"),
        Some("Approval needed: Adele Vance requests Windows 11 Testing")
    );
    let from = mail.header("from").expect("from");
    assert!(
        from.contains("Tenant contoso") && from.contains("<access@portico.test>"),
        "{from}"
    );
    assert!(
        mail.header("content-type")
            .expect("type")
            .starts_with("multipart/alternative")
    );
    let outbox_id: Uuid = sqlx::query_scalar(
        "select id from outbox where kind = 'email' and payload -> 'notice' ->> 'template' = 'approvalNeeded'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("outbox row");
    assert_eq!(
        mail.header("message-id"),
        Some(format!("<{outbox_id}@portico>").as_str())
    );
    // The Approve line is whole even in the raw message.
    let approve = line_url(&mail.text, "Approve: ");
    let deny = line_url(&mail.text, "Deny: ");
    assert!(
        raw.contains(&format!("\r\nApprove: {approve}\r\n")),
        "{raw}"
    );
    assert!(approve.ends_with("/approve") && deny.ends_with("/deny"));
    assert!(mail.html.contains(&approve), "{}", mail.html);
    assert!(mail.text.contains("Laptop 42") && mail.text.contains("Beta testing"));

    let (_, sent) = confirm(&app, &approve, "Approved by mail").await;

    assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
    assert_eq!(request_now(&app, &p).await["state"], "delivered");
    // Once sent (and recorded so, right after the send), the plain token no longer
    // lingers in the outbox.
    let mut tokens = -1i64;
    for _ in 0..100 {
        tokens = sqlx::query_scalar(
            "select count(*) from outbox where kind = 'email' and payload -> 'notice' ? 'token'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("count");
        if tokens == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(tokens, 0);
    let (_, delivered) = smtp
        .wait_for(|m| {
            m.header("to") == Some("adele@contoso.test")
                && m.header("subject") == Some("Access delivered: Windows 11 Testing")
        })
        .await;
    assert_eq!(delivered.header("reply-to"), Some("it@contoso.test"));
    assert!(
        delivered.text.contains("/t/contoso/access"),
        "{}",
        delivered.text
    );
}

#[tokio::test]
async fn every_notice_renders_from_the_database_naming_tenant_package_and_requestor() {
    let app = TestApp::spawn().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let (status, done) = decide(&app, &p.manager.1, &p.request, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let tenant = TenantId(p.t.id);
    let request_id = RequestId(uuid_of(&p.request["id"]));
    let assignment_id = AssignmentId(uuid_of(&done["assignmentId"]));
    // A stage is needed for the approval notice: a second request, still pending.
    let q = {
        let (status, r) = crate::fixtures::request(
            &app,
            &p.manager.1,
            p.package,
            json!({"justification": "Also me", "answers": [{"questionId": p.request["answers"][0]["questionId"], "value": "Desktop 7"}]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        RequestId(uuid_of(&r["id"]))
    };
    let notices = vec![
        Notice::RequestSubmitted { request_id },
        Notice::RequestApproved { request_id },
        Notice::RequestDenied { request_id },
        Notice::RequestExpired { request_id },
        Notice::RequestCanceled {
            request_id,
            by: None,
        },
        Notice::AccessDelivered { request_id },
        Notice::DeliveryFailed { request_id },
        Notice::AccessExpiring {
            assignment_id,
            days_left: 14,
            can_extend: true,
        },
        Notice::AccessEnded { assignment_id },
    ];
    let mut conn = app.pool.acquire().await.expect("conn");
    let settings = app.state.settings().clone();
    let mut rendered = Vec::new();
    for notice in notices {
        let r = mail::render(
            &mut conn,
            &settings,
            tenant,
            UserId(p.employee.0),
            &notice,
            message_id("x"),
        )
        .await
        .expect("renders");
        let Rendered::Send(email) = r else {
            panic!("{notice:?} was not rendered: {r:?}")
        };
        rendered.push((notice, *email));
    }
    // The approval email goes to the approver of the second request (Adele's tenant
    // admin falls back, as Megan has no manager).
    let approver: Uuid =
        sqlx::query_scalar("select approver_ids[1] from request_stages where request_id = $1")
            .bind(q.0)
            .fetch_one(&app.pool)
            .await
            .expect("approver");
    let approval = mail::render(
        &mut conn,
        &settings,
        tenant,
        UserId(approver),
        &Notice::ApprovalNeeded {
            request_id: q,
            stage_index: 0,
            token: "TOKEN".into(),
            reason: AskReason::Escalated,
        },
        message_id("y"),
    )
    .await
    .expect("renders");
    let Rendered::Send(approval) = approval else {
        panic!("approval not rendered")
    };
    assert!(
        approval.subject.contains("escalated"),
        "{}",
        approval.subject
    );
    assert!(
        approval
            .text
            .contains("Approve: http://portico.test/links/TOKEN/approve\n")
    );
    assert!(approval.text.contains("Desktop 7") && approval.html.contains("Desktop 7"));

    for (notice, email) in &rendered {
        assert_eq!(email.from_name, "Tenant contoso");
        assert_eq!(email.to, "adele@contoso.test");
        assert!(
            email.text.contains("Tenant contoso"),
            "{notice:?}: {}",
            email.text
        );
        assert!(
            email.html.contains("Tenant contoso"),
            "{notice:?}: {}",
            email.html
        );
        // (The review emails render from a started review: mail_notices.rs.)
        for part in [&email.text, &email.html, &email.subject] {
            assert!(part.contains("Windows 11 Testing"), "{notice:?}: {part}");
        }
        for part in [&email.text, &email.html] {
            assert!(part.contains("Adele Vance"), "{notice:?}: {part}");
        }
    }
    let by_kind: HashMap<String, &Email> = rendered
        .iter()
        .map(|(n, e)| {
            (
                format!("{n:?}").split(' ').next().unwrap_or("").to_string(),
                e,
            )
        })
        .collect();
    let expiring = by_kind["AccessExpiring"];
    assert!(
        expiring.subject.ends_with("ends in 14 days"),
        "{}",
        expiring.subject
    );
    assert!(expiring.text.contains(&format!(
        "Extend: http://portico.test/t/contoso/access/{}/extend",
        assignment_id
    )));
    assert!(by_kind["RequestSubmitted"].text.contains(&format!(
        "http://portico.test/t/contoso/requests/{request_id}"
    )));
    assert!(
        approval
            .text
            .contains(&format!("http://portico.test/t/contoso/approvals/{q}"))
    );
}

/// A mailer that fails the first `fail` attempts of each message, recording each try.
#[derive(Clone, Default)]
struct FlakyMailer {
    fail: usize,
    tries: Arc<Mutex<Vec<Email>>>,
    delivered: Arc<Mutex<Vec<Email>>>,
}

impl FlakyMailer {
    fn tries_of(&self, to: &str) -> Vec<Email> {
        let tries = self.tries.lock().expect("lock");
        tries.iter().filter(|e| e.to == to).cloned().collect()
    }

    fn delivered_to(&self, to: &str) -> Vec<Email> {
        let d = self.delivered.lock().expect("lock");
        d.iter().filter(|e| e.to == to).cloned().collect()
    }

    async fn wait_tries(&self, to: &str, n: usize) {
        for _ in 0..300 {
            if self.tries_of(to).len() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{to} saw {} tries, not {n}", self.tries_of(to).len());
    }
}

impl Mailer for FlakyMailer {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a> {
        Box::pin(async move {
            let attempt = {
                let mut tries = self.tries.lock().expect("lock");
                tries.push(email.clone());
                tries
                    .iter()
                    .filter(|e| e.message_id == email.message_id)
                    .count()
            };
            if attempt <= self.fail {
                anyhow::bail!("451 mailbox busy (attempt {attempt})");
            }
            self.delivered.lock().expect("lock").push(email.clone());
            Ok(())
        })
    }
}

async fn outbox_row(app: &TestApp, to: Uuid) -> serde_json::Value {
    sqlx::query_scalar(
        "select json_build_object('state', state, 'attempts', attempts, 'lastError', last_error, 'payload', payload)
         from outbox where kind = 'email' and payload ->> 'to' = $1 order by id limit 1",
    )
    .bind(to.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("outbox row")
}

#[tokio::test]
async fn a_failing_send_is_retried_with_backoff_and_the_same_message_id() {
    let mailer = FlakyMailer {
        fail: 2,
        ..FlakyMailer::default()
    };
    let app = TestApp::spawn_with(AppOptions {
        mailer: Some(Arc::new(mailer.clone())),
        ..AppOptions::default()
    })
    .await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let to = p.manager_email.clone();

    mailer.wait_tries(&to, 1).await;
    // The failure is recorded right after the attempt returns.
    let mut row = outbox_row(&app, p.manager.0).await;
    for _ in 0..100 {
        if row["lastError"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        row = outbox_row(&app, p.manager.0).await;
    }
    assert_eq!(row["state"], "pending", "{row}");
    assert!(
        row["lastError"].as_str().unwrap_or("").contains("451"),
        "{row}"
    );
    // Not before the backoff (10 s) has passed.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(mailer.tries_of(&to).len(), 1);
    app.clock.advance(chrono::Duration::seconds(11));
    mailer.wait_tries(&to, 2).await;
    app.clock.advance(chrono::Duration::seconds(21));
    mailer.wait_tries(&to, 3).await;
    for _ in 0..300 {
        if outbox_row(&app, p.manager.0).await["state"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let tries = mailer.tries_of(&to);
    assert_eq!(tries.len(), 3);
    assert!(tries.iter().all(|e| e.message_id == tries[0].message_id));
    assert!(tries[0].message_id.starts_with('<') && tries[0].message_id.ends_with("@portico>"));
    assert_eq!(mailer.delivered_to(&to).len(), 1);
    let row = outbox_row(&app, p.manager.0).await;
    assert_eq!(row["state"], "done", "{row}");
    assert_eq!(row["attempts"], 3);
    assert!(row["payload"]["notice"].get("token").is_none(), "{row}");
    // The link in the email that finally went out still works.
    let url = line_url(&mailer.delivered_to(&to)[0].text, "Approve: ");
    assert!(url.starts_with("http://portico.test/links/"), "{url}");
}

#[tokio::test]
async fn after_a_day_of_failures_an_email_is_failed_and_listed_by_the_outbox_api() {
    let mailer = FlakyMailer {
        fail: usize::MAX,
        ..FlakyMailer::default()
    };
    let app = TestApp::spawn_with(AppOptions {
        mailer: Some(Arc::new(mailer.clone())),
        ..AppOptions::default()
    })
    .await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    mailer.wait_tries(&p.manager_email, 1).await;

    app.clock.advance(chrono::Duration::hours(25));
    mailer.wait_tries(&p.manager_email, 2).await;
    let mut failed = serde_json::Value::Null;
    for _ in 0..300 {
        let (status, list) = app.get(&p.t.admin, "/api/v1/outbox?state=failed").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        if list["items"].as_array().is_some_and(|i| i.len() == 2) {
            failed = list;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let items = failed["items"]
        .as_array()
        .expect("two failed emails (approver and requestor)");
    let to_manager = items
        .iter()
        .find(|i| i["recipientId"] == p.manager.0.to_string())
        .expect("the approver's email");
    assert_eq!(to_manager["kind"], "email");
    assert_eq!(to_manager["state"], "failed");
    assert_eq!(to_manager["attempts"], 2);
    assert!(
        to_manager["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("451 mailbox busy")
    );
    assert!(to_manager["completedAt"].is_string(), "{to_manager}");
    assert!(to_manager["createdAt"].is_string(), "{to_manager}");
    assert!(failed["nextCursor"].is_null());
    let row = outbox_row(&app, p.manager.0).await;
    assert!(row["payload"]["notice"].get("token").is_none(), "{row}");
    // Nothing more is tried.
    app.clock.advance(chrono::Duration::hours(2));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(mailer.tries_of(&p.manager_email).len(), 2);
    // Only tenant admins see the outbox; unknown states are refused.
    let (status, _) = app.get(&p.employee.1, "/api/v1/outbox?state=failed").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, problem) = app.get(&p.t.admin, "/api/v1/outbox?state=lost").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["state"].is_string(), "{problem}");
    let (status, all) = app
        .get(&p.t.admin, "/api/v1/outbox?kind=email&limit=1")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));
    assert!(all["nextCursor"].is_string(), "{all}");
    // Another tenant sees none of it.
    let other = app.tenant("fabrikam").await;
    let (_, theirs) = app.get(&other.admin, "/api/v1/outbox").await;
    assert_eq!(theirs["items"], json!([]));
}

#[tokio::test]
async fn emails_to_deactivated_users_and_for_decided_stages_are_not_sent() {
    let app = TestApp::spawn().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let request_id = RequestId(uuid_of(&p.request["id"]));
    let settings = app.state.settings().clone();
    let (status, _) = decide(&app, &p.manager.1, &p.request, "approve", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .delete(&p.t.admin, &format!("/api/v1/users/{}", p.employee.0))
        .await;
    assert!(status.is_success(), "{status}");
    let mut conn = app.pool.acquire().await.expect("conn");

    let to_deactivated = mail::render(
        &mut conn,
        &settings,
        TenantId(p.t.id),
        UserId(p.employee.0),
        &Notice::RequestSubmitted { request_id },
        message_id("z"),
    )
    .await
    .expect("renders");
    let decided_stage = mail::render(
        &mut conn,
        &settings,
        TenantId(p.t.id),
        UserId(p.manager.0),
        &Notice::ApprovalNeeded {
            request_id,
            stage_index: 0,
            token: "TOKEN".into(),
            reason: AskReason::Reminder,
        },
        message_id("z"),
    )
    .await
    .expect("renders");

    assert!(
        matches!(to_deactivated, Rendered::Skip(ref r) if r.contains("deactivated")),
        "{to_deactivated:?}"
    );
    assert!(
        matches!(decided_stage, Rendered::Skip(ref r) if r.contains("no longer waiting")),
        "{decided_stage:?}"
    );
}

#[tokio::test]
async fn the_demo_dev_mailbox_keeps_emails_and_shows_their_links() {
    let database = fresh_database().await;
    let pool = portico::db::connect(database.options.clone(), 8)
        .await
        .expect("connect");
    let clock = Arc::new(portico::clock::SystemClock);
    let dev = portico::services::dev_mail::DevMailbox::new(pool.clone(), clock);
    let app = TestApp::spawn_on_with(
        pool,
        database.options.clone(),
        AppOptions {
            mailer: Some(Arc::new(dev)),
            demo_tenant: Some("contoso".into()),
            ..AppOptions::default()
        },
    )
    .await;
    let mailbox = app.state.dev_mail_path().expect("demo mode has a mailbox");
    // Another tenant's mail (its sign-in and approval links) never shows in the demo's.
    let other = pending_request(&app, "fabrikam", |_| json!({})).await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;

    let app = &app;
    let page = |path: String| async move {
        app.client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body")
    };
    let mut list = String::new();
    for _ in 0..300 {
        list = page(mailbox.clone()).await;
        if list.contains("Approval needed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        list.contains("Approval needed: Adele Vance requests Windows 11 Testing"),
        "{list}"
    );
    assert!(list.contains(&p.manager_email), "{list}");
    wait_for_dev_mail(app, &other.manager_email).await;
    let list = page(mailbox.clone()).await;
    assert!(list.contains(&p.manager_email), "{list}");
    assert!(!list.contains(&other.manager_email), "{list}");
    let at = list.find("Approval needed").expect("subject");
    let prefix = format!("href=\"{mailbox}/");
    let href = list[..at].rfind(&prefix).expect("link") + prefix.len();
    let id = &list[href..];
    let id = &id[..id.find('"').expect("end")];

    let shown = app
        .client
        .get(format!("{}{mailbox}/{id}", app.address))
        .send()
        .await
        .expect("show");
    assert_eq!(shown.status(), StatusCode::OK);
    let shown = shown.text().await.expect("body");
    assert!(
        shown.contains("<a href=\"http://portico.test/links/"),
        "{shown}"
    );
    assert!(shown.contains("/approve\">"), "{shown}");
    assert!(shown.contains("sandbox="), "{shown}");
    let html = app
        .client
        .get(format!("{}{mailbox}/{id}/html", app.address))
        .send()
        .await
        .expect("html");
    assert_eq!(html.status(), StatusCode::OK);
    let csp = html.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.starts_with("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        html.text()
            .await
            .expect("body")
            .contains("Windows 11 Testing")
    );

    for path in [
        format!("{mailbox}/{}", Uuid::now_v7()),
        "/dev/mail".to_string(),
        format!("/dev/mail/{id}"),
        format!("/dev/mail/{}", "A".repeat(43)),
        format!("/dev/mail/{}/{id}", "A".repeat(43)),
        format!("/dev/mail/{}/{id}/html", "A".repeat(43)),
    ] {
        let missing = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("missing");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// Waits until the dev mailbox table holds an email to `to` (any tenant).
async fn wait_for_dev_mail(app: &TestApp, to: &str) {
    for _ in 0..300 {
        let n: i64 =
            sqlx::query_scalar("select count(*) from dev_mail_messages where to_address = $1")
                .bind(to)
                .fetch_one(&app.pool)
                .await
                .expect("count");
        if n > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no email to {to} in the dev mailbox");
}

#[tokio::test]
async fn the_dev_mailbox_exists_only_in_demo_mode() {
    let app = TestApp::spawn().await;
    assert!(app.state.dev_mail_path().is_none());
    let res = app
        .client
        .get(format!("{}/dev/mail", app.address))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requestors_are_told_when_their_request_is_received() {
    let app = TestApp::spawn().await;
    let p = pending_request(&app, "contoso", |_| json!({})).await;
    let email = wait_for_email(&app.mailer, |e| {
        e.to == "adele@contoso.test" && e.subject == "Request received: Windows 11 Testing"
    })
    .await;
    assert!(
        email.text.contains(&format!(
            "http://portico.test/t/contoso/requests/{}",
            p.request_id()
        )),
        "{}",
        email.text
    );
    assert!(!email.text.contains("Approve: "), "{}", email.text);
}
