//! Requests and the approval engine (DOMAIN.md §5–7): eligibility refusals, stages in
//! series, fallbacks, anyOne versus all, deny, cancel, concurrent deciders, delivery
//! with membership provenance, removal and deactivation.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{self, decide, group_package, open_policy, request, sources};
use crate::helpers::{TestApp, TestTenant, uuid_of};

/// A tenant with a manager and an employee who reports to them.
struct People {
    t: TestTenant,
    manager: (Uuid, String),
    employee: (Uuid, String),
    other: (Uuid, String),
}

async fn people(app: &TestApp) -> People {
    let t = app.tenant("contoso").await;
    let manager = app
        .user(
            &t,
            "megan@contoso.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let employee = app
        .user(
            &t,
            "adele@contoso.test",
            json!({"displayName": "Adele Vance", "managerId": manager.0}),
        )
        .await;
    let other = app
        .user(
            &t,
            "alex@contoso.test",
            json!({"displayName": "Alex Wilber"}),
        )
        .await;
    People {
        t,
        manager,
        employee,
        other,
    }
}

fn stage(approvers: Value) -> Value {
    json!({"approvers": approvers, "decision": "anyOne", "timeoutDays": 7})
}

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
async fn eligibility_refusals_each_name_their_rule() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let settings = open_policy(json!({"requireJustification": true,
        "questions": [{"text": "Which device?", "kind": "shortText", "required": true}]}));
    let pkg = group_package(&app, &p.t, "Pkg", settings).await;
    let (_, policy) = sqlx::query_as::<_, (Uuid, serde_json::Value)>(
        "select id, settings from policies where id = $1",
    )
    .bind(pkg.policy)
    .fetch_one(&app.pool)
    .await
    .expect("policy");
    let question = policy["questions"][0]["id"]
        .as_str()
        .expect("question id")
        .to_string();
    let good = json!({"justification": "testing", "answers": [{"questionId": question, "value": "Laptop 42"}]});

    // 422: missing justification and answer, with each field named.
    let (status, problem) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["errors"]["justification"].is_string(), "{problem}");
    assert!(
        problem["errors"][format!("answers.{question}")]
            .as_str()
            .unwrap_or("")
            .contains("Which device?"),
        "{problem}"
    );

    // 422: a schedule the policy does not allow.
    let mut with_schedule = good.clone();
    with_schedule["schedule"] = json!({"endDateTime": "2027-02-01T00:00:00Z"});
    let (status, problem) = request(&app, &p.employee.1, pkg.package, with_schedule).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(problem["errors"]["schedule"].is_string(), "{problem}");

    // Accepted once; then 409 because it is assigned.
    let (status, _) = request(&app, &p.employee.1, pkg.package, good.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, problem) = request(&app, &p.employee.1, pkg.package, good.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("already has"),
        "{problem}"
    );

    // 409: requests turned off; 409: catalog disabled.
    sqlx::query("update policies set settings = jsonb_set(settings, '{requestsEnabled}', 'false') where id = $1")
        .bind(pkg.policy)
        .execute(&app.pool)
        .await
        .expect("disable");
    let (status, problem) = request(&app, &p.other.1, pkg.package, good.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("Requests are turned off"),
        "{problem}"
    );
    sqlx::query("update policies set settings = jsonb_set(settings, '{requestsEnabled}', 'true') where id = $1")
        .bind(pkg.policy)
        .execute(&app.pool)
        .await
        .expect("enable");
    sqlx::query("update catalogs set enabled = false where id = $1")
        .bind(pkg.catalog)
        .execute(&app.pool)
        .await
        .expect("disable catalog");
    let (status, problem) = request(&app, &p.other.1, pkg.package, good.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"].as_str().unwrap_or("").contains("catalog"),
        "{problem}"
    );
}

#[tokio::test]
async fn only_people_in_the_requestor_scope_may_request() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let allowed = fixtures::group(&app, &p.t, "Testers").await;
    app.post(
        &p.t.admin,
        &format!("/api/v1/groups/{allowed}/members"),
        json!({"userId": p.employee.0}),
    )
    .await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        json!({"requestors": {"scope": "specific", "principals": [{"type": "group", "id": allowed}]}}),
    )
    .await;

    let (status, problem) = request(&app, &p.other.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, _) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);

    let (guest, guest_token) = app
        .user(&p.t, "guest@partner.test", json!({"kind": "guest"}))
        .await;
    let members_only = group_package(&app, &p.t, "Members", open_policy(json!({}))).await;
    let (status, _) = request(&app, &guest_token, members_only.package, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "guests are not members");
    assert!(sources(&app, members_only.group, guest).await.is_empty());
}

