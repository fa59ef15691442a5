//! What a write refuses, and that a refused write leaves nothing behind: members who
//! are no users of the tenant, managers who are missing, the user themself or a loop.

use reqwest::StatusCode;
use serde_json::json;

use super::{ENTERPRISE, GROUP, USER, scim};
use crate::helpers::TestApp;

#[tokio::test]
async fn a_member_who_is_no_user_of_the_tenant_leaves_the_group_as_it_was() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let a = s.user("a@acme.test", json!({})).await;
    let b = s.user("b@acme.test", json!({})).await;
    let other = app.tenant("globex").await;
    let stranger = scim(&app, &other)
        .await
        .user("z@globex.test", json!({}))
        .await;
    let g = s.group("Engineering", &[&a]).await;

    let (status, bad) = s
        .patch(
            &format!("/Groups/{g}"),
            json!([{"op": "add", "path": "members", "value": [{"value": b}, {"value": stranger}]}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["scimType"], "invalidValue");
    assert!(
        bad["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&stranger)),
        "{bad}"
    );
    assert_eq!(s.members(&g).await, [a.as_str()], "b was not added either");

    let (status, bad) = s
        .put(
            &format!("/Groups/{g}"),
            json!({"schemas": [GROUP], "displayName": "Renamed", "members": [{"value": stranger}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (_, kept) = s.get(&format!("/Groups/{g}")).await;
    assert_eq!(kept["displayName"], "Engineering", "the rename was undone");
    assert_eq!(s.members(&g).await, [a.as_str()], "a was not removed");

    let (status, _) = s
        .post(
            "/Groups",
            json!({"schemas": [GROUP], "displayName": "Half", "members": [{"value": a}, {"value": stranger}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, none) = s.get("/Groups?filter=displayName%20eq%20%22Half%22").await;
    assert_eq!(none["totalResults"], 0, "the group was not created");
}

#[tokio::test]
async fn a_manager_must_be_a_visible_user_other_than_the_user_and_not_below_them() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = scim(&app, &t).await;
    let with_manager = |name: &str, manager: &str| {
        json!({"schemas": [USER, ENTERPRISE], "userName": name,
               ENTERPRISE: {"manager": {"value": manager}}})
    };
    let boss = s.user("boss@acme.test", json!({})).await;
    let lead = s
        .user(
            "lead@acme.test",
            json!({ENTERPRISE: {"manager": {"value": boss}}}),
        )
        .await;

    let missing = uuid::Uuid::now_v7().to_string();
    let (status, bad) = s
        .post("/Users", with_manager("new@acme.test", &missing))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert!(
        bad["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not a user of this directory yet")),
        "{bad}"
    );
    let (_, none) = s
        .get("/Users?filter=userName%20eq%20%22new%40acme.test%22")
        .await;
    assert_eq!(none["totalResults"], 0);

    // A manager the directory deleted is no manager any more.
    let gone = s.user("gone@acme.test", json!({})).await;
    assert_eq!(
        s.delete(&format!("/Users/{gone}")).await,
        StatusCode::NO_CONTENT
    );
    let (status, _) = s.post("/Users", with_manager("new@acme.test", &gone)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, bad) = s
        .put(
            &format!("/Users/{boss}"),
            with_manager("boss@acme.test", &boss),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["detail"]
            .as_str()
            .is_some_and(|d| d.contains("own manager")),
        "{bad}"
    );

    let (status, bad) = s
        .put(
            &format!("/Users/{boss}"),
            with_manager("boss@acme.test", &lead),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["detail"].as_str().is_some_and(|d| d.contains("loop")),
        "{bad}"
    );

    // A userName another user holds, on PUT as on POST.
    let (status, dup) = s
        .put(
            &format!("/Users/{lead}"),
            json!({"schemas": [USER], "userName": "BOSS@acme.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    assert_eq!(dup["scimType"], "uniqueness");
    let (status, ok) = s
        .put(
            &format!("/Users/{lead}"),
            with_manager("lead@acme.test", &boss),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "keeping one's own userName is no conflict: {ok}"
    );
}
