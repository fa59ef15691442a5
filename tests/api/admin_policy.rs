//! The policy editor of the admin portal: draft buttons (add a stage, find and pick an
//! approver), validation errors at their fields with 422 (a decision rule it does not
//! know included: nothing is assumed), and the saved policy shown again.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::TestApp;
use crate::helpers::portal::{Answer, Browser, setup};

fn policy_fields(approver: &str, timeout: &str) -> Vec<(String, String)> {
    [
        ("op", "save"),
        ("displayName", "Initial policy"),
        ("scope", "allMembers"),
        ("requestsEnabled", "true"),
        ("removeWhenOutOfScope", "true"),
        ("stageCount", "2"),
        ("s0.approvers", "manager"),
        ("s0.decision", "anyOne"),
        ("s0.timeoutDays", "14"),
        ("s1.approvers", approver),
        ("s1.decision", "anyOne"),
        ("s1.timeoutDays", timeout),
        ("questionCount", "1"),
        ("q0.text", "Which device?"),
        ("q0.kind", "choice"),
        ("q0.options", "Laptop\nDesktop"),
        ("q0.required", "true"),
        ("expiration", "afterDays"),
        ("expiration.days", "90"),
        ("extension.allowed", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn post_owned(b: &Browser, path: &str, fields: &[(String, String)]) -> Answer {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post(path, &pairs).await
}

async fn policies_of(app: &TestApp, package: Uuid) -> i64 {
    sqlx::query_scalar("select count(*) from policies where package_id = $1")
        .bind(package)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn the_policy_editor_builds_a_two_stage_policy_and_shows_validation_errors() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let b = &s.b;
    let package = fixtures::package(
        &app,
        &s.t,
        s.general,
        "Windows 11 Testing",
        &[s.member_role],
    )
    .await;
    let (megan, _) = app
        .user(
            &s.t,
            "megan@acme.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let path = format!("/admin/packages/{package}/policies/new");
    let editor = b.get(&path).await;
    assert_eq!(editor.status, StatusCode::OK);
    assert!(editor.body.contains("Review + create"));
    assert!(
        editor.body.contains(
            "name=\"displayName\" type=\"text\" value=\"Initial policy\" aria-required=\"true\""
        ),
        "the policy name is marked required: {}",
        editor.body
    );

    // Draft buttons: add a stage, add the manager, search and pick a user.
    let added = post_owned(
        b,
        &path,
        &[
            ("op".into(), "add-stage".into()),
            ("scope".into(), "allMembers".into()),
        ],
    )
    .await;
    assert_eq!(added.status, StatusCode::OK);
    assert!(added.body.contains("Stage 1"));
    let found = post_owned(
        b,
        &path,
        &[
            ("op".into(), "find:s0.approvers".into()),
            ("stageCount".into(), "1".into()),
            ("find:s0.approvers".into(), "megan".into()),
        ],
    )
    .await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(
        found
            .body
            .contains(&format!("pick:s0.approvers:user:{megan}"))
    );
    let picked = post_owned(
        b,
        &path,
        &[
            ("op".into(), format!("pick:s0.approvers:user:{megan}")),
            ("stageCount".into(), "1".into()),
        ],
    )
    .await;
    assert!(picked.body.contains(&format!("value=\"user:{megan}\"")));
    assert!(picked.body.contains("Megan Bowen"));

    // A timeout of 30 days is refused at its field with 422; nothing is saved.
    let user = format!("user:{megan}");
    let refused = post_owned(b, &path, &policy_fields(&user, "30")).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("a stage times out after 1 to 14 days")
    );
    assert!(refused.body.contains("id=\"s1-timeout-error\""));
    assert!(
        refused
            .body
            .contains("Stage 2: days before the request expires without a decision"),
        "the summary names the field as the form labels it"
    );
    assert_eq!(policies_of(&app, package).await, 0);
    // Not a number at all: the same place.
    let nan = post_owned(b, &path, &policy_fields(&user, "soon")).await;
    assert_eq!(nan.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        nan.body
            .contains("enter the timeout in days as a whole number")
    );

    // Every problem in one round: what does not parse and the rules the rest breaks.
    let mut fields = policy_fields(&user, "soon");
    for (k, v) in &mut fields {
        if k == "displayName" {
            v.clear();
        }
        if k == "expiration.days" {
            *v = "99999".into();
        }
    }
    let both = post_owned(b, &path, &fields).await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        both.body.contains("Please correct these 3 problems"),
        "{}",
        both.body
    );
    assert!(
        both.body.contains("Policy name:") && both.body.contains("How long access lasts: days:")
    );

    let saved = post_owned(b, &path, &policy_fields(&user, "7")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings: serde_json::Value =
        sqlx::query_scalar("select settings from policies where package_id = $1")
            .bind(package)
            .fetch_one(&app.pool)
            .await
            .expect("policy");
    assert_eq!(
        settings["approval"]["stages"][0]["approvers"][0]["type"],
        "manager"
    );
    assert_eq!(
        settings["approval"]["stages"][1]["approvers"][0]["id"],
        megan.to_string()
    );
    assert_eq!(settings["approval"]["stages"][1]["timeoutDays"], 7);
    assert_eq!(settings["questions"][0]["options"][1], "Desktop");
    assert_eq!(settings["expiration"]["days"], 90);
    assert_eq!(settings["requestors"]["removeWhenOutOfScope"], true);

    // Editing shows the saved policy again.
    let pid: Uuid = sqlx::query_scalar("select id from policies where package_id = $1")
        .bind(package)
        .fetch_one(&app.pool)
        .await
        .expect("id");
    let edit = b
        .get(&format!("/admin/packages/{package}/policies/{pid}"))
        .await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("Megan Bowen"));
    assert!(edit.body.contains("Which device?"));
    assert!(edit.body.contains("Stage 2: Megan Bowen"));
    assert!(
        edit.body
            .contains("id=\"f-removeWhenOutOfScope\" name=\"removeWhenOutOfScope\" type=\"checkbox\" value=\"true\" checked")
    );
}

#[tokio::test]
async fn a_policy_posted_with_an_unknown_decision_rule_is_refused_at_that_field() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let package = fixtures::package(
        &app,
        &s.t,
        s.general,
        "Windows 11 Testing",
        &[s.member_role],
    )
    .await;
    let path = format!("/admin/packages/{package}/policies/new");
    let with_rule = |rule: &str| {
        let mut fields = policy_fields("secondLevelManager", "7");
        for (k, v) in &mut fields {
            if k == "s1.decision" {
                *v = rule.to_string();
            }
        }
        fields
    };

    let refused = post_owned(&s.b, &path, &with_rule("mostApprovers")).await;

    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    for shown in [
        "choose whether any one approver decides or every approver must approve",
        "id=\"s1-decision-error\"",
        "Stage 2: decision",
    ] {
        assert!(refused.body.contains(shown), "{shown}: {}", refused.body);
    }
    // The same form with a rule it knows saves that rule, and only that policy: the
    // refused one was not saved, least of all as "any one approver".
    let created = post_owned(&s.b, &path, &with_rule("all")).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let rules: Vec<Option<String>> = sqlx::query_scalar(
        "select settings #>> '{approval,stages,1,decision}' from policies where package_id = $1",
    )
    .bind(package)
    .fetch_all(&app.pool)
    .await
    .expect("rules");
    assert_eq!(rules, vec![Some("all".to_string())]);
}
