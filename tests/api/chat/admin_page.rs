//! The admin page "Slack and Teams": the Slack interactivity URL to paste into the
//! Slack app, secrets that are write-only (a blank field keeps the stored one, a
//! Remove button clears), 422 field errors, each channel saved without touching the
//! other, and the page only for people who manage the directory.

use reqwest::StatusCode;
use serde_json::json;

use super::{BOT_TOKEN, SIGNING_SECRET, TeamsHook};
use crate::helpers::TestApp;
use crate::helpers::portal::{admin_of, sign_in};

#[tokio::test]
async fn an_admin_sets_slack_and_teams_on_the_page_and_the_secrets_stay_hidden() {
    let app = TestApp::spawn().await;
    let teams = TeamsHook::start().await;
    let (t, b) = admin_of(&app, "acme").await;

    let page = b.get("/admin/chat").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<h1>Slack and Teams</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("http://portico.test/chat/slack/acme/interactions</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Slack is not set up."));
    let home = b.get("/admin").await;
    assert!(
        home.body.contains("href=\"/t/acme/admin/chat\""),
        "linked from the admin navigation"
    );

    let saved = b
        .post(
            "/admin/chat/slack",
            &[
                ("slack.botToken", BOT_TOKEN),
                ("slack.signingSecret", SIGNING_SECRET),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let saved = b
        .post(
            "/admin/chat/teams",
            &[("teams.webhookUrl", teams.url.as_str())],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

    let (_, chat) = app.get(&t.admin, "/api/v1/tenant/chat").await;
    assert_eq!(chat["slack"]["botTokenSet"], true, "{chat}");
    assert_eq!(
        chat["teams"]["webhookUrlSet"], true,
        "Teams saved, Slack kept: {chat}"
    );
    let page = b.get("/admin/chat").await;
    assert!(page.body.contains("Slack is set up"), "{}", page.body);
    for secret in [BOT_TOKEN, SIGNING_SECRET, teams.url.as_str()] {
        assert!(!page.body.contains(secret), "{secret} shown");
    }

    // Blank fields keep what is stored.
    let kept = b
        .post(
            "/admin/chat/slack",
            &[("slack.botToken", ""), ("slack.signingSecret", "")],
        )
        .await;
    assert_eq!(kept.status, StatusCode::SEE_OTHER, "{}", kept.body);
    let (_, chat) = app.get(&t.admin, "/api/v1/tenant/chat").await;
    assert_eq!(chat["slack"]["signingSecretSet"], true, "{chat}");

    // Remove clears one channel, the other stays.
    let removed = b.post("/admin/chat/slack/remove", &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    let (_, chat) = app.get(&t.admin, "/api/v1/tenant/chat").await;
    assert_eq!(chat["slack"], json!(null), "{chat}");
    assert_eq!(chat["teams"]["webhookUrlSet"], true, "{chat}");
    let removed = b.post("/admin/chat/teams/remove", &[]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let (_, chat) = app.get(&t.admin, "/api/v1/tenant/chat").await;
    assert_eq!(chat["teams"], json!(null), "{chat}");
}

#[tokio::test]
async fn bad_chat_settings_come_back_at_their_fields() {
    let app = TestApp::spawn().await;
    let (_, b) = admin_of(&app, "acme").await;

    let refused = b
        .post(
            "/admin/chat/slack",
            &[
                ("slack.botToken", "xoxp-user-token"),
                ("slack.signingSecret", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("id=\"f-slack.botToken-error\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("starts with xoxb-"));
    assert!(refused.body.contains("id=\"f-slack.signingSecret-error\""));
    assert!(
        refused
            .body
            .contains("Signing secret: the signing secret is required")
    );
    assert!(!refused.body.contains("xoxp-user-token"));

    let refused = b
        .post("/admin/chat/teams", &[("teams.webhookUrl", "not a url")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("id=\"f-teams.webhookUrl-error\""),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn people_who_do_not_manage_the_directory_cannot_open_or_change_chat_settings() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    app.user(&t, "member@acme.test", json!({})).await;
    let b = sign_in(&app, "acme", "member@acme.test").await;

    let page = b.get("/admin/chat").await;
    assert!(
        matches!(page.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{}",
        page.status
    );
    let changed = b
        .post(
            "/admin/chat/slack",
            &[
                ("slack.botToken", BOT_TOKEN),
                ("slack.signingSecret", SIGNING_SECRET),
            ],
        )
        .await;
    assert!(
        matches!(
            changed.status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ),
        "{}",
        changed.status
    );
    let (_, chat) = app.get(&t.admin, "/api/v1/tenant/chat").await;
    assert_eq!(chat["slack"], json!(null));
}

#[tokio::test]
async fn the_chat_forms_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;

    let refused = b
        .post_raw(
            "/admin/chat/slack",
            &[
                ("slack.botToken", BOT_TOKEN),
                ("slack.signingSecret", SIGNING_SECRET),
            ],
        )
        .await;

    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let (_, chat) = app.get(&t.admin, "/api/v1/tenant/chat").await;
    assert_eq!(chat["slack"], json!(null));
}
