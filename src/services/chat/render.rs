//! What chat messages say, from the same view the emailed-link pages show: a Slack
//! direct message (Block Kit) with Approve and Deny buttons while the stage waits for
//! its approver, and the outcome in their place once it does not; the form asking a
//! reason; and the Teams Adaptive Card whose buttons open the emailed-link pages.
//!
//! Everything a person typed is escaped for Slack's markup (`&`, `<`, `>`), so a
//! justification cannot mention a channel or forge a link. Buttons carry the request
//! and the stage only.

use serde_json::{Value, json};

use crate::domain::chat::{APPROVE_ACTION, DENY_ACTION, REASON_VIEW, StageRef};
use crate::domain::request::Decision;
use crate::services::approval_links::{LinkStatus, LinkView};
/// A time as the channel reads it: in the tenant's zone.
fn when_in(v: &LinkView, t: chrono::DateTime<chrono::Utc>) -> String {
    crate::time_text::in_zone(crate::time_text::zone_of(None, &v.tenant.time_zone), || {
        crate::time_text::when(t)
    })
}

/// The `block_id` and `action_id` of the reason field in the form.
pub const REASON_BLOCK: &str = "reason";

/// Longest text Slack shows in one section; longer answers are cut.
const MAX_SECTION: usize = 2900;

/// Escapes text for Slack's `mrkdwn`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn field(label: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": cut(&format!("*{label}*\n{}", escape(value)), 1900)})
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&text, MAX_SECTION)}})
}

/// The sentence that replaces the buttons once the approver has nothing to decide.
pub fn outcome(status: &LinkStatus) -> Option<String> {
    match status {
        LinkStatus::Open => None,
        LinkStatus::Decided(sentence) => Some(sentence.clone()),
        LinkStatus::Expired => {
            Some("This request expired before a decision; nothing is left to decide.".into())
        }
        LinkStatus::NotAnApprover => {
            Some("You are no longer an approver of this stage; nothing is left to decide.".into())
        }
    }
}

/// The fallback text of a message (notifications, screen readers).
pub fn summary(v: &LinkView) -> String {
    format!(
        "Approval needed: {} for {} (requested by {})",
        v.package, v.target, v.requestor
    )
}

/// The request's details, as both the message and the form show them.
fn details(v: &LinkView) -> Vec<Value> {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&format!("Approval needed: {}", v.package), 150)}}),
        json!({"type": "section", "fields": [
            field("Requested by", &v.requestor),
            field("For", &v.target),
            field("Stage", &format!("{} of {}", v.stage_number, v.stage_count)),
            field("Due", &when_in(v, v.due_at)),
        ]}),
    ];
    if let Some(j) = v.justification.as_deref().filter(|j| !j.trim().is_empty()) {
        blocks.push(section(format!("*Justification*\n{}", escape(j))));
    }
    for a in &v.answers {
        blocks.push(section(format!(
            "*{}*\n{}",
            escape(&a.question),
            escape(&a.value)
        )));
    }
    blocks
}

/// Who decided the stage what, and when (with their reasons).
fn decisions(v: &LinkView) -> String {
    let mut text = String::from("*Decisions*");
    for d in &v.decisions {
        let (mark, verb) = match d.decision {
            Decision::Approve => (":white_check_mark:", "approved"),
            Decision::Deny => (":x:", "denied"),
        };
        text.push_str(&format!(
            "\n{mark} {} {verb} on {}",
            escape(&d.approver),
            when_in(v, d.at)
        ));
        if let Some(j) = d.justification.as_deref().filter(|j| !j.trim().is_empty()) {
            text.push_str(&format!(": {}", escape(j)));
        }
    }
    text
}

/// The direct message to an approver: the request's details, then Approve and Deny
/// while the stage waits for them, or the outcome. Returns `(text, blocks)`.
pub fn slack_message(v: &LinkView, stage: StageRef) -> (String, Value) {
    let mut blocks = details(v);
    match outcome(&v.status) {
        None => {
            let value = stage.encode();
            blocks.push(json!({"type": "actions", "block_id": "portico_decision", "elements": [
                {"type": "button", "action_id": APPROVE_ACTION, "style": "primary", "value": value,
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": DENY_ACTION, "style": "danger", "value": value,
                 "text": {"type": "plain_text", "text": "Deny"}},
            ]}));
        }
        Some(sentence) => {
            if !v.decisions.is_empty() {
                blocks.push(section(decisions(v)));
            }
            blocks.push(section(escape(&sentence)));
        }
    }
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": escape(&format!("Portico · {}", v.tenant.display_name))}
    ]}));
    (summary(v), Value::Array(blocks))
}

