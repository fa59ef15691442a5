//! DOMAIN.md §5–7 separation of duties, end to end: incompatible packages set through
//! the API and incompatible groups through the admin form are enforced on requests
//! (409), on an admin's direct assignment (409) and at delivery (`deliveryFailed` with
//! the reason).

use reqwest::StatusCode;
use serde_json::json;

use super::refusal_reason;
use crate::fixtures::{self, decide, group_package, open_policy, request, sources};
use crate::helpers::TestApp;
use crate::helpers::portal::sign_in;

#[tokio::test]
async fn incompatibilities_set_by_api_and_form_are_enforced_on_request_assignment_and_delivery() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (megan, megan_token) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (adele, adele_token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (diego, diego_token) = app.user(&t, "diego@contoso.test", json!({})).await;
    let approval = json!({"stages": [{"approvers": [{"type": "user", "id": megan}]}]});
    let buy = group_package(&app, &t, "Purchasing", open_policy(json!({}))).await;
    let pay = group_package(
        &app,
        &t,
        "Payments",
        open_policy(json!({"approval": approval})),
    )
    .await;

    // Through the API.
    let (status, body) = app
        .patch(
            &t.admin,
            &format!("/api/v1/accessPackages/{}", buy.package),
            json!({"incompatiblePackageIds": [pay.package]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["incompatiblePackageIds"],
        json!([pay.package]),
        "{body}"
    );

    // A request is refused.
    let (status, req) = request(&app, &adele_token, buy.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered", "{req}");
    let (status, problem) = request(&app, &adele_token, pay.package, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"].to_string().contains("Purchasing"),
        "{problem}"
    );

    // So is an admin's direct assignment.
    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": pay.package, "targetUserId": adele}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"].to_string().contains("Purchasing"),
        "{problem}"
    );
    assert!(sources(&app, pay.group, adele).await.is_empty());

    // Diego asks for Payments; while Megan decides, an admin gives him Purchasing.
    let (status, pending) = request(&app, &diego_token, pay.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    assert_eq!(pending["state"], "pendingApproval", "{pending}");
    let (status, direct) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": buy.package, "targetUserId": diego}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{direct}");
    let (status, failed) = decide(&app, &megan_token, &pending, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_eq!(failed["state"], "deliveryFailed", "{failed}");
    let reason = refusal_reason(&app, &pending).await;
    assert!(reason.contains("Purchasing"), "reason: {reason}");
    assert!(sources(&app, pay.group, diego).await.is_empty());

    // Through the admin form: Books is incompatible with membership of Auditors.
    let auditors = fixtures::group(&app, &t, "Auditors").await;
    let books = group_package(&app, &t, "Books", open_policy(json!({}))).await;
    let b = sign_in(&app, "contoso", &t.admin_email).await;
    let saved = b
        .post(
            &format!("/admin/packages/{}/edit", books.package),
            &[
                ("displayName", "Books"),
                ("resourceRoleIds", &books.member_role.to_string()),
                ("incompatibleGroupIds", &auditors.to_string()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, view) = app
        .get(
            &t.admin,
            &format!("/api/v1/accessPackages/{}", books.package),
        )
        .await;
    assert_eq!(view["incompatibleGroupIds"], json!([auditors]), "{view}");
    let (status, body) = app
        .post(
            &t.admin,
            &format!("/api/v1/groups/{auditors}/members"),
            json!({"userId": adele}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, problem) = request(&app, &adele_token, books.package, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"].to_string().contains("Auditors"),
        "{problem}"
    );
    let (status, problem) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": books.package, "targetUserId": adele}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(sources(&app, books.group, adele).await.is_empty());
}
