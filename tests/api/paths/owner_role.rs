//! DOMAIN.md §4: a group resource's Owner role, delivered, makes the user an owner of
//! the group (with the assignment as its source); the assignment's end takes back that
//! ownership and only that one.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures::{self, open_policy, request};
use crate::helpers::{TestApp, uuid_of};

/// The sources of `user`'s ownership of `group` ("direct" or assignment ids).
async fn ownership(app: &TestApp, group: Uuid, user: Uuid) -> Vec<String> {
    let rows: Vec<Option<Uuid>> = sqlx::query_scalar(
        "select assignment_id from group_owners where group_id = $1 and user_id = $2
          order by assignment_id nulls first",
    )
    .bind(group)
    .bind(user)
    .fetch_all(&app.pool)
    .await
    .expect("owners");
    rows.into_iter()
        .map(|s| s.map_or_else(|| "direct".to_string(), |a| a.to_string()))
        .collect()
}

#[tokio::test]
async fn the_owner_role_makes_the_user_an_owner_until_the_assignment_ends() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (adele, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (megan, _) = app.user(&t, "megan@contoso.test", json!({})).await;
    let catalog = fixtures::general_catalog(&app, &t).await;
    let group = fixtures::group(&app, &t, "Design").await;
    let (_, _, owner_role) = fixtures::group_resource(&app, &t, catalog, group).await;
    let package = fixtures::package(&app, &t, catalog, "Design owners", &[owner_role]).await;
    fixtures::policy(&app, &t, package, open_policy(json!({}))).await;
    // Megan is a direct owner already.
    let (status, body) = app
        .patch(
            &t.admin,
            &format!("/api/v1/groups/{group}"),
            json!({"ownerIds": [megan]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, req) = request(&app, &token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered", "{req}");
    let assignment = uuid_of(&req["assignmentId"]);
    assert_eq!(
        ownership(&app, group, adele).await,
        [assignment.to_string()]
    );
    let (_, a) = app
        .get(&token, &format!("/api/v1/assignments/{assignment}"))
        .await;
    assert_eq!(
        a["grants"][0]["resourceRoleId"],
        owner_role.to_string(),
        "{a}"
    );
    assert_eq!(a["grants"][0]["state"], "delivered", "{a}");
    let (status, g) = app.get(&t.admin, &format!("/api/v1/groups/{group}")).await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert!(g.to_string().contains(&adele.to_string()), "an owner: {g}");
    let members: i64 =
        sqlx::query_scalar("select count(*) from group_memberships where group_id = $1")
            .bind(group)
            .fetch_one(&app.pool)
            .await
            .expect("members");
    assert_eq!(members, 0, "owning is not membership");

    // Adele removes her access: her ownership goes, Megan's direct one stays.
    let (status, body) = app
        .post(
            &token,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": assignment}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(ownership(&app, group, adele).await.is_empty());
    assert_eq!(ownership(&app, group, megan).await, ["direct"]);
    let (_, a) = app
        .get(&token, &format!("/api/v1/assignments/{assignment}"))
        .await;
    assert_eq!(a["state"], "removed", "{a}");
    assert_eq!(a["grants"][0]["state"], "revoked", "{a}");
}
