//! Who sees which requests, approvals and assignments, and another tenant's answering 404.

use reqwest::StatusCode;
use serde_json::json;

use super::{people, stage};
use crate::fixtures::{decide, group_package, open_policy, request};
use crate::helpers::TestApp;

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
