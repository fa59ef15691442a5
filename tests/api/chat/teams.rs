//! Teams: an Adaptive Card posted to the channel's webhook through the outbox, whose
//! buttons open the emailed-link pages, where the approver confirms.

use reqwest::StatusCode;
use serde_json::json;

use super::{SlackApi, TeamsHook, app_with, decisions, pending};
use crate::mailbox::{confirm, open};

#[tokio::test]
async fn the_card_opens_the_approvers_link_pages_and_confirming_there_decides() {
    let slack = SlackApi::start().await;
    let teams = TeamsHook::start().await;
    let app = app_with(&slack).await;
    let s = pending(
        &app,
        &slack,
        "contoso",
        json!({"teams": {"webhookUrl": teams.url}}),
        |_| json!({}),
    )
    .await;

    let messages = teams.wait_for(1).await;

    let m = &messages[0];
    assert_eq!(m["type"], "message");
    let attachment = &m["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    let shown = card.to_string();
    for part in [
        "Windows 11 Testing",
        "Adele Vance",
        "Beta testing",
        "Laptop 42",
        "For Megan Bowen:",
    ] {
        assert!(shown.contains(part), "{part} missing: {shown}");
    }
    let actions: Vec<&serde_json::Value> = card["body"]
        .as_array()
        .expect("body")
        .iter()
        .filter(|b| b["type"] == "ActionSet")
        .flat_map(|b| b["actions"].as_array().expect("actions"))
        .collect();
    assert_eq!(actions.len(), 2, "{shown}");
    assert!(actions.iter().all(|a| a["type"] == "Action.OpenUrl"));
    let approve = actions[0]["url"].as_str().expect("url").to_string();
    let deny = actions[1]["url"].as_str().expect("url").to_string();
    assert!(
        approve.starts_with(&format!("{}/links/", app.address)),
        "{approve}"
    );
    assert!(approve.ends_with("/approve") && deny.ends_with("/deny"));
    // Slack is not set up: nothing went there.
    assert!(slack.calls().is_empty());

    // Opening the page decides nothing; confirming on it does.
    let page = open(&app, &approve, None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Windows 11 Testing"));
    assert!(decisions(&app, &s.request_id()).await.is_empty());
    let (_, done) = confirm(&app, &approve, "Fine by me").await;
    assert!(
        done.status.is_success() || done.status.is_redirection(),
        "{}",
        done.html
    );
    assert_eq!(
        decisions(&app, &s.request_id()).await,
        [("approve".to_string(), Some("Fine by me".to_string()))]
    );

    // The card's one-time tokens do not stay in the outbox once it was sent.
    let payload: serde_json::Value =
        sqlx::query_scalar("select payload from outbox where kind = 'teams'")
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert!(payload["approvers"][0].get("token").is_none(), "{payload}");
    assert!(payload["approvers"][0]["userId"].is_string(), "{payload}");
}
