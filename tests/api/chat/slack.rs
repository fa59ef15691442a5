//! Slack: the direct message an approver gets, signed clicks that decide (Approve at
//! once, Deny through the reason form), every refusal deciding nothing, and messages
//! updated when the request is decided anywhere.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    ADELE_SLACK, LEE_SLACK, MEGAN_SLACK, SIGNING_SECRET, SlackApi, app_with, buttons, click,
    decisions, pending, send, send_signed, slack_settings, submission,
};
use crate::fixtures;
use crate::helpers::TestApp;

const APPROVE: &str = "portico_approve";
const DENY: &str = "portico_deny";

fn manager_stage(_: &super::People) -> Value {
    json!({})
}

/// The state of the request as its requestor sees it.
async fn state_of(app: &TestApp, s: &super::Setup) -> String {
    let (status, r) = app
        .get(
            &s.employee.1,
            &format!("/api/v1/assignmentRequests/{}", s.request_id()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r["state"].as_str().unwrap_or_default().to_string()
}

/// The button value of the message Megan got.
async fn megan_button(slack: &SlackApi) -> String {
    let posted = slack.wait_for("chat.postMessage", 1).await;
    let b = buttons(&posted[0].args["blocks"]);
    b.iter()
        .find(|(id, _)| id == APPROVE)
        .map(|(_, v)| v.clone())
        .expect("an Approve button")
}

fn text_of(v: &Value) -> String {
    v.to_string()
}

#[tokio::test]
async fn an_approver_gets_a_direct_message_whose_buttons_name_only_the_request_and_stage() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;

    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;

    let posted = slack.wait_for("chat.postMessage", 1).await;
    let lookups = slack.calls_of("users.lookupByEmail");
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0].args["email"], "megan@contoso.test");
    let call = &posted[0];
    assert_eq!(call.token, super::BOT_TOKEN);
    assert_eq!(call.args["channel"], MEGAN_SLACK);
    let shown = text_of(&call.args["blocks"]);
    for part in [
        "Windows 11 Testing",
        "Adele Vance",
        "Beta testing",
        "Which device?",
        "Laptop 42",
        "1 of 1",
    ] {
        assert!(shown.contains(part), "{part} missing: {shown}");
    }
    let value = format!("{}:0", s.request_id());
    assert_eq!(
        buttons(&call.args["blocks"]),
        vec![
            (APPROVE.to_string(), value.clone()),
            (DENY.to_string(), value)
        ]
    );
    assert!(!shown.contains(super::BOT_TOKEN) && !shown.contains(SIGNING_SECRET));
    // Slack answered; Portico keeps where the message is.
    let mut stored: (String, Option<String>, Option<String>, Option<String>) = Default::default();
    for _ in 0..100 {
        stored = sqlx::query_as(
            "select state, slack_user_id, channel, ts from chat_messages where request_id = $1::uuid",
        )
        .bind(s.request_id())
        .fetch_one(&app.pool)
        .await
        .expect("message");
        if stored.0 != "queued" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(stored.0, "posted");
    assert_eq!(stored.1.as_deref(), Some(MEGAN_SLACK));
    assert_eq!(stored.2.as_deref(), Some("DU0MEGAN"));
    assert!(stored.3.is_some());
}

#[tokio::test]
async fn a_signed_approve_click_decides_and_the_message_then_shows_the_outcome() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;
    let value = megan_button(&slack).await;

    let (status, answer) = send(&app, "contoso", &click(MEGAN_SLACK, APPROVE, &value)).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, Value::Null, "nothing to show: {answer}");
    assert_eq!(
        decisions(&app, &s.request_id()).await,
        [("approve".to_string(), None)]
    );
    assert_ne!(state_of(&app, &s).await, "pendingApproval");
    let updated = slack.wait_for("chat.update", 1).await;
    assert_eq!(updated[0].args["channel"], "DU0MEGAN");
    assert_eq!(updated[0].args["ts"], "1503435956.000001");
    let shown = text_of(&updated[0].args["blocks"]);
    assert!(shown.contains("You already approved"), "{shown}");
    assert!(buttons(&updated[0].args["blocks"]).is_empty(), "{shown}");
    let actor: String = sqlx::query_scalar(
        "select actor_id::text from audit_events where action = 'assignmentRequest.decided' and target_id = $1::uuid",
    )
    .bind(s.request_id())
    .fetch_one(&app.pool)
    .await
    .expect("decided event");
    assert_eq!(actor, s.manager.0.to_string());
}

