//! Who may see and change packages and policies: readers of policies, each role's part,
//! and another tenant's packages answering 404.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{catalog, error_fields, minimal_policy, package, policy, roles_in};
use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn policies_are_readable_by_whoever_may_see_their_package() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let disabled = catalog(
        &app,
        &t,
        json!({"displayName": "Disabled", "enabled": false}),
    )
    .await;
    let open = uuid_of(
        &package(
            &app,
            &t,
            json!({"catalogId": general, "displayName": "Open"}),
        )
        .await["id"],
    );
    let closed = uuid_of(
        &package(
            &app,
            &t,
            json!({"catalogId": disabled, "displayName": "Closed"}),
        )
        .await["id"],
    );
    let open_policy = policy(&app, &t, open, minimal_policy()).await;
    let closed_policy = policy(&app, &t, closed, minimal_policy()).await;
    let (_, member) = app.user(&t, "max@acme.test", json!({})).await;

    let (status, seen) = app
        .get(
            &member,
            &format!("/api/v1/policies/{}", uuid_of(&open_policy["id"])),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen, open_policy);
    let (status, list) = app
        .get(&member, &format!("/api/v1/accessPackages/{open}/policies"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([open_policy]));
    let (status, _) = app
        .get(
            &member,
            &format!("/api/v1/policies/{}", uuid_of(&closed_policy["id"])),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(
            &member,
            &format!("/api/v1/accessPackages/{closed}/policies"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .put(
            &member,
            &format!("/api/v1/policies/{}", uuid_of(&open_policy["id"])),
            open_policy.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reading is not changing");
}

#[tokio::test]
async fn another_tenants_packages_and_policies_answer_404_everywhere() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    let b_general = app.general_catalog(&b).await;
    let b_package = uuid_of(
        &package(
            &app,
            &b,
            json!({"catalogId": b_general, "displayName": "Beta only"}),
        )
        .await["id"],
    );
    let b_policy = policy(&app, &b, b_package, minimal_policy()).await;
    let b_policy_id = uuid_of(&b_policy["id"]);
    let b_role = roles_in(&app, &b, b_general, &["Reader"]).await[0];
    let a_general = app.general_catalog(&a).await;

    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            format!("/api/v1/accessPackages/{b_package}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/accessPackages/{b_package}"),
            Some(json!({"displayName": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/accessPackages/{b_package}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/accessPackages/{b_package}/policies"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/accessPackages/{b_package}/policies"),
            Some(minimal_policy()),
        ),
        (Method::GET, format!("/api/v1/policies/{b_policy_id}"), None),
        (
            Method::PUT,
            format!("/api/v1/policies/{b_policy_id}"),
            Some(b_policy.clone()),
        ),
        (
            Method::DELETE,
            format!("/api/v1/policies/{b_policy_id}"),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let (status, problem) = app.call(method.clone(), &a.admin, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
    }

    let (status, problem) = app
        .post(
            &a.admin,
            "/api/v1/accessPackages",
            json!({"catalogId": b_general, "displayName": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["catalogId"]);
    let (status, problem) = app
        .post(
            &a.admin,
            "/api/v1/accessPackages",
            json!({"catalogId": a_general, "displayName": "x", "resourceRoleIds": [b_role],
                   "incompatiblePackageIds": [b_package]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_fields(&problem),
        vec!["incompatiblePackageIds[0]", "resourceRoleIds[0]"]
    );
    let (_, list) = app.get(&a.admin, "/api/v1/accessPackages").await;
    assert_eq!(list["items"], json!([]));
    let (_, beta) = app
        .get(&b.admin, &format!("/api/v1/policies/{b_policy_id}"))
        .await;
    assert_eq!(beta, b_policy, "beta's policy is intact");
}

/// DOMAIN.md §3, role by role: which of these may each do.
#[tokio::test]
async fn each_role_may_do_exactly_what_its_part_allows() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let a = catalog(&app, &t, json!({"displayName": "Catalog A"})).await;
    let b = catalog(&app, &t, json!({"displayName": "Catalog B"})).await;
    let package_a =
        uuid_of(&package(&app, &t, json!({"catalogId": a, "displayName": "In A"})).await["id"]);
    let package_b =
        uuid_of(&package(&app, &t, json!({"catalogId": b, "displayName": "In B"})).await["id"]);

    const ACTIONS: [&str; 7] = [
        "create catalog",
        "edit catalog A",
        "add resource to A",
        "create package in A",
        "create policy in A",
        "edit package in B",
        "list resources of A",
    ];
    let matrix: [(&str, [bool; 7]); 6] = [
        ("tenantAdmin", [true, true, true, true, true, true, true]),
        (
            "catalogCreator",
            [true, false, false, false, false, false, false],
        ),
        ("catalogOwner", [false, true, true, true, true, false, true]),
        (
            "catalogReader",
            [false, false, false, false, false, false, true],
        ),
        (
            "packageManager",
            [false, false, false, true, true, false, true],
        ),
        (
            "assignmentManager",
            [false, false, false, false, false, false, true],
        ),
    ];
    let mut failures = Vec::new();
    for (role, allowed) in matrix {
        let scope = if matches!(role, "tenantAdmin" | "catalogCreator") {
            None
        } else {
            Some(a)
        };
        let (_, token) = app
            .user_with_role(
                &t,
                &format!("{}@acme.test", role.to_lowercase()),
                role,
                scope,
            )
            .await;
        for (action, expected) in ACTIONS.iter().zip(allowed) {
            let (status, body) = match *action {
                "create catalog" => {
                    app.post(
                        &token,
                        "/api/v1/catalogs",
                        json!({"displayName": format!("By {role}")}),
                    )
                    .await
                }
                "edit catalog A" => {
                    app.patch(
                        &token,
                        &format!("/api/v1/catalogs/{a}"),
                        json!({"description": role}),
                    )
                    .await
                }
                "add resource to A" => {
                    app.post(
                        &token,
                        &format!("/api/v1/catalogs/{a}/resources"),
                        json!({"kind": "custom", "displayName": role, "roles": ["User"]}),
                    )
                    .await
                }
                "create package in A" => {
                    app.post(
                        &token,
                        "/api/v1/accessPackages",
                        json!({"catalogId": a, "displayName": role}),
                    )
                    .await
                }
                "create policy in A" => {
                    app.post(
                        &token,
                        &format!("/api/v1/accessPackages/{package_a}/policies"),
                        minimal_policy(),
                    )
                    .await
                }
                "edit package in B" => {
                    app.patch(
                        &token,
                        &format!("/api/v1/accessPackages/{package_b}"),
                        json!({"description": role}),
                    )
                    .await
                }
                _ => {
                    app.get(&token, &format!("/api/v1/catalogs/{a}/resources"))
                        .await
                }
            };
            let ok = status.is_success();
            let refused = status == StatusCode::FORBIDDEN;
            if (expected && !ok) || (!expected && !refused) {
                failures.push(format!(
                    "{role} / {action}: expected {}, got {status} {body}",
                    if expected { "2xx" } else { "403" }
                ));
            }
            if refused {
                assert!(
                    body["detail"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("You may not")),
                    "{body}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
