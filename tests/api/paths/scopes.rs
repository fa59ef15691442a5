//! DOMAIN.md §5 requestor scopes: `none` lets nobody request (403) while an admin still
//! assigns directly; `allUsers` lets members and guests request, guests only where the
//! catalog is externally visible.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::{self, group_package, request, sources};
use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn scope_none_refuses_users_and_leaves_direct_assignment_to_admins() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (adele, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Break glass",
        json!({"requestors": {"scope": "none"}}),
    )
    .await;

    let (status, problem) = request(&app, &token, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, problem) =
        request(&app, &token, pkg.package, json!({"policyId": pkg.policy})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "named, it is refused too: {problem}"
    );
    assert!(sources(&app, pkg.group, adele).await.is_empty());

    let (status, req) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": pkg.package, "targetUserId": adele}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered", "{req}");
    assert_eq!(req["policyId"], pkg.policy.to_string());
    assert_eq!(
        sources(&app, pkg.group, adele).await,
        [req["assignmentId"]
            .as_str()
            .expect("assignment")
            .to_string()]
    );
}

#[tokio::test]
async fn scope_all_users_admits_guests_only_in_an_externally_visible_catalog() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (adele, adele_token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (guest, guest_token) = app
        .user(&t, "guest@partner.test", json!({"kind": "guest"}))
        .await;
    let everyone = json!({"requestors": {"scope": "allUsers"}});

    // In the General catalog (not externally visible): members yes, guests no.
    let internal = group_package(&app, &t, "Internal wiki", everyone.clone()).await;
    let (status, req) = request(&app, &adele_token, internal.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered", "{req}");
    let (status, problem) = request(&app, &guest_token, internal.package, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(sources(&app, internal.group, guest).await.is_empty());

    // In an externally visible catalog: guests too.
    let (status, catalog) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "Partners", "externallyVisible": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{catalog}");
    let catalog = uuid_of(&catalog["id"]);
    let group = fixtures::group(&app, &t, "Partner portal").await;
    let (_, member, _) = fixtures::group_resource(&app, &t, catalog, group).await;
    let package = fixtures::package(&app, &t, catalog, "Partner portal", &[member]).await;
    fixtures::policy(&app, &t, package, everyone).await;
    let (status, req) = request(&app, &guest_token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered", "{req}");
    assert_eq!(sources(&app, group, guest).await.len(), 1);
    let (status, req) = request(&app, &adele_token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(sources(&app, group, adele).await.len(), 1);

    // Hidden from guests again: a guest's new request is refused.
    let (status, body) = app
        .patch(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}"),
            json!({"externallyVisible": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, other_guest) = app
        .user(&t, "other@partner.test", json!({"kind": "guest"}))
        .await;
    let (status, problem) = request(&app, &other_guest, package, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
}
