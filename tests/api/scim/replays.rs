//! The documented request sequences of Entra ID and Okta, replayed: create a user, add
//! them to a group, change their manager, disable them, remove them from the group,
//! delete.

use reqwest::StatusCode;
use serde_json::json;

use super::{ENTERPRISE, GROUP, USER, scim};
use crate::helpers::TestApp;

#[tokio::test]
async fn entra_ids_provisioning_sequence() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let (status, none) = s
        .get("/Users?filter=userName+eq+%22Test_User_ab6490ee%40contoso.com%22")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["totalResults"], 0);
    let (status, boss) = s
        .post(
            "/Users",
            json!({"schemas": [USER, ENTERPRISE], "externalId": "boss",
            "userName": "Boss@contoso.com", "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Boss@contoso.com"}],
            "meta": {"resourceType": "User"}, "name": {"formatted": "The Boss"}, "roles": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{boss}");
    let boss = boss["id"].as_str().expect("id").to_string();
    let (status, user) = s
        .post("/Users", json!({"schemas": [USER, ENTERPRISE], "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@contoso.com", "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().expect("id").to_string();
    let (status, patched) = s
        .patch(&format!("/Users/{id}"), json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}]))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"]["familyName"], "updatedFamilyName");

    let (status, group) = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName", "meta": {"resourceType": "Group"}, "members": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let g = group["id"].as_str().expect("id").to_string();
    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": id}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.members(&g).await, vec![id.clone()]);

    let (status, managed) = s
        .patch(&format!("/Users/{id}"), json!([{"op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": boss}]))
        .await;
    assert_eq!(status, StatusCode::OK, "{managed}");
    let (_, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(portico["managerId"], boss.as_str());

    let (status, disabled) = s
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["active"], false);
    let (_, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(portico["active"], false);

    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": id}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(s.members(&g).await.is_empty());
    assert_eq!(
        s.delete(&format!("/Users/{id}")).await,
        StatusCode::NO_CONTENT
    );
    let (status, _) = s.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let actions = app
        .audit_actions(uuid::Uuid::parse_str(&id).expect("uuid"))
        .await;
    assert!(
        actions.contains(&"user.deactivated".to_string()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn oktas_provisioning_sequence() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let boss = s.user("boss@example.com", json!({})).await;
    let (status, none) = s
        .get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["totalResults"], 0);
    let (status, user) = s
        .post(
            "/Users",
            json!({"schemas": [USER], "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().expect("id").to_string();
    assert!(
        user.get("password").is_none(),
        "a password is never kept nor shown"
    );
    let (status, _) = s.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);

    let (status, group) = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let g = group["id"].as_str().expect("id").to_string();
    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "add", "path": "members",
            "value": [{"value": id, "display": "test.user@okta.local"}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.members(&g).await, vec![id.clone()]);

    let (status, put) = s
        .put(&format!("/Users/{id}"), json!({"schemas": [USER, ENTERPRISE], "id": id,
            "userName": "test.user@okta.local", "name": {"givenName": "Another", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Another User", "active": true,
            ENTERPRISE: {"manager": {"value": boss}}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    let (_, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(portico["managerId"], boss.as_str());
    assert_eq!(portico["displayName"], "Another User");

    let (status, _) = s
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, portico) = app.get(&t.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(portico["active"], false);

    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")},
            {"op": "replace", "value": {"id": g, "displayName": "Test SCIMv2 renamed"}}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(s.members(&g).await.is_empty());
    assert_eq!(
        s.delete(&format!("/Users/{id}")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.delete(&format!("/Groups/{g}")).await,
        StatusCode::NO_CONTENT
    );
}