/// The form asking the reason for `decision` (required when the stage requires a
/// justification). Its metadata names the stage and the decision, nothing else.
pub fn reason_form(v: &LinkView, stage: StageRef, decision: Decision) -> Value {
    let (title, submit) = match decision {
        Decision::Approve => ("Approve request", "Approve"),
        Decision::Deny => ("Deny request", "Deny"),
    };
    let label = if v.require_justification {
        "Justification (required)"
    } else {
        "Reason (optional)"
    };
    let mut blocks = details(v);
    blocks.push(json!({
        "type": "input",
        "block_id": REASON_BLOCK,
        "optional": !v.require_justification,
        "label": {"type": "plain_text", "text": label},
        "element": {"type": "plain_text_input", "action_id": REASON_BLOCK, "multiline": true, "max_length": 1000}
    }));
    json!({
        "type": "modal",
        "callback_id": REASON_VIEW,
        "private_metadata": format!("{}|{}", stage.encode(), decision.as_str()),
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    })
}

/// Reads the form's metadata back: the stage and the decision.
pub fn parse_form_metadata(raw: &str) -> Option<(StageRef, Decision)> {
    let (stage, decision) = raw.split_once('|')?;
    Some((StageRef::parse(stage)?, Decision::parse(decision)?))
}

/// One approver's buttons on a Teams card: their name and their emailed-link pages.
#[derive(Clone, Debug)]
pub struct CardLinks {
    pub approver: String,
    pub approve: String,
    pub deny: String,
}

