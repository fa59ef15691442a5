//! Who may request what: eligibility refusals naming their rule, the requestor scope,
//! duplicate open requests and cancelation, and separation of duties.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::{people, stage};
use crate::fixtures::{self, decide, group_package, open_policy, request, sources};
use crate::helpers::TestApp;

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
