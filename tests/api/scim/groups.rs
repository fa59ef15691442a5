//! `/Groups`: members (the directory's source), PATCH forms, PUT, DELETE.

use reqwest::StatusCode;
use serde_json::json;

use super::{GROUP, scim};
use crate::helpers::TestApp;

#[tokio::test]
async fn groups_are_created_with_members_listed_filtered_and_shaped() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let a = s.user("a@acme.test", json!({})).await;
    let b = s.user("b@acme.test", json!({})).await;
    let g = s.group("Engineering", &[&a, &b]).await;
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(s.members(&g).await, both);
    let (_, found) = s
        .get("/Groups?filter=displayName%20eq%20%22engineering%22&excludedAttributes=members")
        .await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());
    assert_eq!(found["Resources"][0]["id"], g.as_str());
    let (status, bad) = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "X", "members": [{"value": uuid::Uuid::now_v7().to_string()}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["scimType"], "invalidValue");
    let (status, bad) = s.post("/Groups", json!({"schemas": [GROUP]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
}

#[tokio::test]
async fn patch_adds_and_removes_members_in_every_form_and_hundreds_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let mut users = Vec::new();
    for i in 0..120 {
        users.push(s.user(&format!("u{i}@acme.test"), json!({})).await);
    }
    let g = s.group("Big", &[]).await;
    let values: Vec<_> = users.iter().map(|u| json!({"value": u})).collect();
    let (status, after) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "Add", "path": "members", "value": values}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["members"].as_array().map(Vec::len), Some(120));
    // Okta: a filtered path; Entra ID: the members in the value; a bare id list.
    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([
                {"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])},
                {"op": "Remove", "path": "members", "value": [{"value": users[1]}, {"value": users[2]}]},
                {"op": "replace", "value": {"displayName": "Bigger"}},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let members = s.members(&g).await;
    assert_eq!(members.len(), 117);
    assert!(!members.contains(&users[0]) && !members.contains(&users[2]));
    let (_, group) = s.get(&format!("/Groups/{g}?attributes=displayName")).await;
    assert_eq!(group["displayName"], "Bigger");
    assert!(group.get("members").is_none());
    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "replace", "path": "members", "value": [{"value": users[5]}]},
                   {"op": "add", "path": "members", "value": [{"value": users[6]}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut expected = vec![users[5].clone(), users[6].clone()];
    expected.sort();
    assert_eq!(s.members(&g).await, expected);
    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "remove", "path": "members"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(s.members(&g).await.is_empty());
}

#[tokio::test]
async fn put_replaces_the_directory_members_and_delete_removes_an_unused_group() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let a = s.user("a@acme.test", json!({})).await;
    let b = s.user("b@acme.test", json!({})).await;
    let g = s.group("Team", &[&a]).await;
    let (status, put) = s
        .put(
            &format!("/Groups/{g}"),
            json!({"schemas": [GROUP], "displayName": "Team 2", "externalId": "t2", "members": [{"value": b}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["externalId"], "t2");
    assert_eq!(s.members(&g).await, vec![b.clone()]);
    assert_eq!(
        s.delete(&format!("/Groups/{g}")).await,
        StatusCode::NO_CONTENT
    );
    let (status, _) = s.get(&format!("/Groups/{g}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&t.admin, &format!("/api/v1/groups/{g}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing used it: gone");
}

#[tokio::test]
async fn deleting_a_group_a_catalog_uses_keeps_it_in_portico_without_the_directorys_members() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let a = s.user("a@acme.test", json!({})).await;
    let p =
        crate::fixtures::group_package(&app, &t, "Wiki", crate::fixtures::open_policy(json!({})))
            .await;
    let g = p.group.to_string();
    let (status, _) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        s.delete(&format!("/Groups/{g}")).await,
        StatusCode::NO_CONTENT
    );
    let (status, _) = s.get(&format!("/Groups/{g}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "gone from SCIM");
    let (status, kept) = app.get(&t.admin, &format!("/api/v1/groups/{g}")).await;
    assert_eq!(status, StatusCode::OK, "the catalog still uses it: {kept}");
    let uid = uuid::Uuid::parse_str(&a).expect("uuid");
    assert!(
        crate::fixtures::sources(&app, p.group, uid)
            .await
            .is_empty()
    );
    let (_, list) = s.get("/Groups?filter=displayName%20eq%20%22Wiki%22").await;
    assert_eq!(list["totalResults"], 0);
}