/// The Teams message: an Adaptive Card (1.4) with the request's details and, per
/// approver, buttons that open their emailed-link pages, where they confirm.
pub fn teams_card(v: &LinkView, links: &[CardLinks]) -> Value {
    let mut facts = vec![
        json!({"title": "Requested by", "value": v.requestor}),
        json!({"title": "For", "value": v.target}),
        json!({"title": "Stage", "value": format!("{} of {}", v.stage_number, v.stage_count)}),
        json!({"title": "Due", "value": when_in(v, v.due_at)}),
    ];
    if let Some(j) = v.justification.as_deref().filter(|j| !j.trim().is_empty()) {
        facts.push(json!({"title": "Justification", "value": cut(j, 1000)}));
    }
    for a in &v.answers {
        facts.push(json!({"title": cut(&a.question, 200), "value": cut(&a.value, 1000)}));
    }
    let mut body = vec![
        json!({"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true,
               "text": format!("Approval needed: {}", v.package)}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    for l in links {
        body.push(
            json!({"type": "TextBlock", "wrap": true, "spacing": "Medium",
                         "text": format!("For {}:", l.approver)}),
        );
        body.push(json!({"type": "ActionSet", "actions": [
            {"type": "Action.OpenUrl", "title": "Approve", "url": l.approve},
            {"type": "Action.OpenUrl", "title": "Deny", "url": l.deny},
        ]}));
    }
    body.push(json!({"type": "TextBlock", "isSubtle": true, "size": "Small", "wrap": true,
                     "text": format!("Portico · {}. Each button opens a page where that approver confirms.", v.tenant.display_name)}));
    json!({
        "type": "message",
        "summary": summary(v),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::db::links::ApprovalLink;
    use crate::db::tenants::Tenant;
    use crate::domain::ids::{RequestId, TenantId, UserId};
    use crate::domain::request::{Answer, RequestState};

    fn view(status: LinkStatus) -> LinkView {
        let at = Utc
            .with_ymd_and_hms(2027, 1, 4, 9, 0, 0)
            .single()
            .expect("time");
        let tenant = TenantId(uuid::Uuid::now_v7());
        LinkView {
            tenant: Tenant {
                id: tenant,
                slug: "contoso".into(),
                display_name: "Contoso".into(),
                reply_to: None,
                approval_links_require_sign_in: false,
                created_at: at,
                updated_at: at,
                time_zone: "UTC".into(),
            },
            link: ApprovalLink {
                tenant_id: tenant,
                id: uuid::Uuid::nil(),
                token_hash: Vec::new(),
                request_id: RequestId(uuid::Uuid::now_v7()),
                stage_index: 0,
                approver_id: UserId(uuid::Uuid::now_v7()),
                expires_at: at,
                used_at: None,
                created_at: at,
            },
            approver: "Megan Bowen".into(),
            package: "Windows 11 Testing".into(),
            requestor: "Adele Vance".into(),
            target: "Adele Vance".into(),
            justification: Some("Beta <!channel> & more".into()),
            answers: vec![Answer {
                question_id: uuid::Uuid::now_v7(),
                question: "Which device?".into(),
                value: "Laptop 42".into(),
            }],
            stage_number: 1,
            stage_count: 2,
            due_at: at,
            require_justification: false,
            request_state: RequestState::PendingApproval,
            decisions: Vec::new(),
            status,
        }
    }

    fn stage() -> StageRef {
        StageRef {
            request: RequestId(uuid::Uuid::now_v7()),
            stage_index: 0,
        }
    }

    #[test]
    fn the_channel_reads_times_in_the_tenants_zone() {
        let mut v = view(LinkStatus::Open);
        v.tenant.time_zone = "Europe/Berlin".into();
        let (_, blocks) = slack_message(&v, stage());
        assert!(
            blocks.to_string().contains("2027-01-04 10:00 CET"),
            "{blocks}"
        );
        let card = teams_card(&v, &[]);
        assert!(card.to_string().contains("2027-01-04 10:00 CET"), "{card}");
        // Whatever the zone of the task that renders it.
        let card = crate::time_text::in_zone(chrono_tz::Asia::Tokyo, || teams_card(&v, &[]));
        assert!(card.to_string().contains("2027-01-04 10:00 CET"), "{card}");
    }

    #[test]
    fn an_open_stage_shows_both_buttons_carrying_only_the_stage() {
        let s = stage();
        let (text, blocks) = slack_message(&view(LinkStatus::Open), s);
        assert!(text.contains("Windows 11 Testing"), "{text}");
        let shown = blocks.to_string();
        for part in [
            "Adele Vance",
            "1 of 2",
            "Which device?",
            "Laptop 42",
            "2027-01-04 09:00 UTC",
        ] {
            assert!(shown.contains(part), "{part} missing: {shown}");
        }
        let actions = blocks
            .as_array()
            .and_then(|b| b.iter().find(|b| b["type"] == "actions"))
            .expect("actions");
        let ids: Vec<&str> = actions["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .map(|e| e["action_id"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(ids, [APPROVE_ACTION, DENY_ACTION]);
        for e in actions["elements"].as_array().expect("elements") {
            assert_eq!(e["value"], s.encode());
        }
    }

    #[test]
    fn what_people_typed_cannot_become_slack_markup() {
        let (_, blocks) = slack_message(&view(LinkStatus::Open), stage());
        let shown = blocks.to_string();
        assert!(!shown.contains("<!channel>"), "{shown}");
        assert!(shown.contains("&lt;!channel&gt; &amp; more"), "{shown}");
    }

    #[test]
    fn a_decided_stage_shows_the_outcome_instead_of_buttons() {
        let sentence = "This stage was already approved by Megan Bowen on 2027-01-04 09:05 UTC.";
        let mut decided = view(LinkStatus::Decided(sentence.into()));
        decided
            .decisions
            .push(crate::services::approval_links::DecisionInfo {
                approver: "Megan Bowen".into(),
                decision: Decision::Approve,
                justification: Some("Fine <by> me".into()),
                at: decided.due_at,
            });
        let (_, blocks) = slack_message(&decided, stage());
        let shown = blocks.to_string();
        assert!(shown.contains(sentence), "{shown}");
        assert!(
            shown.contains("Megan Bowen approved on 2027-01-04 09:00 UTC: Fine &lt;by&gt; me"),
            "{shown}"
        );
        assert!(!shown.contains(APPROVE_ACTION), "{shown}");
    }

    #[test]
    fn the_reason_form_names_its_stage_and_decision() {
        let s = stage();
        let form = reason_form(&view(LinkStatus::Open), s, Decision::Deny);
        assert_eq!(form["callback_id"], REASON_VIEW);
        let meta = form["private_metadata"].as_str().expect("metadata");
        assert_eq!(parse_form_metadata(meta), Some((s, Decision::Deny)));
        let input = form["blocks"]
            .as_array()
            .and_then(|b| b.last())
            .expect("input");
        assert_eq!(input["optional"], true);
        assert_eq!(parse_form_metadata("x|deny"), None);
    }

    #[test]
    fn the_teams_card_is_an_adaptive_card_with_link_buttons() {
        let card = teams_card(
            &view(LinkStatus::Open),
            &[CardLinks {
                approver: "Megan Bowen".into(),
                approve: "https://portico.example/links/t/approve".into(),
                deny: "https://portico.example/links/t/deny".into(),
            }],
        );
        assert_eq!(card["type"], "message");
        let a = &card["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["version"], "1.4");
        let shown = card.to_string();
        assert!(shown.contains("https://portico.example/links/t/approve"));
        assert!(shown.contains("Action.OpenUrl"));
    }
}
