//! `GET, PUT /api/v1/tenant/chat`: tenant admins only, secrets write-only and sealed,
//! every bad field named, audited, and one tenant's settings invisible to another.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

use super::{BOT_TOKEN, SIGNING_SECRET, SlackApi, TeamsHook, app_with, set_chat, slack_settings};

#[tokio::test]
async fn a_tenant_without_chat_shows_neither_channel() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let t = app.tenant("contoso").await;

    let (status, body) = app.get(&t.admin, "/api/v1/tenant/chat").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["slack"], json!(null));
    assert_eq!(body["teams"], json!(null));
}

#[tokio::test]
async fn secrets_are_write_only_sealed_and_kept_when_left_out() {
    let slack = SlackApi::start().await;
    let teams = TeamsHook::start().await;
    let app = app_with(&slack).await;
    let t = app.tenant("contoso").await;

    let mut body = slack_settings();
    body["teams"] = json!({"webhookUrl": teams.url});
    let (status, set) = set_chat(&app, &t, body).await;

    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["slack"]["botTokenSet"], true);
    assert_eq!(set["slack"]["signingSecretSet"], true);
    assert_eq!(
        set["slack"]["interactionUrl"],
        format!("{}/chat/slack/contoso/interactions", app.address)
    );
    assert_eq!(set["teams"]["webhookUrlSet"], true);
    let shown = set.to_string();
    for secret in [BOT_TOKEN, SIGNING_SECRET, teams.url.as_str()] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
    let stored: (String, String, String) = sqlx::query_as(
        "select slack_bot_token, slack_signing_secret, teams_webhook_url from chat_settings",
    )
    .fetch_one(&app.pool)
    .await
    .expect("row");
    for (sealed, plain) in [
        (&stored.0, BOT_TOKEN),
        (&stored.1, SIGNING_SECRET),
        (&stored.2, teams.url.as_str()),
    ] {
        assert!(sealed.starts_with("enc:v1:"), "{sealed}");
        assert!(!sealed.contains(plain));
    }

    // Left out: kept. The signing secret alone can change.
    let (status, again) = set_chat(
        &app,
        &t,
        json!({"slack": {"signingSecret": "another-signing-secret"}, "teams": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["slack"]["botTokenSet"], true);
    assert_eq!(again["teams"]["webhookUrlSet"], true);
    let kept: (String, String, String) = sqlx::query_as(
        "select slack_bot_token, slack_signing_secret, teams_webhook_url from chat_settings",
    )
    .fetch_one(&app.pool)
    .await
    .expect("row");
    assert_eq!(kept.0, stored.0);
    assert_ne!(kept.1, stored.1);
    assert_eq!(kept.2, stored.2);

    // Null: removed.
    let (status, removed) = set_chat(&app, &t, json!({"slack": null, "teams": null})).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["slack"], json!(null));
    assert_eq!(removed["teams"], json!(null));

    let actions = app.audit_actions(t.id).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.as_str() == "tenant.chatSet")
            .count(),
        3,
        "{actions:?}"
    );
}

#[tokio::test]
async fn bad_settings_answer_422_naming_each_field_and_store_nothing() {
    let slack = SlackApi::start().await;
    let app = TestApp::spawn_with_settings(&[
        ("PORTICO_SLACK_API_URL", slack.url.as_str()),
        ("PORTICO_WEBHOOK_ALLOW_PRIVATE", "false"),
    ])
    .await;
    let t = app.tenant("contoso").await;

    let (status, body) = set_chat(
        &app,
        &t,
        json!({"slack": {"botToken": "xoxp-a-user-token"}, "teams": {"webhookUrl": "http://teams.example.com/x"}}),
    )
    .await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = &body["errors"];
    assert!(
        errors["slack.botToken"]
            .as_str()
            .is_some_and(|m| m.contains("xoxb-")),
        "{body}"
    );
    assert!(errors["slack.signingSecret"].is_string(), "{body}");
    assert!(errors["teams.webhookUrl"].is_string(), "{body}");

    // The address rule: a literal private address is refused at once.
    let (status, body) = set_chat(
        &app,
        &t,
        json!({"teams": {"webhookUrl": "https://169.254.169.254/latest"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["errors"]["teams.webhookUrl"].is_string(), "{body}");

    let (status, body) = set_chat(&app, &t, json!({"slack": {"botToken": 5}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let rows: i64 = sqlx::query_scalar("select count(*) from chat_settings")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn only_tenant_admins_see_or_set_chat_and_each_tenant_sees_its_own() {
    let slack = SlackApi::start().await;
    let app = app_with(&slack).await;
    let contoso = app.tenant("contoso").await;
    let fabrikam = app.tenant("fabrikam").await;
    let (_, member) = app.user(&contoso, "lee@contoso.test", json!({})).await;
    let (status, body) = set_chat(&app, &contoso, slack_settings()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (get_status, _) = app.get(&member, "/api/v1/tenant/chat").await;
    let (put_status, _) = app
        .put(&member, "/api/v1/tenant/chat", slack_settings())
        .await;
    let (_, other) = app.get(&fabrikam.admin, "/api/v1/tenant/chat").await;

    assert_eq!(get_status, StatusCode::FORBIDDEN);
    assert_eq!(put_status, StatusCode::FORBIDDEN);
    assert_eq!(other["slack"], json!(null), "{other}");
}
