//! Who may put a directory group into a catalog, and what delivery does with a group
//! that grants power. A catalog owner who could add any group as a resource could
//! package the group that holds `tenantAdmin`, assign it to themselves and become tenant
//! admin; so only a tenant admin or an owner of the group may add a group, only a tenant
//! admin may add a group that holds a role or approves for another catalog, and delivery
//! refuses such a group unless a tenant admin added it.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::portal::sign_in;
use crate::helpers::{TestApp, TestTenant, uuid_of};

const NOT_OWNER: &str = "Only a tenant admin or an owner of the group may add it to a catalog";
const PRIVILEGED: &str = "so only a tenant admin may add it to a catalog";

async fn group(app: &TestApp, t: &TestTenant, name: &str, owners: &[Uuid]) -> Uuid {
    let (status, g) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": name, "ownerIds": owners}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    uuid_of(&g["id"])
}

/// A role assignment held by a group (by a tenant admin).
async fn grant_to_group(app: &TestApp, t: &TestTenant, role: &str, g: Uuid, catalog: Option<Uuid>) {
    let (status, body) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            json!({"role": role, "principal": {"type": "group", "id": g}, "catalogId": catalog}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The group holding `tenantAdmin`, as most tenants have one.
async fn admins_group(app: &TestApp, t: &TestTenant) -> Uuid {
    let g = group(app, t, "Portico admins", &[]).await;
    grant_to_group(app, t, "tenantAdmin", g, None).await;
    g
}

/// A catalog created by `token` (a catalog creator becomes its owner).
async fn catalog(app: &TestApp, token: &str, name: &str) -> Uuid {
    let (status, c) = app
        .post(token, "/api/v1/catalogs", json!({"displayName": name}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    uuid_of(&c["id"])
}

async fn add_group(app: &TestApp, token: &str, catalog: Uuid, g: Uuid) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/v1/catalogs/{catalog}/resources"),
        json!({"kind": "group", "groupId": g}),
    )
    .await
}

fn member_role(resource: &Value) -> Uuid {
    let role = resource["roles"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["displayName"] == "Member"))
        .unwrap_or_else(|| panic!("a Member role in {resource}"));
    uuid_of(&role["id"])
}

/// A package of `role` with a policy nobody may request under (direct assignment
/// only), made by `token`; returns the package id.
async fn direct_package(app: &TestApp, token: &str, catalog: Uuid, role: Uuid) -> Uuid {
    let (status, p) = app
        .post(
            token,
            "/api/v1/accessPackages",
            json!({"catalogId": catalog, "displayName": "Quiet package", "resourceRoleIds": [role]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let package = uuid_of(&p["id"]);
    let (status, policy) = app
        .post(
            token,
            &format!("/api/v1/accessPackages/{package}/policies"),
            json!({"displayName": "Direct assignment", "requestors": {"scope": "none"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    package
}

/// An admin request by `token` that assigns `package` to `user` directly.
async fn assign(app: &TestApp, token: &str, package: Uuid, user: Uuid) -> Value {
    let (status, request) = app
        .post(
            token,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": package, "targetUserId": user}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    request
}

async fn roles_of(app: &TestApp, token: &str) -> Vec<String> {
    let (status, me) = app.get(token, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["role"].as_str().map(str::to_string))
        .collect()
}

async fn is_member(app: &TestApp, g: Uuid, user: Uuid) -> bool {
    !fixtures::sources(app, g, user).await.is_empty()
}

async fn resource_count(app: &TestApp, catalog: Uuid) -> i64 {
    sqlx::query_scalar("select count(*) from resources where catalog_id = $1")
        .bind(catalog)
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

fn detail(problem: &Value) -> &str {
    problem["detail"].as_str().unwrap_or_default()
}

/// The whole attack as a catalog creator would try it; returns the answer to adding
/// the group. When that is accepted the rest follows: package, policy, self-assignment.
async fn try_to_become_tenant_admin(
    app: &TestApp,
    token: &str,
    me: Uuid,
    catalog: Uuid,
    admins: Uuid,
) -> (StatusCode, Value) {
    let (status, resource) = add_group(app, token, catalog, admins).await;
    if status == StatusCode::CREATED {
        let package = direct_package(app, token, catalog, member_role(&resource)).await;
        assign(app, token, package, me).await;
    }
    (status, resource)
}

#[tokio::test]
async fn a_catalog_creator_cannot_become_tenant_admin_by_packaging_the_admins_group() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let admins = admins_group(&app, &t).await;
    let (mallory, token) = app
        .user_with_role(&t, "mallory@acme.test", "catalogCreator", None)
        .await;
    let own = catalog(&app, &token, "Mallory's tools").await;

    let (status, problem) = try_to_become_tenant_admin(&app, &token, mallory, own, admins).await;

    assert!(
        !roles_of(&app, &token)
            .await
            .contains(&"tenantAdmin".to_string()),
        "the catalog creator became tenant admin"
    );
    assert!(!is_member(&app, admins, mallory).await);
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(detail(&problem).contains(PRIVILEGED), "{problem}");
    assert_eq!(resource_count(&app, own).await, 0);
}

#[tokio::test]
async fn owning_a_group_that_holds_a_role_does_not_let_a_catalog_owner_add_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let (owner, token) = app
        .user_with_role(&t, "olive@acme.test", "catalogOwner", Some(general))
        .await;
    let readers = group(&app, &t, "Auditors", &[owner]).await;
    let other = catalog(&app, &t.admin, "Finance").await;
    grant_to_group(&app, &t, "catalogReader", readers, Some(other)).await;

    let (status, problem) = add_group(&app, &token, general, readers).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["type"], "urn:portico:problem:forbidden");
    assert!(detail(&problem).contains("holds a role"), "{problem}");
    assert!(detail(&problem).contains(PRIVILEGED), "{problem}");
    assert_eq!(resource_count(&app, general).await, 0);
}

#[tokio::test]
async fn a_catalog_creator_cannot_add_a_group_they_do_not_own() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, token) = app
        .user_with_role(&t, "cora@acme.test", "catalogCreator", None)
        .await;
    let own = catalog(&app, &token, "Cora's catalog").await;
    let someone_elses = group(&app, &t, "Sales", &[t.admin_id]).await;

    let (status, problem) = add_group(&app, &token, own, someone_elses).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(detail(&problem).contains(NOT_OWNER), "{problem}");
    assert_eq!(resource_count(&app, own).await, 0);
}

#[tokio::test]
async fn a_group_that_approves_or_reviews_for_another_catalog_is_added_only_by_a_tenant_admin() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let (owner, token) = app
        .user_with_role(&t, "olive@acme.test", "catalogCreator", None)
        .await;
    let own = catalog(&app, &token, "Olive's catalog").await;
    let approvers = group(&app, &t, "Approvers", &[owner]).await;
    let reviewers = group(&app, &t, "Reviewers", &[owner]).await;
    let local = group(&app, &t, "Local approvers", &[owner]).await;
    let package = fixtures::package(&app, &t, general, "Elsewhere", &[]).await;
    fixtures::policy(
        &app,
        &t,
        package,
        json!({"requestors": {"scope": "allMembers"},
               "approval": {"stages": [{"approvers": [{"type": "group", "id": approvers}]}]}}),
    )
    .await;
    fixtures::policy(
        &app,
        &t,
        package,
        json!({"requestors": {"scope": "allMembers"},
               "review": {"startDate": "2027-02-01T00:00:00Z", "recurrence": "quarterly", "durationDays": 14,
                          "reviewers": [{"type": "group", "id": reviewers}], "ifNoResponse": "keep"}}),
    )
    .await;
    // Approving in the owner's own catalog gives them nothing they do not have.
    let own_package = fixtures::package(&app, &t, own, "At home", &[]).await;
    fixtures::policy(
        &app,
        &t,
        own_package,
        json!({"requestors": {"scope": "allMembers"},
               "approval": {"stages": [{"approvers": [{"type": "group", "id": local}]}]}}),
    )
    .await;

    for g in [approvers, reviewers] {
        let (status, problem) = add_group(&app, &token, own, g).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        assert!(detail(&problem).contains("another catalog"), "{problem}");
        assert!(detail(&problem).contains(PRIVILEGED), "{problem}");
    }
    let (status, body) = add_group(&app, &token, own, local).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = add_group(&app, &t.admin, own, approvers).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(resource_count(&app, own).await, 2);
}

#[tokio::test]
async fn a_group_owner_adds_their_group_to_their_catalog_and_assigns_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (owner, token) = app
        .user_with_role(&t, "olive@acme.test", "catalogCreator", None)
        .await;
    let (ben, _) = app.user(&t, "ben@acme.test", json!({})).await;
    let own = catalog(&app, &token, "Olive's catalog").await;
    let testers = group(&app, &t, "Testers", &[owner]).await;

    let (status, resource) = add_group(&app, &token, own, testers).await;

    assert_eq!(status, StatusCode::CREATED, "{resource}");
    let package = direct_package(&app, &token, own, member_role(&resource)).await;
    let request = assign(&app, &token, package, ben).await;
    assert_eq!(request["state"], "delivered", "{request}");
    assert!(is_member(&app, testers, ben).await);
}

#[tokio::test]
async fn a_tenant_admin_may_package_the_admins_group_and_deliver_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let admins = admins_group(&app, &t).await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, resource) = add_group(&app, &t.admin, general, admins).await;

    assert_eq!(status, StatusCode::CREATED, "{resource}");
    let package = direct_package(&app, &t.admin, general, member_role(&resource)).await;
    let request = assign(&app, &t.admin, package, ada).await;
    assert_eq!(request["state"], "delivered", "{request}");
    assert!(
        roles_of(&app, &ada_token)
            .await
            .contains(&"tenantAdmin".to_string())
    );
}

#[tokio::test]
async fn delivery_into_a_group_that_gained_a_role_after_a_non_admin_added_it_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (owner, token) = app
        .user_with_role(&t, "olive@acme.test", "catalogCreator", None)
        .await;
    let (ben, _) = app.user(&t, "ben@acme.test", json!({})).await;
    let own = catalog(&app, &token, "Olive's catalog").await;
    let team = group(&app, &t, "Team", &[owner]).await;
    let (status, resource) = add_group(&app, &token, own, team).await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    let role = member_role(&resource);
    let package = direct_package(&app, &token, own, role).await;
    let before = assign(&app, &token, package, ben).await;
    assert_eq!(before["state"], "delivered", "{before}");
    // Later a tenant admin makes the group tenant admins.
    grant_to_group(&app, &t, "tenantAdmin", team, None).await;

    let request = assign(&app, &token, package, owner).await;

    assert_eq!(request["state"], "deliveryFailed", "{request}");
    assert!(!is_member(&app, team, owner).await);
    assert!(
        !roles_of(&app, &token)
            .await
            .contains(&"tenantAdmin".to_string())
    );
    let assignment = uuid_of(&request["assignmentId"]);
    let (status, a) = app
        .get(&t.admin, &format!("/api/v1/assignments/{assignment}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["state"], "deliveryFailed");
    assert_eq!(a["grants"][0]["state"], "failed", "{a}");
    let error = a["grants"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not added to the catalog by a tenant admin"),
        "{a}"
    );
    let request_id = uuid_of(&request["id"]);
    assert!(
        app.audit_actions(request_id)
            .await
            .contains(&"assignmentRequest.deliveryFailed".to_string())
    );
    assert!(
        app.audit_actions(assignment)
            .await
            .contains(&"assignment.grantRefused".to_string())
    );

    // Trying again changes nothing while the group holds the role.
    let (status, again) = app
        .post(
            &token,
            &format!("/api/v1/assignments/{assignment}/reprocess"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["state"], "deliveryFailed", "{again}");
    assert!(!is_member(&app, team, owner).await);
}

#[tokio::test]
async fn adding_a_group_to_a_package_refuses_delivery_to_holders_when_the_group_is_privileged() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (owner, token) = app
        .user_with_role(&t, "olive@acme.test", "catalogCreator", None)
        .await;
    let (ben, _) = app.user(&t, "ben@acme.test", json!({})).await;
    let own = catalog(&app, &token, "Olive's catalog").await;
    let first = group(&app, &t, "First", &[owner]).await;
    let second = group(&app, &t, "Second", &[owner]).await;
    let (_, r1) = add_group(&app, &token, own, first).await;
    let (_, r2) = add_group(&app, &token, own, second).await;
    let package = direct_package(&app, &token, own, member_role(&r1)).await;
    let request = assign(&app, &token, package, ben).await;
    assert_eq!(request["state"], "delivered", "{request}");
    grant_to_group(&app, &t, "catalogCreator", second, None).await;

    let (status, body) = app
        .patch(
            &token,
            &format!("/api/v1/accessPackages/{package}"),
            json!({"resourceRoleIds": [member_role(&r1), member_role(&r2)]}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(is_member(&app, first, ben).await);
    assert!(!is_member(&app, second, ben).await);
    let (_, a) = app
        .get(
            &t.admin,
            &format!("/api/v1/assignments/{}", uuid_of(&request["assignmentId"])),
        )
        .await;
    assert_eq!(a["state"], "partiallyDelivered", "{a}");
}

#[tokio::test]
async fn the_admin_portal_refuses_a_catalog_owner_adding_the_admins_group() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let admins = admins_group(&app, &t).await;
    let (_, token) = app
        .user_with_role(&t, "mallory@acme.test", "catalogCreator", None)
        .await;
    let own = catalog(&app, &token, "Mallory's tools").await;
    let b = sign_in(&app, "acme", "mallory@acme.test").await;

    let answer = b
        .post(
            &format!("/admin/catalogs/{own}/resources"),
            &[("kind", "group"), ("groupId", &admins.to_string())],
        )
        .await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(answer.body.contains(PRIVILEGED), "{}", answer.body);
    assert_eq!(resource_count(&app, own).await, 0);
}

#[tokio::test]
async fn the_admin_portal_refuses_a_catalog_creator_adding_a_group_they_do_not_own() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, token) = app
        .user_with_role(&t, "cora@acme.test", "catalogCreator", None)
        .await;
    let own = catalog(&app, &token, "Cora's catalog").await;
    let sales = group(&app, &t, "Sales", &[]).await;
    let b = sign_in(&app, "acme", "cora@acme.test").await;

    let answer = b
        .post(
            &format!("/admin/catalogs/{own}/resources"),
            &[("kind", "group"), ("groupId", &sales.to_string())],
        )
        .await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(answer.body.contains(NOT_OWNER), "{}", answer.body);
    assert_eq!(resource_count(&app, own).await, 0);
}

/// The statement of the migration that vouches for resources added before the column.
fn backfill_statement() -> &'static str {
    let sql = include_str!("../../migrations/20261202000101_resources_added_by_tenant_admin.sql");
    let start = sql
        .find("update resources")
        .expect("the backfill statement");
    let end = start + sql[start..].find(';').expect("its end");
    &sql[start..end]
}