#[tokio::test]
async fn an_open_request_blocks_an_identical_one_and_can_be_canceled() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [stage(json!([{"type": "manager"}]))]}})),
    )
    .await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;

    let (status, problem) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("open request"),
        "{problem}"
    );

    let path = format!(
        "/api/v1/assignmentRequests/{}/cancel",
        req["id"].as_str().expect("id")
    );
    let (status, _) = app.post(&p.other.1, &path, json!({})).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "strangers do not even see it"
    );
    let (status, canceled) = app.post(&p.employee.1, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(canceled["state"], "canceled");
    assert_eq!(canceled["stages"][0]["state"], "canceled");
    let (status, _) = app.post(&p.employee.1, &path, json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a canceled request stays canceled"
    );
    let (status, _) = decide(&app, &p.manager.1, &req, "approve", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing left to decide");
    let (status, again) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
}

#[tokio::test]
async fn separation_of_duties_holds_in_both_directions() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let buy = group_package(&app, &p.t, "Purchasing", open_policy(json!({}))).await;
    let pay = group_package(&app, &p.t, "Payments", open_policy(json!({}))).await;
    // Declared only on Purchasing.
    sqlx::query("insert into incompatible_packages (tenant_id, package_id, other_package_id) values ($1, $2, $3)")
        .bind(p.t.id)
        .bind(buy.package)
        .bind(pay.package)
        .execute(&app.pool)
        .await
        .expect("incompatible");

    let (status, _) = request(&app, &p.employee.1, buy.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, problem) = request(&app, &p.employee.1, pay.package, json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "holding Purchasing blocks Payments"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("Purchasing"),
        "{problem}"
    );

    let (status, _) = request(&app, &p.other.1, pay.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, problem) = request(&app, &p.other.1, buy.package, json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "holding Payments blocks Purchasing"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("Payments"),
        "{problem}"
    );

    // An incompatible group: membership from any source counts.
    let auditors = fixtures::group(&app, &p.t, "Auditors").await;
    let audited = group_package(&app, &p.t, "Books", open_policy(json!({}))).await;
    sqlx::query(
        "insert into incompatible_groups (tenant_id, package_id, group_id) values ($1, $2, $3)",
    )
    .bind(p.t.id)
    .bind(audited.package)
    .bind(auditors)
    .execute(&app.pool)
    .await
    .expect("incompatible group");
    app.post(
        &p.t.admin,
        &format!("/api/v1/groups/{auditors}/members"),
        json!({"userId": p.manager.0}),
    )
    .await;
    let (status, problem) = request(&app, &p.manager.1, audited.package, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("Auditors"),
        "{problem}"
    );
}

