//! The approval engine: delivery without approval, stages in series, deny, all versus
//! anyOne, fallbacks, approver justification, deactivated approvers, and concurrent
//! deciders.

use reqwest::StatusCode;
use serde_json::json;

use super::{People, people, stage};
use crate::fixtures::{self, decide, group_package, open_policy, request, sources};
use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn a_request_without_approval_is_delivered_in_the_submitting_transaction() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(&app, &p.t, "Windows 11 Testing", open_policy(json!({}))).await;

    let (status, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;

    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered");
    assert_eq!(req["requestType"], "userAdd");
    assert_eq!(req["targetUserId"], p.employee.0.to_string());
    let assignment = uuid_of(&req["assignmentId"]);
    assert_eq!(
        sources(&app, pkg.group, p.employee.0).await,
        vec![assignment.to_string()]
    );
    let (status, a) = app
        .get(&p.employee.1, &format!("/api/v1/assignments/{assignment}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a["state"], "delivered");
    assert_eq!(
        a["grants"],
        json!([{"resourceRoleId": pkg.member_role, "state": "delivered", "error": null, "updatedAt": a["grants"][0]["updatedAt"]}])
    );
    // The transaction's events, in the order they happened.
    assert_eq!(
        app.audit_actions(uuid_of(&req["id"])).await,
        ["assignmentRequest.created", "assignmentRequest.delivered"]
    );
    assert_eq!(app.audit_actions(assignment).await, ["assignment.created"]);
}

#[tokio::test]
async fn two_stages_run_in_series_manager_then_a_named_approver() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let settings = open_policy(json!({
        "requireJustification": true,
        "approval": {"stages": [stage(json!([{"type": "manager"}])), stage(json!([{"type": "user", "id": p.other.0}]))]},
        "expiration": {"type": "afterDays", "days": 30}
    }));
    let pkg = group_package(&app, &p.t, "Windows 11 Testing", settings).await;

    let (status, req) = request(
        &app,
        &p.employee.1,
        pkg.package,
        json!({"justification": "Beta testing"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "pendingApproval");
    assert_eq!(req["stages"].as_array().map(Vec::len), Some(1));
    assert_eq!(req["stages"][0]["approverIds"], json!([p.manager.0]));

    // The second stage's approver does not see the request before their stage opens,
    // and the requestor sees it but is no approver.
    let (status, _) = decide(&app, &p.other.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = decide(&app, &p.employee.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, after_one) = decide(&app, &p.manager.1, &req, "approve", Some("ok")).await;
    assert_eq!(status, StatusCode::OK, "{after_one}");
    assert_eq!(after_one["state"], "pendingApproval");
    assert_eq!(after_one["stages"][0]["state"], "approved");
    assert_eq!(after_one["stages"][1]["approverIds"], json!([p.other.0]));
    assert!(
        sources(&app, pkg.group, p.employee.0).await.is_empty(),
        "nothing delivered before the last stage"
    );

    let (status, done) = decide(&app, &p.other.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered");
    assert_eq!(sources(&app, pkg.group, p.employee.0).await.len(), 1);
    assert_eq!(
        app.audit_actions(uuid_of(&req["id"])).await,
        [
            "assignmentRequest.created",
            "assignmentRequest.stageOpened",
            "assignmentRequest.decided",
            "assignmentRequest.stageOpened",
            "assignmentRequest.decided",
            "assignmentRequest.approved",
            "assignmentRequest.delivered",
        ]
    );
    let (_, a) = app
        .get(
            &p.employee.1,
            &format!(
                "/api/v1/assignments/{}",
                done["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(
        a["endDateTime"],
        json!(
            (app.now() + chrono::Duration::days(30))
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )
    );
}

#[tokio::test]
async fn any_deny_ends_the_request() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let settings =
        open_policy(json!({"approval": {"stages": [stage(json!([{"type": "manager"}]))]}}));
    let pkg = group_package(&app, &p.t, "Pkg", settings).await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;

    let (status, denied) = decide(&app, &p.manager.1, &req, "deny", Some("not now")).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(denied["state"], "denied");
    assert_eq!(denied["stages"][0]["state"], "denied");
    assert_eq!(
        denied["stages"][0]["decisions"][0]["justification"],
        "not now"
    );
    assert!(sources(&app, pkg.group, p.employee.0).await.is_empty());
    let (status, problem) = decide(&app, &p.manager.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("denied by Megan Bowen"),
        "{problem}"
    );
}

/// A package with one stage that the manager and the other person decide under `rule`.
async fn two_approver_package(
    app: &TestApp,
    p: &People,
    name: &str,
    rule: &str,
) -> fixtures::GroupPackage {
    let both = json!([{"type": "user", "id": p.manager.0}, {"type": "user", "id": p.other.0}]);
    group_package(
        app,
        &p.t,
        name,
        open_policy(json!({"approval": {"stages": [{"approvers": both, "decision": rule}]}})),
    )
    .await
}

#[tokio::test]
async fn all_needs_every_approver_while_any_one_needs_one() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let all = two_approver_package(&app, &p, "All", "all").await;
    let any = two_approver_package(&app, &p, "Any", "anyOne").await;

    let (_, r_all) = request(&app, &p.employee.1, all.package, json!({})).await;
    let (_, after_first) = decide(&app, &p.manager.1, &r_all, "approve", None).await;
    assert_eq!(
        after_first["state"], "pendingApproval",
        "all: one approval is not enough"
    );
    let (status, _) = decide(&app, &p.manager.1, &r_all, "approve", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "an approver decides once");
    let (_, after_both) = decide(&app, &p.other.1, &r_all, "approve", None).await;
    assert_eq!(after_both["state"], "delivered");

    let (_, r_any) = request(&app, &p.employee.1, any.package, json!({})).await;
    let (_, after_one) = decide(&app, &p.other.1, &r_any, "approve", None).await;
    assert_eq!(
        after_one["state"], "delivered",
        "anyOne: the first approval decides"
    );
}

#[tokio::test]
async fn an_unknown_decision_rule_in_the_database_never_falls_back_to_any_one() {
    // A stage whose rule this version cannot read (a newer version's value, a bad
    // restore) must not be decided by the weakest rule.
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let all = two_approver_package(&app, &p, "All", "all").await;
    let (_, r) = request(&app, &p.employee.1, all.package, json!({})).await;
    sqlx::query("alter table request_stages drop constraint request_stages_rule_check")
        .execute(&app.pool)
        .await
        .expect("drop check");
    sqlx::query("update request_stages set decision_rule = 'majority' where request_id = $1")
        .bind(uuid_of(&r["id"]))
        .execute(&app.pool)
        .await
        .expect("unknown rule");

    let (status, _) = decide(&app, &p.manager.1, &r, "approve", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let state: String = sqlx::query_scalar("select state from assignment_requests where id = $1")
        .bind(uuid_of(&r["id"]))
        .fetch_one(&app.pool)
        .await
        .expect("state");
    assert_eq!(state, "pendingApproval");
    let decisions: i64 =
        sqlx::query_scalar("select count(*) from stage_decisions where request_id = $1")
            .bind(uuid_of(&r["id"]))
            .fetch_one(&app.pool)
            .await
            .expect("decisions");
    assert_eq!(decisions, 0);
}

#[tokio::test]
async fn the_target_never_approves_their_own_request_fallbacks_and_then_admins_do() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    // The employee is the stage's only approver: fallback approvers take over.
    let with_fallback = group_package(
        &app,
        &p.t,
        "Fallback",
        open_policy(json!({"approval": {"stages": [{
            "approvers": [{"type": "user", "id": p.employee.0}],
            "fallbackApprovers": [{"type": "user", "id": p.other.0}]}]}})),
    )
    .await;
    let (_, req) = request(&app, &p.employee.1, with_fallback.package, json!({})).await;
    assert_eq!(req["stages"][0]["approverIds"], json!([p.other.0]));
    let (status, _) = decide(&app, &p.employee.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no self-approval");

    // No manager and no fallback: the tenant admins approve.
    let (no_manager, no_manager_token) = (p.other.0, p.other.1.clone());
    let admin_fallback = group_package(
        &app,
        &p.t,
        "Admins",
        open_policy(json!({"approval": {"stages": [{"approvers": [{"type": "manager"}]}]}})),
    )
    .await;
    let (_, req) = request(&app, &no_manager_token, admin_fallback.package, json!({})).await;
    assert_eq!(req["stages"][0]["approverIds"], json!([p.t.admin_id]));
    let (status, done) = decide(&app, &p.t.admin, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["state"], "delivered");
    assert_eq!(
        sources(&app, admin_fallback.group, no_manager).await.len(),
        1
    );
}

#[tokio::test]
async fn approver_justification_is_required_when_the_stage_says_so() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [{"approvers": [{"type": "manager"}], "requireJustification": true}]}})),
    )
    .await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;

    let (status, problem) = decide(&app, &p.manager.1, &req, "approve", Some("  ")).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem["errors"]["justification"].is_string(), "{problem}");
    let (status, _) = decide(&app, &p.manager.1, &req, "approve", Some("known tester")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_deciders_produce_exactly_one_outcome() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (requester, requester_token) = app.user(&t, "req@contoso.test", json!({})).await;
    let approvers_group = fixtures::group(&app, &t, "Approvers").await;
    let mut tokens = Vec::new();
    for i in 0..12 {
        let (id, token) = app
            .user(
                &t,
                &format!("approver{i}@contoso.test"),
                json!({"displayName": format!("Approver {i}")}),
            )
            .await;
        app.post(
            &t.admin,
            &format!("/api/v1/groups/{approvers_group}/members"),
            json!({"userId": id}),
        )
        .await;
        tokens.push(token);
    }
    let pkg = group_package(
        &app,
        &t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [{"approvers": [{"type": "group", "id": approvers_group}]}]}})),
    )
    .await;
    let (_, req) = request(&app, &requester_token, pkg.package, json!({})).await;
    assert_eq!(
        req["stages"][0]["approverIds"].as_array().map(Vec::len),
        Some(12)
    );

    let mut handles = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let decision = if i % 2 == 0 { "approve" } else { "deny" };
        let url = format!(
            "{}/api/v1/assignmentRequests/{}/decision",
            app.address,
            req["id"].as_str().expect("id")
        );
        let client = app.client.clone();
        let token = token.clone();
        handles.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"decision": decision}))
                .send()
                .await
                .expect("send");
            crate::helpers::read(res).await
        }));
    }
    let mut ok = 0;
    let mut conflicts = Vec::new();
    for h in handles {
        let (status, body) = h.await.expect("join");
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {
                conflicts.push(body["detail"].as_str().unwrap_or_default().to_string())
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1, "exactly one decision wins");
    assert_eq!(conflicts.len(), 11);
    assert!(
        conflicts.iter().all(|d| d.contains("by Approver")),
        "{conflicts:?}"
    );
    let decisions: i64 =
        sqlx::query_scalar("select count(*) from stage_decisions where request_id = $1")
            .bind(uuid_of(&req["id"]))
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(decisions, 1);
    let (_, final_state) = app
        .get(
            &requester_token,
            &format!(
                "/api/v1/assignmentRequests/{}",
                req["id"].as_str().expect("id")
            ),
        )
        .await;
    assert!(
        matches!(final_state["state"].as_str(), Some("delivered" | "denied")),
        "{final_state}"
    );
    let members = sources(&app, pkg.group, requester).await.len();
    assert_eq!(members, usize::from(final_state["state"] == "delivered"));
}

#[tokio::test]
async fn a_deactivated_approver_is_replaced_by_the_fallback() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [{"approvers": [{"type": "manager"}], "fallbackApprovers": [{"type": "user", "id": p.other.0}]}]}})),
    )
    .await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    assert_eq!(req["stages"][0]["approverIds"], json!([p.manager.0]));

    app.delete(&p.t.admin, &format!("/api/v1/users/{}", p.manager.0))
        .await;

    let (status, done) = decide(&app, &p.other.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered");
}