#[tokio::test]
async fn deny_opens_a_reason_form_whose_submission_denies_with_the_reason() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;
    let value = megan_button(&slack).await;

    let (status, answer) = send(&app, "contoso", &click(MEGAN_SLACK, DENY, &value)).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    let opened = slack.wait_for("views.open", 1).await;
    assert_eq!(
        opened[0].args["trigger_id"],
        "12466734323.1395872398.a5b1d4e5e8"
    );
    let view = opened[0].args["view"].clone();
    assert_eq!(view["type"], "modal");
    assert!(text_of(&view).contains("Reason (optional)"), "{view}");
    assert!(decisions(&app, &s.request_id()).await.is_empty());

    let (status, answer) = send(
        &app,
        "contoso",
        &submission(MEGAN_SLACK, &view, "Not this quarter"),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, Value::Null, "the form closes: {answer}");
    assert_eq!(
        decisions(&app, &s.request_id()).await,
        [("deny".to_string(), Some("Not this quarter".to_string()))]
    );
    assert_eq!(state_of(&app, &s).await, "denied");
    let updated = slack.wait_for("chat.update", 1).await;
    let shown = text_of(&updated[0].args["blocks"]);
    assert!(shown.contains("You already denied"), "{shown}");
    assert!(
        shown.contains("Megan Bowen denied on 2027-01-04 09:00 UTC: Not this quarter"),
        "{shown}"
    );
}

#[tokio::test]
async fn forged_or_stale_requests_are_refused_and_decide_nothing() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;
    let value = megan_button(&slack).await;
    let approve = click(MEGAN_SLACK, APPROVE, &value);
    let now = app.now().timestamp();

    let forged = send_signed(&app, "contoso", &approve, "not-the-signing-secret", now).await;
    let stale = send_signed(&app, "contoso", &approve, SIGNING_SECRET, now - 301).await;
    let future = send_signed(&app, "contoso", &approve, SIGNING_SECRET, now + 301).await;
    let unsigned = app
        .client
        .post(format!("{}/chat/slack/contoso/interactions", app.address))
        .form(&[("payload", approve.to_string())])
        .send()
        .await
        .expect("send");

    for (status, body) in [&forged, &stale, &future] {
        assert_eq!(*status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            body["text"].as_str().is_some_and(|t| t.contains("refused")),
            "{body}"
        );
    }
    assert!(
        stale.1["text"]
            .as_str()
            .unwrap_or_default()
            .contains("five minutes")
    );
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert!(decisions(&app, &s.request_id()).await.is_empty());
    assert_eq!(state_of(&app, &s).await, "pendingApproval");
}

#[tokio::test]
async fn a_click_sent_to_another_tenant_is_refused_and_decides_nothing() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;
    let value = megan_button(&slack).await;
    let other_secret = "fabrikam-signing-secret";
    let fabrikam = app.tenant("fabrikam").await;
    let (status, body) = super::set_chat(
        &app,
        &fabrikam,
        json!({"slack": {"botToken": super::BOT_TOKEN, "signingSecret": other_secret}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let approve = click(MEGAN_SLACK, APPROVE, &value);
    let now = app.now().timestamp();

    // Contoso's signature does not open fabrikam's door.
    let (cross, _) = send_signed(&app, "fabrikam", &approve, SIGNING_SECRET, now).await;
    // Signed for fabrikam: Megan is nobody there, and the request is not fabrikam's.
    let (status, answer) = send_signed(&app, "fabrikam", &approve, other_secret, now).await;
    let (unknown, _) = send(&app, "nowhere", &approve).await;

    assert_eq!(cross, StatusCode::UNAUTHORIZED);
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or_default()
            .contains("no decision"),
        "{answer}"
    );
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert!(decisions(&app, &s.request_id()).await.is_empty());
}

#[tokio::test]
async fn someone_who_is_not_an_approver_is_told_so_in_slack_and_decides_nothing() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;
    let value = megan_button(&slack).await;

    let (status, answer) = send(&app, "contoso", &click(LEE_SLACK, APPROVE, &value)).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    let text = answer["text"].as_str().unwrap_or_default();
    assert!(text.contains("not an approver"), "{answer}");
    // Lee was never sent a message: Slack was asked who he is.
    let info = slack.calls_of("users.info");
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].args["user"], LEE_SLACK);
    let told = slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(told[0].args["user"], LEE_SLACK);
    assert_eq!(told[0].args["channel"], "DU0LEE");
    assert!(decisions(&app, &s.request_id()).await.is_empty());
}

