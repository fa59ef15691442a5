//! DOMAIN.md §5 approver kinds: `secondLevelManager` (the target user's manager's
//! manager) and `resourceOwners` (owners of the package's group resources), each with
//! the fallback approvers deciding when it resolves to nobody.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::stage_approvers;
use crate::fixtures::{self, decide, group_package, open_policy, request, sources};
use crate::helpers::{TestApp, TestTenant};

fn stage(approvers: Value, fallback: Uuid) -> Value {
    json!({"stages": [{"approvers": approvers,
                       "fallbackApprovers": [{"type": "user", "id": fallback}]}]})
}

#[tokio::test]
async fn second_level_manager_approves_and_without_one_the_fallback_does() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (carol, carol_token) = app.user(&t, "carol@contoso.test", json!({})).await;
    let (megan, megan_token) = app
        .user(&t, "megan@contoso.test", json!({"managerId": carol}))
        .await;
    let (adele, adele_token) = app
        .user(&t, "adele@contoso.test", json!({"managerId": megan}))
        .await;
    let (nestor, nestor_token) = app.user(&t, "nestor@contoso.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Payroll",
        open_policy(json!({"approval": stage(json!([{"type": "secondLevelManager"}]), nestor)})),
    )
    .await;

    // Adele's manager's manager is Carol: she, not Megan, decides.
    let (status, req) = request(&app, &adele_token, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(stage_approvers(&req, 0), vec![carol], "{req}");
    let (status, _) = decide(&app, &megan_token, &req, "approve", None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the first-level manager is not asked"
    );
    let (status, done) = decide(&app, &carol_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered", "{done}");
    assert_eq!(sources(&app, pkg.group, adele).await.len(), 1);

    // Megan's manager (Carol) has no manager: the fallback approver decides.
    let (status, req) = request(&app, &megan_token, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(stage_approvers(&req, 0), vec![nestor], "{req}");
    let (status, done) = decide(&app, &nestor_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered", "{done}");
    assert_eq!(sources(&app, pkg.group, megan).await.len(), 1);
}

/// A package over `group`'s Member role, with a policy made through the API.
async fn package_over(
    app: &TestApp,
    t: &TestTenant,
    group: Uuid,
    name: &str,
    approval: Value,
) -> Uuid {
    let catalog = fixtures::general_catalog(app, t).await;
    let (_, member, _) = fixtures::group_resource(app, t, catalog, group).await;
    let package = fixtures::package(app, t, catalog, name, &[member]).await;
    let (status, policy) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{package}/policies"),
            json!({"displayName": "Owners decide", "requestors": {"scope": "allMembers"},
                   "approval": approval}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    assert_eq!(
        policy["approval"]["stages"][0]["approvers"],
        json!([{"type": "resourceOwners"}])
    );
    package
}

#[tokio::test]
async fn resource_owners_approve_and_a_group_without_owners_falls_back() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (olivia, olivia_token) = app.user(&t, "olivia@contoso.test", json!({})).await;
    let (nestor, nestor_token) = app.user(&t, "nestor@contoso.test", json!({})).await;
    let (adele, adele_token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let owners = json!([{"type": "resourceOwners"}]);

    let finance = fixtures::group(&app, &t, "Finance").await;
    let (status, body) = app
        .patch(
            &t.admin,
            &format!("/api/v1/groups/{finance}"),
            json!({"ownerIds": [olivia]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let owned = package_over(&app, &t, finance, "Finance", stage(owners.clone(), nestor)).await;
    let (status, req) = request(&app, &adele_token, owned, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(stage_approvers(&req, 0), vec![olivia], "{req}");
    let (status, _) = decide(&app, &nestor_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the fallback is not asked");
    let (status, done) = decide(&app, &olivia_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered", "{done}");
    assert_eq!(sources(&app, finance, adele).await.len(), 1);

    // A group nobody owns: the fallback approvers decide.
    let lab = fixtures::group(&app, &t, "Lab").await;
    let unowned = package_over(&app, &t, lab, "Lab", stage(owners, nestor)).await;
    let (status, req) = request(&app, &adele_token, unowned, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(stage_approvers(&req, 0), vec![nestor], "{req}");
    let (status, done) = decide(&app, &nestor_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered", "{done}");
    assert_eq!(sources(&app, lab, adele).await.len(), 1);
}
