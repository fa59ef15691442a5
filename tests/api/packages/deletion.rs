//! Deletion rules: open work or history keeps a package or policy; without history a
//! package goes with its policies.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{minimal_policy, package, policy, roles_in};
use crate::helpers::{TestApp, TestTenant, uuid_of};

/// Inserts a request (and, with `assignment_state`, an assignment made by it) as
/// delivery would, so deletion rules can be checked before delivery exists.
async fn seed_request(
    app: &TestApp,
    t: &TestTenant,
    package: uuid::Uuid,
    policy: uuid::Uuid,
    request_state: &str,
    assignment_state: Option<&str>,
) -> (uuid::Uuid, Option<uuid::Uuid>) {
    let request = uuid::Uuid::now_v7();
    let now = app.now();
    sqlx::query(
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id,
             target_user_id, created_at, updated_at)
         values ($1, $2, 'adminAdd', $3, $4, $5, $6, $6, $7, $7)",
    )
    .bind(t.id)
    .bind(request)
    .bind(request_state)
    .bind(package)
    .bind(policy)
    .bind(t.admin_id)
    .bind(now)
    .execute(&app.pool)
    .await
    .expect("insert request");
    let assignment = match assignment_state {
        None => None,
        Some(state) => {
            let id = uuid::Uuid::now_v7();
            sqlx::query(
                "insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at,
                     request_id, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $7, $7)",
            )
            .bind(t.id)
            .bind(id)
            .bind(package)
            .bind(policy)
            .bind(t.admin_id)
            .bind(state)
            .bind(now)
            .bind(request)
            .execute(&app.pool)
            .await
            .expect("insert assignment");
            Some(id)
        }
    };
    (request, assignment)
}

#[tokio::test]
async fn packages_and_policies_with_open_work_or_history_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let roles = roles_in(&app, &t, general, &["Reader"]).await;
    let p = uuid_of(
        &package(
            &app,
            &t,
            json!({"catalogId": general, "displayName": "P", "resourceRoleIds": [roles[0]]}),
        )
        .await["id"],
    );
    let q = uuid_of(&policy(&app, &t, p, minimal_policy()).await["id"]);
    let spare = uuid_of(&policy(&app, &t, p, minimal_policy()).await["id"]);
    let package_path = format!("/api/v1/accessPackages/{p}");
    let policy_path = format!("/api/v1/policies/{q}");
    let detail = |v: &Value| v["detail"].as_str().unwrap_or_default().to_string();

    let (request, _) = seed_request(&app, &t, p, q, "pendingApproval", None).await;
    let (status, problem) = app.delete(&t.admin, &package_path).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(detail(&problem).contains("1 open request"), "{problem}");
    let (status, problem) = app.delete(&t.admin, &policy_path).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(detail(&problem).contains("1 open request"), "{problem}");

    sqlx::query("update assignment_requests set state = 'delivered' where id = $1")
        .bind(request)
        .execute(&app.pool)
        .await
        .expect("deliver");
    let (_, assignment) = seed_request(&app, &t, p, q, "delivered", Some("delivered")).await;
    let (status, problem) = app.delete(&t.admin, &package_path).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        detail(&problem).contains("1 active assignment"),
        "{problem}"
    );

    sqlx::query("update assignments set state = 'expired' where id = $1")
        .bind(assignment)
        .execute(&app.pool)
        .await
        .expect("expire");
    let (status, problem) = app.delete(&t.admin, &policy_path).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(detail(&problem).contains("request history"), "{problem}");
    let (status, problem) = app.delete(&t.admin, &package_path).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        detail(&problem),
        "This access package has a request history; archive it (or hide it, or disable its policies) instead."
    );
    let (status, _) = app
        .patch(&t.admin, &package_path, json!({"resourceRoleIds": []}))
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "no active assignment is left to re-grant"
    );

    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/policies/{spare}"))
        .await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "a policy without history goes"
    );
    assert_eq!(
        app.audit_actions(spare).await,
        vec!["policy.created", "policy.deleted"]
    );
    let (status, _) = app
        .get(&t.admin, &format!("/api/v1/policies/{spare}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_package_without_history_is_deleted_with_its_policies() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);
    let q = uuid_of(&policy(&app, &t, p, minimal_policy()).await["id"]);
    let other = uuid_of(
        &package(
            &app,
            &t,
            json!({"catalogId": general, "displayName": "Other", "incompatiblePackageIds": [p]}),
        )
        .await["id"],
    );

    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/accessPackages/{p}"))
        .await;

    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .get(&t.admin, &format!("/api/v1/accessPackages/{p}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get(&t.admin, &format!("/api/v1/policies/{q}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, other) = app
        .get(&t.admin, &format!("/api/v1/accessPackages/{other}"))
        .await;
    assert_eq!(other["incompatiblePackageIds"], json!([]));
    assert_eq!(
        app.audit_actions(p).await,
        vec!["accessPackage.created", "accessPackage.deleted"]
    );
}
