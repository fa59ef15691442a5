//! Quorum stages never get stuck (DOMAIN.md §6): an approver who can no longer decide
//! leaves every open stage, those left settle it, fallback approvers and then tenant
//! admins take over when nobody is left, escalation adds alternates to an `all` stage,
//! and an `all` stage over the approver cap is read as `anyOne` instead of refusing the
//! previous stage's approver.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{People, people};
use crate::fixtures::{self, decide, group_package, open_policy, request};
use crate::helpers::{TestApp, uuid_of};
use crate::lifecycle::{emails, eventually};

fn all_stage(approvers: Value) -> Value {
    json!({"approvers": approvers, "decision": "all", "timeoutDays": 7})
}

async fn deactivate(app: &TestApp, p: &People, user: Uuid) {
    let (status, body) = app
        .patch(
            &p.t.admin,
            &format!("/api/v1/users/{user}"),
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn current(app: &TestApp, p: &People, req: &Value) -> Value {
    let (status, r) = app
        .get(
            &p.t.admin,
            &format!("/api/v1/assignmentRequests/{}", uuid_of(&req["id"])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r
}

#[tokio::test]
async fn the_silent_approver_of_an_all_stage_leaving_settles_it_with_the_others_approvals() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let settings = open_policy(json!({"approval": {"stages": [all_stage(
        json!([{"type": "manager"}, {"type": "user", "id": p.other.0}])
    )]}}));
    let pkg = group_package(&app, &p.t, "Pkg", settings).await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let (status, after) = decide(&app, &p.manager.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["state"], "pendingApproval");

    deactivate(&app, &p, p.other.0).await;

    let r = current(&app, &p, &req).await;
    assert_eq!(r["state"], "delivered", "{r}");
    assert_eq!(r["stages"][0]["state"], "approved");
    assert_eq!(r["stages"][0]["approverIds"], json!([p.manager.0]));
    let actions = app.audit_actions(uuid_of(&req["id"])).await;
    assert!(
        actions.contains(&"assignmentRequest.approverLeft".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"assignmentRequest.approved".to_string()),
        "{actions:?}"
    );
    assert_eq!(
        fixtures::sources(&app, pkg.group, p.employee.0).await.len(),
        1
    );
}

#[tokio::test]
async fn when_every_approver_of_an_all_stage_leaves_the_fallback_approvers_decide() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let (fallback, fallback_token) = app
        .user(&p.t, "diego@contoso.test", json!({"displayName": "Diego"}))
        .await;
    let mut stage = all_stage(json!([{"type": "manager"}, {"type": "user", "id": p.other.0}]));
    stage["fallbackApprovers"] = json!([{"type": "user", "id": fallback}]);
    let settings = open_policy(json!({"approval": {"stages": [stage]}}));
    let pkg = group_package(&app, &p.t, "Pkg", settings).await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;

    deactivate(&app, &p, p.other.0).await;
    let r = current(&app, &p, &req).await;
    assert_eq!(r["stages"][0]["approverIds"], json!([p.manager.0]));
    deactivate(&app, &p, p.manager.0).await;
    let r = current(&app, &p, &req).await;
    assert_eq!(r["stages"][0]["approverIds"], json!([fallback]), "{r}");

    // The one who took over is asked, and their approval settles the stage.
    assert_eq!(emails(&app, fallback, "approvalNeeded").await.len(), 1);
    let (status, done) = decide(&app, &fallback_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered");
}

#[tokio::test]
async fn escalation_of_an_all_stage_adds_alternates_who_approve_in_place_of_the_silent() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let (alternate, alternate_token) = app
        .user(&p.t, "diego@contoso.test", json!({"displayName": "Diego"}))
        .await;
    let mut stage = all_stage(json!([{"type": "manager"}, {"type": "user", "id": p.other.0}]));
    stage["escalation"] = json!({"afterDays": 2, "approvers": [{"type": "user", "id": alternate}]});
    let settings = open_policy(json!({"approval": {"stages": [stage]}}));
    let pkg = group_package(&app, &p.t, "Pkg", settings).await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let (status, _) = decide(&app, &p.manager.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK);

    app.clock.advance(Duration::days(2) + Duration::minutes(1));
    eventually("escalation", || async {
        current(&app, &p, &req).await["stages"][0]["alternateApproverIds"] == json!([alternate])
    })
    .await;

    // Alex stays silent; the alternate's approval stands in for theirs.
    let (status, done) = decide(&app, &alternate_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered", "{done}");
}

#[tokio::test]
async fn an_all_stage_whose_approvers_exceed_the_cap_opens_as_any_one_with_an_audit_event() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let big = fixtures::group(&app, &p.t, "Everyone in Finance").await;
    let mut finance = Vec::new();
    for n in 0..26 {
        let (id, token) = app
            .user(&p.t, &format!("finance{n}@contoso.test"), json!({}))
            .await;
        let (status, body) = app
            .post(
                &p.t.admin,
                &format!("/api/v1/groups/{big}/members"),
                json!({"userId": id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        finance.push((id, token));
    }
    let settings = open_policy(json!({"approval": {"stages": [
        all_stage(json!([{"type": "manager"}])),
        all_stage(json!([{"type": "group", "id": big}])),
    ]}}));
    let pkg = group_package(&app, &p.t, "Pkg", settings).await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;

    // The first stage's approver is never refused for what the next stage resolves to.
    let (status, after) = decide(&app, &p.manager.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["stages"][1]["decisionRule"], "anyOne");
    assert_eq!(
        after["stages"][1]["approverIds"].as_array().map(Vec::len),
        Some(26)
    );
    let actions = app.audit_actions(uuid_of(&req["id"])).await;
    assert!(
        actions.contains(&"assignmentRequest.stageRelaxed".to_string()),
        "{actions:?}"
    );

    let (status, done) = decide(&app, &finance[7].1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered");
}