async fn vouched(app: &TestApp, resource: &Value) -> bool {
    sqlx::query_scalar("select added_by_tenant_admin from resources where id = $1")
        .bind(uuid_of(&resource["id"]))
        .fetch_one(&app.pool)
        .await
        .expect("resource")
}

#[tokio::test]
async fn the_upgrade_vouches_only_for_resources_that_tenant_admins_added() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let admins = admins_group(&app, &t).await;
    // A tenant admin through direct membership of the admins' group.
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let (status, body) = app
        .post(
            &t.admin,
            &format!("/api/v1/groups/{admins}/members"),
            json!({"userId": ada}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    // A catalog creator who became tenant admin only through an access package.
    let (mallory, mallory_token) = app
        .user_with_role(&t, "mallory@acme.test", "catalogCreator", None)
        .await;
    let own = catalog(&app, &mallory_token, "Mallory's tools").await;
    let loot = group(&app, &t, "Loot", &[mallory]).await;
    let (_, by_mallory) = add_group(&app, &mallory_token, own, loot).await;
    let (_, admins_resource) = add_group(&app, &t.admin, general, admins).await;
    let package = direct_package(&app, &t.admin, general, member_role(&admins_resource)).await;
    assign(&app, &t.admin, package, mallory).await;
    assert!(
        roles_of(&app, &mallory_token)
            .await
            .contains(&"tenantAdmin".to_string())
    );
    let by_ada = app
        .post(
            &ada_token,
            &format!("/api/v1/catalogs/{own}/resources"),
            json!({"kind": "group", "groupId": group(&app, &t, "Ops", &[]).await}),
        )
        .await
        .1;
    let by_admin = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{general}/resources"),
            json!({"kind": "application", "displayName": "Payroll", "roles": ["User"]}),
        )
        .await
        .1;
    sqlx::query("update resources set added_by_tenant_admin = false")
        .execute(&app.pool)
        .await
        .expect("reset");

    sqlx::query(sqlx::AssertSqlSafe(backfill_statement()))
        .execute(&app.pool)
        .await
        .expect("backfill");

    assert!(vouched(&app, &by_admin).await);
    assert!(vouched(&app, &by_ada).await);
    assert!(vouched(&app, &admins_resource).await);
    assert!(
        !vouched(&app, &by_mallory).await,
        "admin only through an access package"
    );
}
