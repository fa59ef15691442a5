//! Policies of a package: defaults, PUT round trips, end dates, and rule checks reported
//! at their field paths.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{error_fields, minimal_policy, package, policy, with};
use crate::helpers::{TestApp, TestTenant, uuid_of};

#[tokio::test]
async fn a_minimal_policy_is_answered_with_every_default() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);

    let created = policy(&app, &t, p, minimal_policy()).await;
    let staged = policy(
        &app,
        &t,
        p,
        with(
            minimal_policy(),
            json!({"approval": {"stages": [{"approvers": [{"type": "manager"}]}]}}),
        ),
    )
    .await;

    let id = created["id"].clone();
    assert_eq!(
        created,
        json!({"id": id, "accessPackageId": p, "displayName": "Everyone", "description": "",
               "requestors": {"scope": "allMembers", "principals": [], "removeWhenOutOfScope": false}, "requestsEnabled": true,
               "requireJustification": false, "approval": {"stages": []}, "questions": [],
               "expiration": {"type": "never"}, "allowCustomSchedule": false,
               "extension": {"allowed": false, "requireApproval": false}, "review": null,
               "customExtensions": [],
               "createdAt": created["createdAt"], "updatedAt": created["updatedAt"]})
    );
    assert!(created["createdAt"].is_string());
    assert_eq!(
        staged["approval"]["stages"][0],
        json!({"approvers": [{"type": "manager"}], "fallbackApprovers": [], "decision": "anyOne",
               "timeoutDays": 14, "requireJustification": false, "escalation": null})
    );
    let (status, list) = app
        .get(&t.admin, &format!("/api/v1/accessPackages/{p}/policies"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([staged, created]), "newest first");
    assert_eq!(
        app.audit_actions(uuid_of(&id)).await,
        vec!["policy.created"]
    );
}

/// The policy of API.md's example, with real user and group ids.
async fn full_policy(app: &TestApp, t: &TestTenant) -> Value {
    let (user, _) = app.user(t, "fallback@acme.test", json!({})).await;
    let (_, group) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Escalation"}),
        )
        .await;
    json!({
      "displayName": "Employees", "description": "",
      "requestors": {"scope": "allMembers", "principals": []},
      "requestsEnabled": true,
      "requireJustification": true,
      "approval": {"stages": [
        {"approvers": [{"type": "manager"}], "fallbackApprovers": [{"type": "user", "id": user}],
         "decision": "anyOne", "timeoutDays": 14, "requireJustification": false,
         "escalation": {"afterDays": 3, "approvers": [{"type": "group", "id": group["id"]}]}},
        {"approvers": [{"type": "user", "id": user}], "decision": "anyOne", "timeoutDays": 7}
      ]},
      "questions": [{"text": "Which device?", "kind": "shortText", "required": true},
                    {"text": "Which OS?", "kind": "choice", "options": ["Windows", "Linux"]}],
      "expiration": {"type": "afterDays", "days": 90},
      "allowCustomSchedule": true,
      "extension": {"allowed": true, "requireApproval": true},
      "review": {"startDate": "2027-01-01T00:00:00Z", "recurrence": "quarterly", "durationDays": 14,
                 "reviewers": [{"type": "manager"}], "fallbackReviewers": [],
                 "ifNoResponse": "keep", "autoApply": true, "requireJustification": true}
    })
}

#[tokio::test]
async fn a_policy_put_back_unchanged_keeps_its_id_and_its_question_ids() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);
    let created = policy(&app, &t, p, full_policy(&app, &t).await).await;
    let id = uuid_of(&created["id"]);
    let path = format!("/api/v1/policies/{id}");
    let question_ids: Vec<Value> = created["questions"]
        .as_array()
        .map(|q| q.iter().map(|q| q["id"].clone()).collect())
        .unwrap_or_default();
    assert!(question_ids.iter().all(Value::is_string), "{created}");
    assert_ne!(question_ids[0], question_ids[1]);
    let (_, fetched) = app.get(&t.admin, &path).await;
    assert_eq!(fetched, created);
    app.clock.advance(Duration::hours(1));

    let (status, put) = app.put(&t.admin, &path, fetched.clone()).await;

    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(
        with(put.clone(), json!({"updatedAt": null})),
        with(fetched.clone(), json!({"updatedAt": null}))
    );
    assert_ne!(put["updatedAt"], fetched["updatedAt"]);

    let mut body = fetched.clone();
    if let Some(q) = body["questions"].as_array_mut() {
        q.push(json!({"text": "Why?", "kind": "longText"}));
    }
    let (status, put) = app
        .put(&t.admin, &path, with(body, json!({"displayName": "Staff"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["id"], json!(id));
    assert_eq!(put["displayName"], "Staff");
    assert_eq!(put["questions"][0]["id"], question_ids[0]);
    assert_eq!(put["questions"][1]["id"], question_ids[1]);
    assert!(put["questions"][2]["id"].is_string());
    let (_, list) = app
        .get(&t.admin, &format!("/api/v1/accessPackages/{p}/policies"))
        .await;
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "updated in place"
    );
    assert_eq!(
        app.audit_actions(id).await,
        vec!["policy.created", "policy.updated", "policy.updated"]
    );

    let (status, problem) = app
        .put(&t.admin, &path, json!({"displayName": "No requestors"}))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "PUT takes the whole body"
    );
    assert_eq!(error_fields(&problem), vec!["requestors"]);
}