#[tokio::test]
async fn ending_an_assignment_removes_only_the_membership_it_delivered() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(&app, &p.t, "Pkg", open_policy(json!({}))).await;
    // The employee was already a direct member; the other user was not.
    app.post(
        &p.t.admin,
        &format!("/api/v1/groups/{}/members", pkg.group),
        json!({"userId": p.employee.0}),
    )
    .await;
    let (_, r1) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let (_, r2) = request(&app, &p.other.1, pkg.package, json!({})).await;
    assert_eq!(sources(&app, pkg.group, p.employee.0).await.len(), 2);
    let (_, members) = app
        .get(&p.t.admin, &format!("/api/v1/groups/{}/members", pkg.group))
        .await;
    let employee = members["items"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["userId"] == p.employee.0.to_string()))
        .cloned()
        .expect("member");
    assert_eq!(employee["sources"], json!(["direct", r1["assignmentId"]]));

    for (token, r) in [(&p.employee.1, &r1), (&p.other.1, &r2)] {
        let (status, removal) = app
            .post(
                token,
                "/api/v1/assignmentRequests",
                json!({"requestType": "userRemove", "assignmentId": r["assignmentId"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{removal}");
        assert_eq!(removal["state"], "delivered");
    }

    assert_eq!(
        sources(&app, pkg.group, p.employee.0).await,
        vec!["direct"],
        "direct membership stays"
    );
    assert!(
        sources(&app, pkg.group, p.other.0).await.is_empty(),
        "delivered membership goes"
    );
    let (_, a) = app
        .get(
            &p.employee.1,
            &format!(
                "/api/v1/assignments/{}",
                r1["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(a["state"], "removed");
    assert_eq!(a["removalReason"], "user");
    assert_eq!(a["grants"][0]["state"], "revoked");
}

#[tokio::test]
async fn admins_assign_and_remove_directly_without_approval() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [stage(json!([{"type": "manager"}]))]}})),
    )
    .await;

    let (status, req) = app
        .post(&p.t.admin, "/api/v1/assignmentRequests", json!({"requestType": "adminAdd", "accessPackageId": pkg.package, "targetUserId": p.employee.0}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered");
    assert_eq!(req["requestorId"], p.t.admin_id.to_string());

    let (status, _) = app
        .post(&p.other.1, "/api/v1/assignmentRequests", json!({"requestType": "adminAdd", "accessPackageId": pkg.package, "targetUserId": p.employee.0}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "admin types need the assignment manager role"
    );

    let (status, removal) = app
        .post(&p.t.admin, "/api/v1/assignmentRequests", json!({"requestType": "adminRemove", "accessPackageId": pkg.package, "targetUserId": p.employee.0}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{removal}");
    let (_, a) = app
        .get(
            &p.t.admin,
            &format!(
                "/api/v1/assignments/{}",
                req["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(a["state"], "removed");
    assert_eq!(a["removalReason"], "admin");
    assert!(sources(&app, pkg.group, p.employee.0).await.is_empty());
}

#[tokio::test]
async fn deactivating_a_user_removes_their_assignments_and_cancels_their_requests() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let held = group_package(&app, &p.t, "Held", open_policy(json!({}))).await;
    let pending = group_package(
        &app,
        &p.t,
        "Pending",
        open_policy(json!({"approval": {"stages": [stage(json!([{"type": "manager"}]))]}})),
    )
    .await;
    let (_, r_held) = request(&app, &p.employee.1, held.package, json!({})).await;
    let (_, r_pending) = request(&app, &p.employee.1, pending.package, json!({})).await;

    let (status, _) = app
        .delete(&p.t.admin, &format!("/api/v1/users/{}", p.employee.0))
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, a) = app
        .get(
            &p.t.admin,
            &format!(
                "/api/v1/assignments/{}",
                r_held["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(a["state"], "removed");
    assert_eq!(a["removalReason"], "userDeactivated");
    assert!(sources(&app, held.group, p.employee.0).await.is_empty());
    let (_, r) = app
        .get(
            &p.t.admin,
            &format!(
                "/api/v1/assignmentRequests/{}",
                r_pending["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(r["state"], "canceled");
    let (_, history) = app
        .get(
            &p.t.admin,
            &format!(
                "/api/v1/assignmentRequests?targetUserId={}&state=delivered",
                p.employee.0
            ),
        )
        .await;
    let types: Vec<&str> = history["items"]
        .as_array()
        .map(|i| i.iter().filter_map(|r| r["requestType"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        types.contains(&"systemRemove"),
        "the removal is itself a request: {types:?}"
    );
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

#[tokio::test]
async fn approvals_list_what_waits_for_the_caller_and_what_they_decided() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [stage(json!([{"type": "manager"}]))]}})),
    )
    .await;
    let (_, req) = request(
        &app,
        &p.employee.1,
        pkg.package,
        json!({"justification": "please"}),
    )
    .await;

    let (_, pending) = app
        .get(&p.manager.1, "/api/v1/approvals?state=pending")
        .await;
    assert_eq!(
        pending["items"].as_array().map(Vec::len),
        Some(1),
        "{pending}"
    );
    assert_eq!(pending["items"][0]["requestId"], req["id"]);
    assert_eq!(pending["items"][0]["request"]["justification"], "please");
    let (_, none) = app.get(&p.other.1, "/api/v1/approvals").await;
    assert_eq!(none["items"], json!([]));

    decide(&app, &p.manager.1, &req, "approve", None).await;

    let (_, pending) = app
        .get(&p.manager.1, "/api/v1/approvals?state=pending")
        .await;
    assert_eq!(pending["items"], json!([]));
    let (_, decided) = app
        .get(&p.manager.1, "/api/v1/approvals?state=decided")
        .await;
    assert_eq!(decided["items"][0]["stageIndex"], 0);
    let (status, _) = app.get(&p.manager.1, "/api/v1/approvals?state=maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn requests_and_assignments_are_listed_by_who_may_see_them() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(&app, &p.t, "Pkg", open_policy(json!({}))).await;
    request(&app, &p.employee.1, pkg.package, json!({})).await;
    request(&app, &p.other.1, pkg.package, json!({})).await;

    let (_, mine) = app
        .get(&p.employee.1, "/api/v1/assignmentRequests?mine=true")
        .await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(1));
    let (_, not_admin) = app.get(&p.employee.1, "/api/v1/assignments").await;
    assert_eq!(
        not_admin["items"].as_array().map(Vec::len),
        Some(1),
        "a member sees only their own"
    );
    let (_, all) = app
        .get(&p.t.admin, "/api/v1/assignments?state=delivered")
        .await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    let (status, _) = app
        .get(&p.t.admin, "/api/v1/assignments?state=nonsense")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .get(&p.t.admin, "/api/v1/assignmentRequests?state=nonsense")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn extension_is_possible_only_in_the_last_fourteen_days() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 30}, "extension": {"allowed": true, "requireApproval": false}})),
    )
    .await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let extend = json!({"requestType": "userUpdate", "assignmentId": req["assignmentId"]});

    let (status, problem) = app
        .post(&p.employee.1, "/api/v1/assignmentRequests", extend.clone())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("last 14 days"),
        "{problem}"
    );

    app.clock.advance(chrono::Duration::days(20));
    let (status, ext) = app
        .post(&p.employee.1, "/api/v1/assignmentRequests", extend)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ext}");
    assert_eq!(ext["state"], "delivered");
    let (_, a) = app
        .get(
            &p.employee.1,
            &format!(
                "/api/v1/assignments/{}",
                req["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    let end = chrono::DateTime::parse_from_rfc3339(a["endDateTime"].as_str().expect("end"))
        .expect("time");
    assert_eq!(
        end,
        crate::helpers::start_time() + chrono::Duration::days(60)
    );
}

#[tokio::test]
async fn another_tenants_requests_and_assignments_answer_404() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [stage(json!([{"type": "manager"}]))]}})),
    )
    .await;
    let delivered_pkg = group_package(&app, &p.t, "Delivered", open_policy(json!({}))).await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let (_, delivered) = request(&app, &p.employee.1, delivered_pkg.package, json!({})).await;
    let other = app.tenant("fabrikam").await;
    let id = req["id"].as_str().expect("id");
    let assignment = delivered["assignmentId"].as_str().expect("assignment");

    for (method, path) in [
        (
            reqwest::Method::GET,
            format!("/api/v1/assignmentRequests/{id}"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/assignmentRequests/{id}/cancel"),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/assignments/{assignment}"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/assignments/{assignment}/reprocess"),
        ),
    ] {
        let (status, body) = app
            .call(method.clone(), &other.admin, &path, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let (status, _) = app
        .post(
            &other.admin,
            &format!("/api/v1/assignmentRequests/{id}/decision"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .post(&other.admin, "/api/v1/assignmentRequests", json!({"requestType": "adminAdd", "accessPackageId": pkg.package, "targetUserId": p.employee.0}))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another tenant's package is unknown here: {problem}"
    );
    let (_, lists) = app.get(&other.admin, "/api/v1/assignmentRequests").await;
    assert_eq!(lists["items"], json!([]));
    let (_, approvals) = app.get(&other.admin, "/api/v1/approvals").await;
    assert_eq!(approvals["items"], json!([]));
}

#[tokio::test]
async fn a_package_role_added_or_removed_reaches_every_current_holder() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(&app, &p.t, "Pkg", open_policy(json!({}))).await;
    let (_, r) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let assignment = r["assignmentId"].as_str().expect("id").to_string();
    let second_group = fixtures::group(&app, &p.t, "Second").await;
    let (_, second_member, _) =
        fixtures::group_resource(&app, &p.t, pkg.catalog, second_group).await;

    let (status, body) = app
        .patch(
            &p.t.admin,
            &format!("/api/v1/accessPackages/{}", pkg.package),
            json!({"resourceRoleIds": [pkg.member_role, second_member]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sources(&app, second_group, p.employee.0).await,
        vec![assignment.clone()]
    );
    assert_eq!(
        app.audit_actions(uuid_of(&json!(assignment)))
            .await
            .iter()
            .filter(|a| *a == "assignment.rolesChanged")
            .count(),
        1
    );

    let (status, body) = app
        .patch(
            &p.t.admin,
            &format!("/api/v1/accessPackages/{}", pkg.package),
            json!({"resourceRoleIds": [second_member]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        sources(&app, pkg.group, p.employee.0).await.is_empty(),
        "removed role is revoked"
    );
    assert_eq!(sources(&app, second_group, p.employee.0).await.len(), 1);
}
