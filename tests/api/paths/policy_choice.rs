//! DOMAIN.md §5: when several policies of a package let a user request, the user picks
//! one (the API's `policyId`, the portal's "Which policy applies to you?"); when exactly
//! one applies it is chosen for them; a policy whose scope leaves the user out is
//! refused (403).

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::request_policy;
use crate::fixtures::{self, request};
use crate::helpers::portal::sign_in;
use crate::helpers::{TestApp, TestTenant, uuid_of};

async fn add_policy(app: &TestApp, t: &TestTenant, package: Uuid, body: Value) -> Uuid {
    let (status, created) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{package}/policies"),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    uuid_of(&created["id"])
}

#[tokio::test]
async fn a_requestor_chooses_between_two_policies_and_not_one_outside_their_scope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (megan, _) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (adele, adele_token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (diego, _) = app.user(&t, "diego@contoso.test", json!({})).await;
    let (alex, _) = app.user(&t, "alex@contoso.test", json!({})).await;
    let (_, nestor_token) = app.user(&t, "nestor@contoso.test", json!({})).await;
    let (pradeep, _) = app.user(&t, "pradeep@contoso.test", json!({})).await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let group = fixtures::group(&app, &t, "Sales").await;
    let (_, member, _) = fixtures::group_resource(&app, &t, catalog, group).await;
    let package = fixtures::package(&app, &t, catalog, "Sales", &[member]).await;
    let standard = add_policy(
        &app,
        &t,
        package,
        json!({"displayName": "Standard", "requestors": {"scope": "allMembers"}}),
    )
    .await;
    let fast = add_policy(
        &app,
        &t,
        package,
        json!({"displayName": "Fast track",
               "requestors": {"scope": "specific", "principals": [
                   {"type": "user", "id": adele}, {"type": "user", "id": diego}]},
               "approval": {"stages": [{"approvers": [{"type": "user", "id": megan}]}]}}),
    )
    .await;
    let alex_only = add_policy(
        &app,
        &t,
        package,
        json!({"displayName": "Alex only",
               "requestors": {"scope": "specific", "principals": [{"type": "user", "id": alex}]}}),
    )
    .await;

    // Two policies let Adele request: without a choice she is asked to make one.
    let (status, problem) = request(&app, &adele_token, package, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let message = problem["errors"]["policyId"].to_string();
    assert!(
        message.contains("Standard") && message.contains("Fast track"),
        "{problem}"
    );
    assert!(!message.contains("Alex only"), "{problem}");

    // A policy that leaves her out is refused, even named.
    let (status, problem) =
        request(&app, &adele_token, package, json!({"policyId": alex_only})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");

    // The one she names governs her request.
    let (status, req) = request(&app, &adele_token, package, json!({"policyId": fast})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["policyId"], fast.to_string(), "{req}");
    assert_eq!(req["state"], "pendingApproval", "{req}");
    assert_eq!(request_policy(&app, uuid_of(&req["id"])).await, fast);

    // Nestor is in one policy's scope only: it is chosen for him.
    let (status, req) = request(&app, &nestor_token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["policyId"], standard.to_string(), "{req}");
    assert_eq!(req["state"], "delivered", "{req}");

    // The portal offers Diego his two policies by name and keeps his choice.
    let b = sign_in(&app, "contoso", "diego@contoso.test").await;
    let page = b.get(&format!("/packages/{package}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Which policy applies to you?"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("value=\"{standard}\"")));
    assert!(page.body.contains(&format!("value=\"{fast}\"")));
    assert!(!page.body.contains(&format!("value=\"{alex_only}\"")));
    let sent = b
        .post(
            &format!("/packages/{package}/request"),
            &[("policy", &fast.to_string())],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let chosen: Uuid =
        sqlx::query_scalar("select policy_id from assignment_requests where target_user_id = $1")
            .bind(diego)
            .fetch_one(&app.pool)
            .await
            .expect("Diego's request");
    assert_eq!(chosen, fast);

    // Through the portal, a policy whose scope leaves Pradeep out is refused as well.
    let b = sign_in(&app, "contoso", "pradeep@contoso.test").await;
    let refused = b
        .post(
            &format!("/packages/{package}/request"),
            &[("policy", &alex_only.to_string())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let count: i64 = sqlx::query_scalar(
        "select count(*) from assignment_requests where target_user_id = $1 and policy_id = $2",
    )
    .bind(pradeep)
    .bind(alex_only)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(count, 0);
}
