//! Removal reasons mean something: a policy change that leaves a holder outside its
//! scope of requestors removes their access (reason `policyChanged`) when the policy's
//! `removeWhenOutOfScope` switch is on, and only then; access an admin assigned
//! directly is kept.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::people;
use crate::fixtures::{group_package, request};
use crate::helpers::{TestApp, uuid_of};
use crate::lifecycle::emails;

async fn assignment(app: &TestApp, token: &str, id: &Value) -> Value {
    let (status, a) = app
        .get(token, &format!("/api/v1/assignments/{}", uuid_of(id)))
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    a
}

#[tokio::test]
async fn narrowing_a_policys_scope_removes_the_access_of_requestors_it_leaves_out() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let named = |ids: &[uuid::Uuid]| json!({"scope": "specific", "principals": ids.iter().map(|id| json!({"type": "user", "id": id})).collect::<Vec<_>>()});
    let mut requestors = named(&[p.employee.0, p.other.0]);
    requestors["removeWhenOutOfScope"] = json!(true);
    let strict = group_package(&app, &p.t, "Strict", json!({"requestors": requestors})).await;
    let lenient = group_package(
        &app,
        &p.t,
        "Lenient",
        json!({"requestors": named(&[p.employee.0, p.other.0])}),
    )
    .await;
    let mut held = Vec::new();
    for pkg in [&strict, &lenient] {
        let (status, r) = request(&app, &p.employee.1, pkg.package, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        held.push(r["assignmentId"].clone());
    }
    let (status, alex) = request(&app, &p.other.1, strict.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{alex}");
    // An admin assigns Megan directly: out of scope, but not a requestor's access.
    let (status, megan) = app
        .post(
            &p.t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": strict.package, "policyId": strict.policy, "targetUserId": p.manager.0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{megan}");

    // Both policies drop Adele.
    for pkg in [&strict, &lenient] {
        let path = format!("/api/v1/policies/{}", pkg.policy);
        let (_, mut body) = app.get(&p.t.admin, &path).await;
        body["requestors"]["principals"] = json!([{"type": "user", "id": p.other.0}]);
        let (status, put) = app.put(&p.t.admin, &path, body).await;
        assert_eq!(status, StatusCode::OK, "{put}");
    }

    let gone = assignment(&app, &p.t.admin, &held[0]).await;
    assert_eq!(gone["state"], "removed", "{gone}");
    assert_eq!(gone["removalReason"], "policyChanged");
    assert_eq!(
        assignment(&app, &p.t.admin, &held[1]).await["state"],
        "delivered",
        "without the switch the access stays"
    );
    assert_eq!(
        assignment(&app, &p.t.admin, &alex["assignmentId"]).await["state"],
        "delivered"
    );
    assert_eq!(
        assignment(&app, &p.t.admin, &megan["assignmentId"]).await["state"],
        "delivered",
        "an admin's direct assignment stays"
    );
    assert!(
        crate::fixtures::sources(&app, strict.group, p.employee.0)
            .await
            .is_empty()
    );
    assert_eq!(emails(&app, p.employee.0, "accessEnded").await.len(), 1);
    let updated: Value = sqlx::query_scalar(
        "select details from audit_events where action = 'policy.updated' and target_id = $1",
    )
    .bind(strict.policy)
    .fetch_one(&app.pool)
    .await
    .expect("audit");
    assert_eq!(updated["assignmentsRemoved"], json!([held[0]]));
}

async fn add_member(app: &TestApp, token: &str, group: uuid::Uuid, user: uuid::Uuid) {
    let (status, body) = app
        .post(
            token,
            &format!("/api/v1/groups/{group}/members"),
            json!({"userId": user}),
        )
        .await;
    assert!(status.is_success(), "{body}");
}

fn by_groups(groups: &[uuid::Uuid], switch: bool) -> Value {
    json!({"requestors": {"scope": "specific", "removeWhenOutOfScope": switch,
        "principals": groups.iter().map(|g| json!({"type": "group", "id": g})).collect::<Vec<_>>()}})
}

#[tokio::test]
async fn leaving_a_group_the_policy_names_removes_the_access_requested_through_it() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let sales = crate::fixtures::group(&app, &p.t, "Sales").await;
    let emea = crate::fixtures::group(&app, &p.t, "EMEA").await;
    for (g, u) in [(sales, p.employee.0), (sales, p.other.0), (emea, p.other.0)] {
        add_member(&app, &p.t.admin, g, u).await;
    }
    let strict = group_package(&app, &p.t, "Strict", by_groups(&[sales, emea], true)).await;
    let lenient = group_package(&app, &p.t, "Lenient", by_groups(&[sales], false)).await;
    let mut held = Vec::new();
    for pkg in [&strict, &lenient] {
        let (status, r) = request(&app, &p.employee.1, pkg.package, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        held.push(r["assignmentId"].clone());
    }
    let (status, alex) = request(&app, &p.other.1, strict.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{alex}");

    // Both leave Sales; Alex is still in EMEA, which the strict policy names too.
    for u in [p.employee.0, p.other.0] {
        let (status, _) = app
            .delete(&p.t.admin, &format!("/api/v1/groups/{sales}/members/{u}"))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }

    let gone = assignment(&app, &p.t.admin, &held[0]).await;
    assert_eq!(gone["state"], "removed", "{gone}");
    assert_eq!(gone["removalReason"], "outOfScope");
    assert_eq!(
        assignment(&app, &p.t.admin, &held[1]).await["state"],
        "delivered",
        "without the switch the access stays"
    );
    assert_eq!(
        assignment(&app, &p.t.admin, &alex["assignmentId"]).await["state"],
        "delivered",
        "still in scope through another group"
    );
    assert!(
        crate::fixtures::sources(&app, strict.group, p.employee.0)
            .await
            .is_empty(),
        "the delivered membership is revoked"
    );
    assert_eq!(emails(&app, p.employee.0, "accessEnded").await.len(), 1);
    let removed: Value = sqlx::query_scalar(
        "select details from audit_events where action = 'group.memberRemoved' and target_id = $1
         and details ->> 'userId' = $2",
    )
    .bind(sales)
    .bind(p.employee.0.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("audit");
    assert_eq!(removed["assignmentsRemoved"], json!([held[0]]));
}

#[tokio::test]
async fn the_directory_removing_a_member_or_making_them_a_guest_ends_access_out_of_scope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let s = crate::scim::scim(&app, &t).await;
    let ada = s.user("ada@acme.test", json!({})).await;
    let bob = s.user("bob@acme.test", json!({})).await;
    let (status, g) = s
        .post(
            "/Groups",
            json!({"schemas": [crate::scim::GROUP], "displayName": "Engineering",
                   "members": [{"value": ada}, {"value": bob}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let engineering = uuid::Uuid::parse_str(g["id"].as_str().expect("id")).expect("uuid");
    let by_group = group_package(&app, &t, "Build", by_groups(&[engineering], true)).await;
    let members = json!({"requestors": {"scope": "allMembers", "removeWhenOutOfScope": true}});
    let staff = group_package(&app, &t, "Intranet", members).await;
    let ada_token = app.token("acme", "ada@acme.test").await;
    let bob_token = app.token("acme", "bob@acme.test").await;
    let (status, a1) = request(&app, &ada_token, by_group.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{a1}");
    let (status, b1) = request(&app, &bob_token, staff.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{b1}");

    // Entra's way: PATCH remove of one member.
    let (status, body) = s
        .patch(
            &format!("/Groups/{engineering}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let gone = assignment(&app, &t.admin, &a1["assignmentId"]).await;
    assert_eq!(gone["state"], "removed", "{gone}");
    assert_eq!(gone["removalReason"], "outOfScope");

    // Bob becomes a guest: "all members" no longer includes him.
    let (status, body) = s
        .patch(
            &format!("/Users/{bob}"),
            json!([{"op": "replace", "path": "userType", "value": "Guest"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let gone = assignment(&app, &t.admin, &b1["assignmentId"]).await;
    assert_eq!(gone["state"], "removed", "{gone}");
    assert_eq!(gone["removalReason"], "outOfScope");
}