#[tokio::test]
async fn the_target_named_as_approver_cannot_decide_their_own_request_in_slack() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(
        &app,
        &slack,
        "contoso",
        slack_settings(),
        |p| json!({"approvers": [{"type": "user", "id": p.employee}, {"type": "manager"}]}),
    )
    .await;
    let value = megan_button(&slack).await;

    let (status, answer) = send(&app, "contoso", &click(ADELE_SLACK, APPROVE, &value)).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or_default()
            .contains("your own access"),
        "{answer}"
    );
    assert!(decisions(&app, &s.request_id()).await.is_empty());
    // Only Megan was asked: the target never gets buttons for her own request.
    let asked: Vec<String> = slack
        .calls_of("users.lookupByEmail")
        .iter()
        .map(|c| c.args["email"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(asked, ["megan@contoso.test"]);
}

#[tokio::test]
async fn a_second_click_is_refused_and_records_nothing_more() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;
    let value = megan_button(&slack).await;
    let approve = click(MEGAN_SLACK, APPROVE, &value);
    let (first, _) = send(&app, "contoso", &approve).await;
    assert_eq!(first, StatusCode::OK);

    let (status, answer) = send(&app, "contoso", &approve).await;
    let (deny_status, deny) = send(&app, "contoso", &click(MEGAN_SLACK, DENY, &value)).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or_default()
            .contains("You already approved"),
        "{answer}"
    );
    assert_eq!(deny_status, StatusCode::OK);
    assert_eq!(deny["response_type"], "ephemeral", "{deny}");
    assert!(slack.calls_of("views.open").is_empty());
    assert_eq!(decisions(&app, &s.request_id()).await.len(), 1);
}

#[tokio::test]
async fn a_decision_in_the_portal_updates_every_slack_message_with_who_decided() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(
        &app,
        &slack,
        "contoso",
        slack_settings(),
        |p| json!({"approvers": [{"type": "manager"}, {"type": "user", "id": p.lee}]}),
    )
    .await;
    slack.wait_for("chat.postMessage", 2).await;

    let (status, body) = fixtures::decide(&app, &s.manager.1, &s.request, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let updates = slack.wait_for("chat.update", 2).await;
    let to_lee = updates
        .iter()
        .find(|u| u.args["channel"] == "DU0LEE")
        .expect("Lee's message updated");
    let shown = text_of(&to_lee.args["blocks"]);
    assert!(shown.contains("approved by Megan Bowen"), "{shown}");
    assert!(buttons(&to_lee.args["blocks"]).is_empty(), "{shown}");
    // Lee's stale button now refuses.
    let value = format!("{}:0", s.request_id());
    let (_, answer) = send(&app, "contoso", &click(LEE_SLACK, APPROVE, &value)).await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or_default()
            .contains("approved by Megan Bowen"),
        "{answer}"
    );
    assert_eq!(decisions(&app, &s.request_id()).await.len(), 1);
}

#[tokio::test]
async fn an_approver_slack_does_not_know_is_recorded_and_not_tried_again() {
    let slack = SlackApi::start().await;
    slack.hide("megan@contoso.test");
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;

    slack.wait_for("users.lookupByEmail", 1).await;
    let mut row: (String, Option<String>) = (String::new(), None);
    for _ in 0..100 {
        row = sqlx::query_as("select state, error from chat_messages where request_id = $1::uuid")
            .bind(s.request_id())
            .fetch_one(&app.pool)
            .await
            .expect("message");
        if row.0 != "queued" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Several scheduler passes later, still one lookup and no message.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;

    assert_eq!(row.0, "notFound");
    assert!(
        row.1
            .as_deref()
            .unwrap_or_default()
            .contains("megan@contoso.test"),
        "{row:?}"
    );
    assert_eq!(slack.calls_of("users.lookupByEmail").len(), 1);
    assert!(slack.calls_of("chat.postMessage").is_empty());
    let outbox: Vec<String> = sqlx::query_scalar("select state from outbox where kind = 'slack'")
        .fetch_all(&app.pool)
        .await
        .expect("outbox");
    assert_eq!(outbox, ["done"]);
}

#[tokio::test]
async fn a_canceled_request_takes_the_buttons_off_the_message_and_delivery_adds_no_update() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;
    let value = megan_button(&slack).await;

    let path = format!("/api/v1/assignmentRequests/{}/cancel", s.request_id());
    let (status, canceled) = app.post(&s.employee.1, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{canceled}");

    let updated = slack.wait_for("chat.update", 1).await;
    let shown = text_of(&updated[0].args["blocks"]);
    assert!(shown.contains("canceled"), "{shown}");
    assert!(buttons(&updated[0].args["blocks"]).is_empty(), "{shown}");
    let (_, answer) = send(&app, "contoso", &click(MEGAN_SLACK, APPROVE, &value)).await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap_or_default()
            .contains("canceled"),
        "{answer}"
    );
    assert!(decisions(&app, &s.request_id()).await.is_empty());
}

#[tokio::test]
async fn an_approval_updates_the_message_once_though_delivery_follows() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let s = pending(&app, &slack, "contoso", slack_settings(), manager_stage).await;
    let value = megan_button(&slack).await;

    let (status, _) = send(&app, "contoso", &click(MEGAN_SLACK, APPROVE, &value)).await;
    assert_eq!(status, StatusCode::OK);
    slack.wait_for("chat.update", 1).await;
    for _ in 0..50 {
        if state_of(&app, &s).await == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    assert_eq!(state_of(&app, &s).await, "delivered");
    assert_eq!(slack.calls_of("chat.update").len(), 1);
}
