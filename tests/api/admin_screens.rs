//! Admin screens for removing and fixing things: deleting or archiving packages,
//! deleting policies and catalogs, canceling a request, the package's My Access link,
//! and reprocessing failed deliveries; with a refusal test for each who may not.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::portal::{setup, sign_in};
use crate::helpers::{TestApp, TestTenant};

/// A canceled request of `package` under `policy`: history, but no open work.
async fn seed_history(app: &TestApp, t: &TestTenant, package: Uuid, policy: Uuid) {
    sqlx::query(
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id,
             target_user_id, created_at, updated_at)
         values ($1, $2, 'adminAdd', 'canceled', $3, $4, $5, $5, $6, $6)",
    )
    .bind(t.id)
    .bind(Uuid::now_v7())
    .bind(package)
    .bind(policy)
    .bind(t.admin_id)
    .bind(app.now())
    .execute(&app.pool)
    .await
    .expect("insert request");
}

#[tokio::test]
async fn a_package_nobody_used_is_deleted_after_a_confirmation() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let p = fixtures::package(&app, &s.t, s.general, "Unused", &[s.member_role]).await;
    fixtures::policy(&app, &s.t, p, fixtures::open_policy(json!({}))).await;

    let page = s.b.get(&format!("/admin/packages/{p}")).await;
    assert!(page.body.contains(&format!("/admin/packages/{p}/remove")));
    let confirm = s.b.get(&format!("/admin/packages/{p}/remove")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.body.contains("Delete access package"),
        "{}",
        confirm.body
    );
    assert!(!confirm.body.contains("Archive access package"));
    assert_eq!(
        app.get(&s.t.admin, &format!("/api/v1/accessPackages/{p}"))
            .await
            .0,
        StatusCode::OK,
        "a GET of the confirmation changes nothing"
    );

    let deleted = s.b.post(&format!("/admin/packages/{p}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    let (status, _) = app
        .get(&s.t.admin, &format!("/api/v1/accessPackages/{p}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.audit_actions(p).await,
        vec!["accessPackage.deleted"],
        "the fixture inserts without audit; the deletion is audited"
    );
}

#[tokio::test]
async fn a_package_with_history_is_archived_hidden_read_only_and_no_longer_requestable() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let p = fixtures::package(&app, &s.t, s.general, "Old project", &[s.member_role]).await;
    let q = fixtures::policy(&app, &s.t, p, fixtures::open_policy(json!({}))).await;
    seed_history(&app, &s.t, p, q).await;
    let (ada_id, ada_token) = app
        .user(&s.t, "ada@acme.test", json!({"displayName": "Ada"}))
        .await;
    let ada = sign_in(&app, "acme", "ada@acme.test").await;
    assert!(ada.get("/packages").await.body.contains("Old project"));

    let (status, problem) = app
        .delete(&s.t.admin, &format!("/api/v1/accessPackages/{p}"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("archive it"),
        "{problem}"
    );
    let confirm = s.b.get(&format!("/admin/packages/{p}/remove")).await;
    assert!(
        confirm.body.contains("Archive access package"),
        "{}",
        confirm.body
    );
    assert!(!confirm.body.contains("Delete access package"));

    let archived = s.b.post(&format!("/admin/packages/{p}/archive"), &[]).await;
    assert_eq!(archived.status, StatusCode::SEE_OTHER, "{}", archived.body);

    // Kept, readable by its id, and marked.
    let (status, body) = app
        .get(&s.t.admin, &format!("/api/v1/accessPackages/{p}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["archivedAt"].is_string(), "{body}");
    let page = s.b.get(&format!("/admin/packages/{p}")).await;
    assert!(page.body.contains("Archived on"));
    assert!(!page.body.contains(&format!("/admin/packages/{p}/edit")));
    // Listed nowhere but in the archive.
    assert!(
        !s.b.get("/admin/packages")
            .await
            .body
            .contains("Old project")
    );
    assert!(
        s.b.get("/admin/packages?archived=1")
            .await
            .body
            .contains("Old project")
    );
    let (_, list) = app.get(&s.t.admin, "/api/v1/accessPackages").await;
    assert!(!list.to_string().contains("Old project"), "{list}");
    assert!(!ada.get("/packages").await.body.contains("Old project"));
    assert_eq!(
        ada.get(&format!("/packages/{p}")).await.status,
        StatusCode::NOT_FOUND
    );
    // Read-only, and neither requested nor assigned: each refusal names the archiving.
    let archived = |what: &str, (status, problem): (StatusCode, serde_json::Value)| {
        assert_eq!(status, StatusCode::CONFLICT, "{what}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("archived"),
            "{what}: {problem}"
        );
    };
    archived(
        "edit",
        app.patch(
            &s.t.admin,
            &format!("/api/v1/accessPackages/{p}"),
            json!({"description": "x"}),
        )
        .await,
    );
    archived(
        "new policy",
        app.post(
            &s.t.admin,
            &format!("/api/v1/accessPackages/{p}/policies"),
            fixtures::open_policy(json!({})),
        )
        .await,
    );
    archived(
        "policy change",
        app.put(
            &s.t.admin,
            &format!("/api/v1/policies/{q}"),
            fixtures::open_policy(json!({})),
        )
        .await,
    );
    archived(
        "request",
        fixtures::request(&app, &ada_token, p, json!({})).await,
    );
    archived(
        "admin assignment",
        app.post(
            &s.t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": p, "targetUserId": ada_id}),
        )
        .await,
    );
    let assignments = s.b.get(&format!("/admin/packages/{p}/assignments")).await;
    assert!(
        !assignments.body.contains("name=\"email\""),
        "no form to assign it"
    );
    let assigned =
        s.b.post(
            &format!("/admin/packages/{p}/assignments"),
            &[("email", "ada@acme.test")],
        )
        .await;
    assert_eq!(assigned.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Archiving is final and said once.
    let (status, _) = app
        .post(
            &s.t.admin,
            &format!("/api/v1/accessPackages/{p}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.audit_actions(p).await, vec!["accessPackage.archived"]);
}

#[tokio::test]
async fn open_work_keeps_a_package_from_being_archived_or_deleted() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let gp = fixtures::group_package(
        &app,
        &s.t,
        "Busy",
        fixtures::open_policy(json!({"approval": {"stages": [
            {"approvers": [{"type": "user", "id": s.t.admin_id}]}
        ]}})),
    )
    .await;
    let (_, ada_token) = app.user(&s.t, "ada@acme.test", json!({})).await;
    let (status, _) = fixtures::request(&app, &ada_token, gp.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);

    let confirm =
        s.b.get(&format!("/admin/packages/{}/remove", gp.package))
            .await;
    assert!(
        confirm.body.contains("cannot be removed now"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("1 open request"));
    let archived =
        s.b.post(&format!("/admin/packages/{}/archive", gp.package), &[])
            .await;
    assert_eq!(archived.status, StatusCode::CONFLICT);
    let (status, problem) = app
        .post(
            &s.t.admin,
            &format!("/api/v1/accessPackages/{}/archive", gp.package),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("1 open request")
    );
}

#[tokio::test]
async fn only_who_manages_a_packages_catalog_may_archive_or_delete_it() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let p = fixtures::package(&app, &s.t, s.general, "Guarded", &[]).await;
    let q = fixtures::policy(&app, &s.t, p, fixtures::open_policy(json!({}))).await;
    seed_history(&app, &s.t, p, q).await;
    // A member: refused in the API; a catalog reader: refused in the admin portal.
    let (_, member) = app.user(&s.t, "ada@acme.test", json!({})).await;
    let (status, _) = app
        .post(
            &member,
            &format!("/api/v1/accessPackages/{p}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.user_with_role(&s.t, "reader@acme.test", "catalogReader", Some(s.general))
        .await;
    let reader = sign_in(&app, "acme", "reader@acme.test").await;
    assert!(
        !reader
            .get(&format!("/admin/packages/{p}"))
            .await
            .body
            .contains("/remove")
    );
    assert_eq!(
        reader
            .get(&format!("/admin/packages/{p}/remove"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        reader
            .post(&format!("/admin/packages/{p}/archive"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        reader
            .post(&format!("/admin/packages/{p}/delete"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Another tenant's admin: as if it did not exist.
    let other = app.tenant("globex").await;
    let (status, _) = app
        .post(
            &other.admin,
            &format!("/api/v1/accessPackages/{p}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let globex = sign_in(&app, "globex", &other.admin_email).await;
    assert_eq!(
        globex
            .post(&format!("/admin/packages/{p}/archive"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let (_, body) = app
        .get(&s.t.admin, &format!("/api/v1/accessPackages/{p}"))
        .await;
    assert!(body.get("archivedAt").is_none(), "{body}");
}

#[tokio::test]
async fn policies_and_catalogs_are_deleted_from_the_admin_portal_unless_something_keeps_them() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let p = fixtures::package(&app, &s.t, s.general, "With policies", &[]).await;
    let spare = fixtures::policy(&app, &s.t, p, fixtures::open_policy(json!({}))).await;
    let used = fixtures::policy(&app, &s.t, p, fixtures::open_policy(json!({}))).await;
    seed_history(&app, &s.t, p, used).await;

    let confirm =
        s.b.get(&format!("/admin/packages/{p}/policies/{spare}/delete"))
            .await;
    assert!(confirm.body.contains("Delete policy"), "{}", confirm.body);
    let done =
        s.b.post(&format!("/admin/packages/{p}/policies/{spare}/delete"), &[])
            .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        app.get(&s.t.admin, &format!("/api/v1/policies/{spare}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let kept =
        s.b.post(&format!("/admin/packages/{p}/policies/{used}/delete"), &[])
            .await;
    assert_eq!(kept.status, StatusCode::CONFLICT);
    assert!(kept.body.contains("request history"), "{}", kept.body);
    // A policy named under another package's path is not found.
    let other = fixtures::package(&app, &s.t, s.general, "Other", &[]).await;
    let wrong =
        s.b.post(
            &format!("/admin/packages/{other}/policies/{used}/delete"),
            &[],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);

    // A catalog with packages stays; an empty one goes.
    let kept =
        s.b.post(&format!("/admin/catalogs/{}/delete", s.general), &[])
            .await;
    assert_eq!(kept.status, StatusCode::CONFLICT);
    assert!(kept.body.contains("access package"), "{}", kept.body);
    let (_, catalog) = app
        .post(
            &s.t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "Scratch"}),
        )
        .await;
    let c = catalog["id"].as_str().expect("id");
    let confirm = s.b.get(&format!("/admin/catalogs/{c}/delete")).await;
    assert!(confirm.body.contains("Delete catalog"), "{}", confirm.body);
    let (_, member) = app.user(&s.t, "ada@acme.test", json!({})).await;
    drop(member);
    let ada = sign_in(&app, "acme", "ada@acme.test").await;
    assert_eq!(
        ada.post(&format!("/admin/catalogs/{c}/delete"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let done = s.b.post(&format!("/admin/catalogs/{c}/delete"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        app.get(&s.t.admin, &format!("/api/v1/catalogs/{c}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_admin_cancels_an_open_request_after_a_confirmation() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let gp = fixtures::group_package(
        &app,
        &s.t,
        "Beta",
        fixtures::open_policy(json!({"approval": {"stages": [
            {"approvers": [{"type": "user", "id": s.t.admin_id}]}
        ]}})),
    )
    .await;
    let (_, ada_token) = app
        .user(
            &s.t,
            "ada@acme.test",
            json!({"displayName": "Ada Lovelace"}),
        )
        .await;
    let (_, request) = fixtures::request(&app, &ada_token, gp.package, json!({})).await;
    let rid = request["id"].as_str().expect("id");

    // A catalog reader sees the request but may not cancel it.
    app.user_with_role(&s.t, "reader@acme.test", "catalogReader", Some(gp.catalog))
        .await;
    let reader = sign_in(&app, "acme", "reader@acme.test").await;
    let page = reader.get(&format!("/admin/requests/{rid}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Cancel request"));
    assert!(
        reader
            .get(&format!("/admin/requests/{rid}/cancel"))
            .await
            .body
            .contains("cannot be canceled")
    );
    assert_eq!(
        reader
            .post(&format!("/admin/requests/{rid}/cancel"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Another tenant's admin: not found.
    let other = app.tenant("globex").await;
    let globex = sign_in(&app, "globex", &other.admin_email).await;
    assert_eq!(
        globex
            .post(&format!("/admin/requests/{rid}/cancel"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let page = s.b.get(&format!("/admin/requests/{rid}")).await;
    assert!(page.body.contains(&format!("/admin/requests/{rid}/cancel")));
    let confirm = s.b.get(&format!("/admin/requests/{rid}/cancel")).await;
    assert!(confirm.body.contains("Ada Lovelace"), "{}", confirm.body);
    let (_, still) = app
        .get(&s.t.admin, &format!("/api/v1/assignmentRequests/{rid}"))
        .await;
    assert_eq!(
        still["state"], "pendingApproval",
        "the confirmation page changes nothing"
    );
    let canceled =
        s.b.post(&format!("/admin/requests/{rid}/cancel"), &[])
            .await;
    assert_eq!(canceled.status, StatusCode::SEE_OTHER, "{}", canceled.body);
    let (_, after) = app
        .get(&s.t.admin, &format!("/api/v1/assignmentRequests/{rid}"))
        .await;
    assert_eq!(after["state"], "canceled");
    let page = s.b.get(&format!("/admin/requests/{rid}")).await;
    assert!(!page.body.contains("Cancel request…"));
    let again =
        s.b.post(&format!("/admin/requests/{rid}/cancel"), &[])
            .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_package_page_shows_its_my_access_link() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let p = fixtures::package(&app, &s.t, s.general, "Shared", &[s.member_role]).await;
    let page = s.b.get(&format!("/admin/packages/{p}")).await;
    let link = format!("/t/acme/packages/{p}");
    assert!(page.body.contains(&link), "{}", page.body);
    assert!(page.body.contains("No policy takes requests yet"));
    fixtures::policy(&app, &s.t, p, fixtures::open_policy(json!({}))).await;
    let page = s.b.get(&format!("/admin/packages/{p}")).await;
    assert!(!page.body.contains("No policy takes requests yet"));
    // The link leads a member to the package in My Access.
    app.user(&s.t, "ada@acme.test", json!({})).await;
    let ada = sign_in(&app, "acme", "ada@acme.test").await;
    let opened = ada.get(&format!("/packages/{p}")).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(opened.body.contains("Shared"));
}

/// A failed outbox row of tenant `t`.
async fn failed_row(app: &TestApp, t: &TestTenant, kind: &str, payload: serde_json::Value) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into outbox (tenant_id, id, kind, payload, state, attempts, next_attempt_at, last_error, created_at, completed_at)
         values ($1, $2, $3, $4, 'failed', 7, $5, 'target answered 503', $5, $5)",
    )
    .bind(t.id)
    .bind(id)
    .bind(kind)
    .bind(payload)
    .bind(app.now())
    .execute(&app.pool)
    .await
    .expect("outbox row");
    id
}

async fn outbox_state(app: &TestApp, id: Uuid) -> (String, i32) {
    sqlx::query_as("select state, attempts from outbox where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("state")
}

#[tokio::test]
async fn tenant_admins_see_failed_deliveries_and_reprocess_them() {
    // No scheduler: what a reprocess leaves is looked at before anything sends it.
    let app = TestApp::spawn_with_settings(&[("PORTICO_SCHEDULER_ENABLED", "false")]).await;
    let s = setup(&app).await;
    let (ada, _) = app
        .user(
            &s.t,
            "ada@acme.test",
            json!({"displayName": "Ada Lovelace"}),
        )
        .await;
    let mail = failed_row(
        &app,
        &s.t,
        "email",
        json!({"to": ada, "notice": {"template": "accessEnded", "assignmentId": Uuid::now_v7()}}),
    )
    .await;
    let dead_link = failed_row(
        &app,
        &s.t,
        "email",
        json!({"to": ada, "notice": {"template": "signInLink"}}),
    )
    .await;

    let page = s.b.get("/admin/outbox").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("target answered 503"));
    assert!(page.body.contains("Ada Lovelace"));
    assert!(
        page.body
            .contains(&format!("/admin/outbox/{mail}/reprocess"))
    );
    assert!(s.b.get("/admin").await.body.contains("/admin/outbox"));

    // Refused: a member, a catalog owner, another tenant's admin.
    let member = sign_in(&app, "acme", "ada@acme.test").await;
    assert_eq!(
        member.get("/admin/outbox").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        member
            .post(&format!("/admin/outbox/{mail}/reprocess"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    app.user_with_role(&s.t, "owner@acme.test", "catalogOwner", Some(s.general))
        .await;
    let owner = sign_in(&app, "acme", "owner@acme.test").await;
    assert_eq!(
        owner.get("/admin/outbox").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        owner
            .post(&format!("/admin/outbox/{mail}/reprocess"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let other = app.tenant("globex").await;
    let globex = sign_in(&app, "globex", &other.admin_email).await;
    assert_eq!(
        globex
            .post(&format!("/admin/outbox/{mail}/reprocess"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !globex
            .get("/admin/outbox")
            .await
            .body
            .contains("target answered 503")
    );
    assert_eq!(outbox_state(&app, mail).await, ("failed".to_string(), 7));

    let done =
        s.b.post(&format!("/admin/outbox/{mail}/reprocess"), &[])
            .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(outbox_state(&app, mail).await, ("pending".to_string(), 0));
    assert_eq!(
        app.audit_actions(mail).await,
        vec!["outboxItem.reprocessed"]
    );
    let sent = failed_row(
        &app,
        &s.t,
        "email",
        json!({"to": ada, "notice": {"template": "accessEnded"}}),
    )
    .await;
    sqlx::query("update outbox set state = 'done' where id = $1")
        .bind(sent)
        .execute(&app.pool)
        .await
        .expect("done");
    let again =
        s.b.post(&format!("/admin/outbox/{sent}/reprocess"), &[])
            .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "only failed rows are reprocessed"
    );

    let refused =
        s.b.post(&format!("/admin/outbox/{dead_link}/reprocess"), &[])
            .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("one-time link"), "{}", refused.body);
    assert_eq!(outbox_state(&app, dead_link).await.0, "failed");
}

#[tokio::test]
async fn reprocessing_a_failed_connector_call_puts_its_grant_back_on_its_way() {
    // No scheduler: what a reprocess leaves is looked at before anything sends it.
    let app = TestApp::spawn_with_settings(&[("PORTICO_SCHEDULER_ENABLED", "false")]).await;
    let s = setup(&app).await;
    let (ada, _) = app.user(&s.t, "ada@acme.test", json!({})).await;
    let p = fixtures::package(&app, &s.t, s.general, "Tool", &[s.member_role]).await;
    let q = fixtures::policy(&app, &s.t, p, fixtures::open_policy(json!({}))).await;
    let assignment = Uuid::now_v7();
    let request = Uuid::now_v7();
    sqlx::query(
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id,
             target_user_id, created_at, updated_at)
         values ($1, $2, 'adminAdd', 'deliveryFailed', $3, $4, $5, $6, $7, $7)",
    )
    .bind(s.t.id)
    .bind(request)
    .bind(p)
    .bind(q)
    .bind(s.t.admin_id)
    .bind(ada)
    .bind(app.now())
    .execute(&app.pool)
    .await
    .expect("request");
    sqlx::query(
        "insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, request_id,
             created_at, updated_at)
         values ($1, $2, $3, $4, $5, 'deliveryFailed', $6, $7, $6, $6)",
    )
    .bind(s.t.id)
    .bind(assignment)
    .bind(p)
    .bind(q)
    .bind(ada)
    .bind(app.now())
    .bind(request)
    .execute(&app.pool)
    .await
    .expect("assignment");
    sqlx::query(
        "insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, error, updated_at)
         values ($1, $2, $3, 'failed', 'target answered 503', $4)",
    )
    .bind(s.t.id)
    .bind(assignment)
    .bind(s.member_role)
    .bind(app.now())
    .execute(&app.pool)
    .await
    .expect("grant");
    let call = failed_row(
        &app,
        &s.t,
        "webhook",
        json!({"type": "grant", "assignmentId": assignment, "resourceRoleId": s.member_role,
               "resourceId": Uuid::now_v7(), "userId": ada, "occurredAt": app.now()}),
    )
    .await;

    let done =
        s.b.post(&format!("/admin/outbox/{call}/reprocess"), &[])
            .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(outbox_state(&app, call).await.0, "pending");
    let (grant, state): (String, String) = sqlx::query_as(
        "select g.state, a.state from assignment_grants g join assignments a on a.tenant_id = g.tenant_id and a.id = g.assignment_id
         where g.assignment_id = $1",
    )
    .bind(assignment)
    .fetch_one(&app.pool)
    .await
    .expect("grant state");
    assert_eq!(grant, "pending");
    assert_eq!(state, "delivering");
}

#[tokio::test]
async fn tenant_admins_change_the_tenant_settings_in_the_admin_portal() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let page = s.b.get("/admin/settings").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(s.b.get("/admin").await.body.contains("/admin/settings"));

    let invalid =
        s.b.post(
            "/admin/settings",
            &[("displayName", "Acme Corp"), ("replyTo", "not an address")],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        invalid.body.contains("Acme Corp"),
        "the form keeps what was typed"
    );
    let saved =
        s.b.post(
            "/admin/settings",
            &[
                ("displayName", "Acme Corp"),
                ("replyTo", "help@acme.test"),
                ("approvalLinksRequireSignIn", "true"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, tenant) = app.get(&s.t.admin, "/api/v1/tenant").await;
    assert_eq!(tenant["displayName"], "Acme Corp");
    assert_eq!(tenant["replyTo"], "help@acme.test");
    assert_eq!(tenant["approvalLinksRequireSignIn"], true);
    assert_eq!(
        app.audit_actions(s.t.id).await.last().map(String::as_str),
        Some("tenant.updated")
    );

    // Refused: a catalog owner; another tenant's admin changes only their own tenant.
    app.user_with_role(&s.t, "owner@acme.test", "catalogOwner", Some(s.general))
        .await;
    let owner = sign_in(&app, "acme", "owner@acme.test").await;
    assert_eq!(
        owner.get("/admin/settings").await.status,
        StatusCode::FORBIDDEN
    );
    let refused = owner
        .post("/admin/settings", &[("displayName", "Owned")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let other = app.tenant("globex").await;
    let globex = sign_in(&app, "globex", &other.admin_email).await;
    let theirs = globex
        .post("/admin/settings", &[("displayName", "Globex Inc")])
        .await;
    assert_eq!(theirs.status, StatusCode::SEE_OTHER);
    let (_, tenant) = app.get(&s.t.admin, "/api/v1/tenant").await;
    assert_eq!(tenant["displayName"], "Acme Corp");
}

#[tokio::test]
async fn tenant_admins_grant_and_revoke_tenant_roles_but_never_the_last_admin() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let (ada, _) = app
        .user(
            &s.t,
            "ada@acme.test",
            json!({"displayName": "Ada Lovelace"}),
        )
        .await;
    let page = s.b.get("/admin/roles").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&s.t.admin_email));

    let unknown =
        s.b.post(
            "/admin/roles",
            &[("role", "tenantAdmin"), ("principal", "ghost@acme.test")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let catalog_role =
        s.b.post(
            "/admin/roles",
            &[("role", "catalogOwner"), ("principal", "ada@acme.test")],
        )
        .await;
    assert_eq!(catalog_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    let granted =
        s.b.post(
            "/admin/roles",
            &[("role", "catalogCreator"), ("principal", "ada@acme.test")],
        )
        .await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    let (_, roles) = app.get(&s.t.admin, "/api/v1/roleAssignments").await;
    let grant = roles["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["role"] == "catalogCreator" && r["principal"]["id"] == ada.to_string())
        .cloned()
        .expect("granted");
    assert!(s.b.get("/admin/roles").await.body.contains("Ada Lovelace"));

    // Refused: Ada (a catalog creator only), another tenant's admin.
    let ada_browser = sign_in(&app, "acme", "ada@acme.test").await;
    assert_eq!(
        ada_browser.get("/admin/roles").await.status,
        StatusCode::FORBIDDEN
    );
    let self_grant = ada_browser
        .post(
            "/admin/roles",
            &[("role", "tenantAdmin"), ("principal", "ada@acme.test")],
        )
        .await;
    assert_eq!(self_grant.status, StatusCode::FORBIDDEN);
    let gid = grant["id"].as_str().expect("id");
    let other = app.tenant("globex").await;
    let globex = sign_in(&app, "globex", &other.admin_email).await;
    assert_eq!(
        globex
            .post(&format!("/admin/roles/{gid}/revoke"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let revoked = s.b.post(&format!("/admin/roles/{gid}/revoke"), &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    assert!(!s.b.get("/admin/roles").await.body.contains("Ada Lovelace"));

    // The last tenant admin stays.
    let (_, roles) = app.get(&s.t.admin, "/api/v1/roleAssignments").await;
    let admin_grant = roles["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["role"] == "tenantAdmin")
        .cloned()
        .expect("admin grant");
    let last =
        s.b.post(
            &format!(
                "/admin/roles/{}/revoke",
                admin_grant["id"].as_str().expect("id")
            ),
            &[],
        )
        .await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    assert!(last.body.contains("last tenant admin"), "{}", last.body);
}

#[tokio::test]
async fn the_package_form_adds_a_group_to_the_catalog_and_ticks_its_role() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    fixtures::group(&app, &s.t, "Finance team").await;
    let form =
        s.b.get(&format!("/admin/packages/new?catalog={}", s.general))
            .await;
    assert!(form.body.contains("addGroupResource"));

    let missing =
        s.b.post(
            "/admin/packages",
            &[
                ("catalogId", &s.general.to_string()),
                ("displayName", "Finance"),
                ("intent", "addGroup"),
                ("addGroupResource", "No such team"),
            ],
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let added =
        s.b.post(
            "/admin/packages",
            &[
                ("catalogId", &s.general.to_string()),
                ("displayName", "Finance"),
                ("intent", "addGroup"),
                ("addGroupResource", "Finance team"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(added.body.contains("Finance team (group)"));
    assert!(
        added.body.contains("value=\"Finance\""),
        "the form keeps what was typed"
    );
    let (_, resources) = app
        .get(
            &s.t.admin,
            &format!("/api/v1/catalogs/{}/resources", s.general),
        )
        .await;
    let roles = resources["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["displayName"] == "Finance team")
        .map(|r| r["roles"].as_array().expect("roles").clone())
        .expect("the group is a resource of the catalog");
    let role_named = |name: &str| {
        roles
            .iter()
            .find(|r| r["displayName"] == name)
            .and_then(|r| r["id"].as_str())
            .expect("role")
            .to_string()
    };
    let role = role_named("Member");
    assert!(
        added.body.contains(&format!("value=\"{role}\" checked")),
        "its Member role is ticked"
    );
    let owner = role_named("Owner");
    assert!(
        added.body.contains(&format!("value=\"{owner}\">")),
        "its Owner role is not"
    );
    assert_eq!(
        sqlx::query_scalar::<_, i64>("select count(*) from access_packages where tenant_id = $1")
            .bind(s.t.id)
            .fetch_one(&app.pool)
            .await
            .expect("count"),
        0,
        "no package is created by the step"
    );
    let created =
        s.b.post(
            "/admin/packages",
            &[
                ("catalogId", &s.general.to_string()),
                ("displayName", "Finance"),
                ("resourceRoleIds", &role),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);

    // A member who owns no group and no catalog may not add one.
    app.user(&s.t, "ada@acme.test", json!({})).await;
    let ada = sign_in(&app, "acme", "ada@acme.test").await;
    let refused = ada
        .post(
            "/admin/packages",
            &[
                ("catalogId", &s.general.to_string()),
                ("intent", "addGroup"),
                ("addGroupResource", "Finance team"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_archived_package_starts_no_access_review() {
    // No background scheduler: the review job runs only when the test says.
    let app = TestApp::spawn_with_settings(&[("PORTICO_SCHEDULER_ENABLED", "false")]).await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let reviewed = fixtures::open_policy(json!({"review": {
        "startDate": "2026-10-01T00:00:00Z", "recurrence": "monthly", "durationDays": 14,
        "reviewers": [{"type": "self"}], "fallbackReviewers": [], "ifNoResponse": "keep",
        "autoApply": true, "requireJustification": false}}));
    let live = fixtures::package(&app, &t, general, "Live", &[]).await;
    fixtures::policy(&app, &t, live, reviewed.clone()).await;
    let old = fixtures::package(&app, &t, general, "Old", &[]).await;
    let q = fixtures::policy(&app, &t, old, reviewed).await;
    seed_history(&app, &t, old, q).await;
    let (status, _) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{old}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    portico::scheduler::reviews::run_once(&app.state, app.now())
        .await
        .expect("review job");
    let reviews = |package: Uuid| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from access_reviews where package_id = $1",
            )
            .bind(package)
            .fetch_one(&pool)
            .await
            .expect("count")
        }
    };
    assert_eq!(reviews(live).await, 1, "the live package's review starts");
    assert_eq!(reviews(old).await, 0, "the archived package's does not");
}

#[tokio::test]
async fn a_catalog_whose_packages_are_archived_stays_and_says_why() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, catalog) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "Projects"}),
        )
        .await;
    let c = crate::helpers::uuid_of(&catalog["id"]);
    let p = fixtures::package(&app, &t, c, "Old project", &[]).await;
    let q = fixtures::policy(&app, &t, p, fixtures::open_policy(json!({}))).await;
    seed_history(&app, &t, p, q).await;
    let (status, _) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{p}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, problem) = app.delete(&t.admin, &format!("/api/v1/catalogs/{c}")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("1 archived access package"),
        "{problem}"
    );
}