#[tokio::test]
async fn an_end_date_must_be_in_the_future_but_an_accepted_one_stays_valid_unchanged() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);
    let past = (app.now() - Duration::days(1)).to_rfc3339();
    let soon = (app.now() + Duration::days(2)).to_rfc3339();

    let (status, problem) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{p}/policies"),
            with(
                minimal_policy(),
                json!({"expiration": {"type": "onDate", "date": past}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["expiration.date"]);

    let created = policy(
        &app,
        &t,
        p,
        with(
            minimal_policy(),
            json!({"expiration": {"type": "onDate", "date": soon}}),
        ),
    )
    .await;
    app.clock.advance(Duration::days(3));
    let path = format!("/api/v1/policies/{}", uuid_of(&created["id"]));
    let (status, put) = app.put(&t.admin, &path, created.clone()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the date was accepted before: {put}"
    );
    let later_past = (app.now() - Duration::hours(1)).to_rfc3339();
    let (status, problem) = app
        .put(
            &t.admin,
            &path,
            with(
                created,
                json!({"expiration": {"type": "onDate", "date": later_past}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["expiration.date"]);
}

#[tokio::test]
async fn policy_rules_are_checked_and_reported_at_their_field_paths() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = app.tenant("beta").await;
    let (b_user, _) = app.user(&b, "bob@beta.test", json!({})).await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);
    let path = format!("/api/v1/accessPackages/{p}/policies");
    let unknown = uuid::Uuid::now_v7();
    let stage = |extra: Value| with(json!({"approvers": [{"type": "manager"}]}), extra);
    let stages = |list: Vec<Value>| with(minimal_policy(), json!({"approval": {"stages": list}}));
    let policy_with = |extra: Value| with(minimal_policy(), extra);

    let refused: Vec<(Value, &str)> = vec![
        (stages(vec![stage(json!({})); 4]), "approval.stages"),
        (
            stages(vec![stage(json!({"timeoutDays": 0}))]),
            "approval.stages[0].timeoutDays",
        ),
        (
            stages(vec![stage(json!({"timeoutDays": 15}))]),
            "approval.stages[0].timeoutDays",
        ),
        (
            stages(vec![stage(json!({"timeoutDays": "ten"}))]),
            "approval.stages[0].timeoutDays",
        ),
        (
            stages(vec![stage(
                json!({"timeoutDays": 5, "escalation": {"afterDays": 5, "approvers": [{"type": "manager"}]}}),
            )]),
            "approval.stages[0].escalation.afterDays",
        ),
        (
            stages(vec![stage(
                json!({"escalation": {"afterDays": 0, "approvers": [{"type": "manager"}]}}),
            )]),
            "approval.stages[0].escalation.afterDays",
        ),
        (
            stages(vec![stage(json!({"decision": "majority"}))]),
            "approval.stages[0].decision",
        ),
        (
            stages(vec![json!({"approvers": [{"type": "robot"}]})]),
            "approval.stages[0].approvers[0].type",
        ),
        (
            stages(vec![
                json!({"approvers": [{"type": "user", "id": unknown}]}),
            ]),
            "approval.stages[0].approvers[0].id",
        ),
        (
            stages(vec![json!({"approvers": [{"type": "user", "id": b_user}]})]),
            "approval.stages[0].approvers[0].id",
        ),
        (
            stages(vec![stage(
                json!({"fallbackApprovers": [{"type": "group", "id": unknown}]}),
            )]),
            "approval.stages[0].fallbackApprovers[0].id",
        ),
        (
            policy_with(
                json!({"requestors": {"scope": "specific", "principals": [{"type": "group", "id": unknown}]}}),
            ),
            "requestors.principals[0].id",
        ),
        (
            policy_with(json!({"requestors": {"scope": "everyone"}})),
            "requestors.scope",
        ),
        (
            policy_with(json!({"requestors": {"scope": "specific"}})),
            "requestors.principals",
        ),
        (
            policy_with(
                json!({"questions": [{"text": "Which?", "kind": "choice", "options": ["One"]}]}),
            ),
            "questions[0].options",
        ),
        (
            policy_with(json!({"questions": [{"text": "Which?", "kind": "choice"}]})),
            "questions[0].options",
        ),
        (
            policy_with(json!({"questions": [{"text": "Which?", "kind": "essay"}]})),
            "questions[0].kind",
        ),
        (
            policy_with(json!({"expiration": {"type": "afterDays", "days": 0}})),
            "expiration.days",
        ),
        (
            policy_with(json!({"expiration": {"type": "afterDays", "days": 3661}})),
            "expiration.days",
        ),
        (
            policy_with(json!({"expiration": {"type": "afterDays"}})),
            "expiration.days",
        ),
        (
            policy_with(json!({"expiration": {"type": "afterHours", "hours": 8761}})),
            "expiration.hours",
        ),
        (
            policy_with(
                json!({"review": {"startDate": "2027-02-01T00:00:00Z", "recurrence": "monthly", "durationDays": 7,
                                           "reviewers": [{"type": "user", "id": unknown}], "ifNoResponse": "keep"}}),
            ),
            "review.reviewers[0].id",
        ),
        (
            policy_with(
                json!({"review": {"startDate": "2027-02-01T00:00:00Z", "recurrence": "daily", "durationDays": 7,
                                           "reviewers": [{"type": "self"}], "ifNoResponse": "keep"}}),
            ),
            "review.recurrence",
        ),
        (
            json!({"requestors": {"scope": "allMembers"}}),
            "displayName",
        ),
        (json!({"displayName": "No requestors"}), "requestors"),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in refused {
        let (status, problem) = app.post(&t.admin, &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        assert_eq!(
            error_fields(&problem),
            vec![field.to_string()],
            "{body} → {problem}"
        );
    }
    let (status, problem) = app
        .post(
            &t.admin,
            &path,
            policy_with(json!({"expiration": {"type": "forever"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        error_fields(&problem)
            .iter()
            .all(|f| f.starts_with("expiration")),
        "{problem}"
    );

    let accepted: Vec<Value> = vec![
        stages(vec![]),
        stages(vec![stage(json!({})); 3]),
        stages(vec![stage(json!({"timeoutDays": 1}))]),
        stages(vec![stage(
            json!({"timeoutDays": 14, "escalation": {"afterDays": 13, "approvers": [{"type": "manager"}]}}),
        )]),
        stages(vec![stage(json!({"decision": "all"}))]),
        policy_with(json!({"expiration": {"type": "afterDays", "days": 1}})),
        policy_with(json!({"expiration": {"type": "afterDays", "days": 3660}})),
        policy_with(
            json!({"questions": [{"text": "Which?", "kind": "choice", "options": ["One", "Two"]}]}),
        ),
        policy_with(
            json!({"requestors": {"scope": "specific", "principals": [{"type": "user", "id": t.admin_id}]}}),
        ),
    ];
    for body in accepted {
        let (status, answer) = app.post(&t.admin, &path, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body} → {answer}");
    }
}

#[tokio::test]
async fn null_in_a_policy_body_means_the_default_wherever_the_description_allows_null() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);
    let nulls = json!({"description": null, "requestsEnabled": null, "requireJustification": null,
                       "approval": null, "questions": null, "expiration": null,
                       "allowCustomSchedule": null, "extension": null, "review": null});

    let (status, created) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{p}/policies"),
            with(minimal_policy(), nulls),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["approval"], json!({"stages": []}));
    assert_eq!(created["expiration"], json!({"type": "never"}));
    assert_eq!(
        created["extension"],
        json!({"allowed": false, "requireApproval": false})
    );
    assert_eq!(created["requestsEnabled"], true);
    let stage = json!({"approvers": [{"type": "manager", "id": null}], "fallbackApprovers": null,
                       "decision": null, "timeoutDays": null, "requireJustification": null,
                       "escalation": null});
    let (status, replaced) = app
        .put(
            &t.admin,
            &format!("/api/v1/policies/{}", uuid_of(&created["id"])),
            with(created.clone(), json!({"approval": {"stages": [stage]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        replaced["approval"]["stages"][0],
        json!({"approvers": [{"type": "manager"}], "fallbackApprovers": [], "decision": "anyOne",
               "timeoutDays": 14, "requireJustification": false, "escalation": null})
    );
    let (status, problem) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{p}/policies"),
            json!({"displayName": "No scope", "requestors": null}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(error_fields(&problem), vec!["requestors"]);
}
