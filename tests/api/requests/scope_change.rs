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
