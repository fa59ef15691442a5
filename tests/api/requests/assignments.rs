//! Delivered access over time: memberships with provenance, direct assignment and
//! removal by admins, deactivation, extension, and package role changes reaching holders.

use reqwest::StatusCode;
use serde_json::json;

use super::{people, stage};
use crate::fixtures::{self, group_package, open_policy, request, sources};
use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn ending_an_assignment_removes_only_the_membership_it_delivered() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(&app, &p.t, "Pkg", open_policy(json!({}))).await;
    // The employee was already a direct member; the other user was not.
    app.post(
        &p.t.admin,
        &format!("/api/v1/groups/{}/members", pkg.group),
        json!({"userId": p.employee.0}),
    )
    .await;
    let (_, r1) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let (_, r2) = request(&app, &p.other.1, pkg.package, json!({})).await;
    assert_eq!(sources(&app, pkg.group, p.employee.0).await.len(), 2);
    let (_, members) = app
        .get(&p.t.admin, &format!("/api/v1/groups/{}/members", pkg.group))
        .await;
    let employee = members["items"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["userId"] == p.employee.0.to_string()))
        .cloned()
        .expect("member");
    assert_eq!(employee["sources"], json!(["direct", r1["assignmentId"]]));

    for (token, r) in [(&p.employee.1, &r1), (&p.other.1, &r2)] {
        let (status, removal) = app
            .post(
                token,
                "/api/v1/assignmentRequests",
                json!({"requestType": "userRemove", "assignmentId": r["assignmentId"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{removal}");
        assert_eq!(removal["state"], "delivered");
    }

    assert_eq!(
        sources(&app, pkg.group, p.employee.0).await,
        vec!["direct"],
        "direct membership stays"
    );
    assert!(
        sources(&app, pkg.group, p.other.0).await.is_empty(),
        "delivered membership goes"
    );
    let (_, a) = app
        .get(
            &p.employee.1,
            &format!(
                "/api/v1/assignments/{}",
                r1["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(a["state"], "removed");
    assert_eq!(a["removalReason"], "user");
    assert_eq!(a["grants"][0]["state"], "revoked");
}

#[tokio::test]
async fn admins_assign_and_remove_directly_without_approval() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [stage(json!([{"type": "manager"}]))]}})),
    )
    .await;

    let (status, req) = app
        .post(&p.t.admin, "/api/v1/assignmentRequests", json!({"requestType": "adminAdd", "accessPackageId": pkg.package, "targetUserId": p.employee.0}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered");
    assert_eq!(req["requestorId"], p.t.admin_id.to_string());

    let (status, _) = app
        .post(&p.other.1, "/api/v1/assignmentRequests", json!({"requestType": "adminAdd", "accessPackageId": pkg.package, "targetUserId": p.employee.0}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "admin types need the assignment manager role"
    );

    let (status, removal) = app
        .post(&p.t.admin, "/api/v1/assignmentRequests", json!({"requestType": "adminRemove", "accessPackageId": pkg.package, "targetUserId": p.employee.0}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{removal}");
    let (_, a) = app
        .get(
            &p.t.admin,
            &format!(
                "/api/v1/assignments/{}",
                req["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(a["state"], "removed");
    assert_eq!(a["removalReason"], "admin");
    assert!(sources(&app, pkg.group, p.employee.0).await.is_empty());
}

#[tokio::test]
async fn deactivating_a_user_removes_their_assignments_and_cancels_their_requests() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let held = group_package(&app, &p.t, "Held", open_policy(json!({}))).await;
    let pending = group_package(
        &app,
        &p.t,
        "Pending",
        open_policy(json!({"approval": {"stages": [stage(json!([{"type": "manager"}]))]}})),
    )
    .await;
    let (_, r_held) = request(&app, &p.employee.1, held.package, json!({})).await;
    let (_, r_pending) = request(&app, &p.employee.1, pending.package, json!({})).await;

    let (status, _) = app
        .delete(&p.t.admin, &format!("/api/v1/users/{}", p.employee.0))
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, a) = app
        .get(
            &p.t.admin,
            &format!(
                "/api/v1/assignments/{}",
                r_held["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(a["state"], "removed");
    assert_eq!(a["removalReason"], "userDeactivated");
    assert!(sources(&app, held.group, p.employee.0).await.is_empty());
    let (_, r) = app
        .get(
            &p.t.admin,
            &format!(
                "/api/v1/assignmentRequests/{}",
                r_pending["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(r["state"], "canceled");
    let (_, history) = app
        .get(
            &p.t.admin,
            &format!(
                "/api/v1/assignmentRequests?targetUserId={}&state=delivered",
                p.employee.0
            ),
        )
        .await;
    let types: Vec<&str> = history["items"]
        .as_array()
        .map(|i| i.iter().filter_map(|r| r["requestType"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        types.contains(&"systemRemove"),
        "the removal is itself a request: {types:?}"
    );
}

#[tokio::test]
async fn extension_is_possible_only_in_the_last_fourteen_days() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(
        &app,
        &p.t,
        "Pkg",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 30}, "extension": {"allowed": true, "requireApproval": false}})),
    )
    .await;
    let (_, req) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let extend = json!({"requestType": "userUpdate", "assignmentId": req["assignmentId"]});

    let (status, problem) = app
        .post(&p.employee.1, "/api/v1/assignmentRequests", extend.clone())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("last 14 days"),
        "{problem}"
    );

    app.clock.advance(chrono::Duration::days(20));
    let (status, ext) = app
        .post(&p.employee.1, "/api/v1/assignmentRequests", extend)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ext}");
    assert_eq!(ext["state"], "delivered");
    let (_, a) = app
        .get(
            &p.employee.1,
            &format!(
                "/api/v1/assignments/{}",
                req["assignmentId"].as_str().expect("id")
            ),
        )
        .await;
    let end = chrono::DateTime::parse_from_rfc3339(a["endDateTime"].as_str().expect("end"))
        .expect("time");
    assert_eq!(
        end,
        crate::helpers::start_time() + chrono::Duration::days(60)
    );
}

#[tokio::test]
async fn a_package_role_added_or_removed_reaches_every_current_holder() {
    let app = TestApp::spawn().await;
    let p = people(&app).await;
    let pkg = group_package(&app, &p.t, "Pkg", open_policy(json!({}))).await;
    let (_, r) = request(&app, &p.employee.1, pkg.package, json!({})).await;
    let assignment = r["assignmentId"].as_str().expect("id").to_string();
    let second_group = fixtures::group(&app, &p.t, "Second").await;
    let (_, second_member, _) =
        fixtures::group_resource(&app, &p.t, pkg.catalog, second_group).await;

    let (status, body) = app
        .patch(
            &p.t.admin,
            &format!("/api/v1/accessPackages/{}", pkg.package),
            json!({"resourceRoleIds": [pkg.member_role, second_member]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sources(&app, second_group, p.employee.0).await,
        vec![assignment.clone()]
    );
    assert_eq!(
        app.audit_actions(uuid_of(&json!(assignment)))
            .await
            .iter()
            .filter(|a| *a == "assignment.rolesChanged")
            .count(),
        1
    );

    let (status, body) = app
        .patch(
            &p.t.admin,
            &format!("/api/v1/accessPackages/{}", pkg.package),
            json!({"resourceRoleIds": [second_member]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        sources(&app, pkg.group, p.employee.0).await.is_empty(),
        "removed role is revoked"
    );
    assert_eq!(sources(&app, second_group, p.employee.0).await.len(), 1);
}
