//! The audit log: every change writes exactly its event with the change, refused changes
//! write nothing, admins can filter it, and the table itself refuses to be rewritten.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, uuid_of};

async fn audit_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn user_changes_are_audited_one_event_each() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    assert_eq!(app.audit_actions(ada).await, ["user.created"]);

    let (status, _) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{ada}"),
            json!({"jobTitle": "Analyst"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.audit_actions(ada).await,
        ["user.created", "user.updated"]
    );

    let (status, _) = app.delete(&t.admin, &format!("/api/v1/users/{ada}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.audit_actions(ada).await,
        [
            "user.created",
            "user.updated",
            "user.updated",
            "user.deactivated"
        ]
    );
}

#[tokio::test]
async fn refused_changes_write_no_audit_event() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let before = audit_count(&app).await;

    let (status, _) = app
        .post(
            &t.admin,
            "/api/v1/users",
            json!({"email": "nope", "displayName": "Nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .patch(
            &t.admin,
            &format!("/api/v1/users/{ada}"),
            json!({"managerId": ada}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .post(&ada_token, "/api/v1/groups", json!({"displayName": "Mine"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    assert_eq!(audit_count(&app).await, before);
    assert_eq!(app.audit_actions(ada).await, ["user.created"]);
}

#[tokio::test]
async fn group_and_membership_changes_are_audited_one_event_each() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;

    let (_, group) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Testers"}),
        )
        .await;
    let group = uuid_of(&group["id"]);
    assert_eq!(app.audit_actions(group).await, ["group.created"]);

    app.patch(
        &t.admin,
        &format!("/api/v1/groups/{group}"),
        json!({"description": "QA"}),
    )
    .await;
    let members = format!("/api/v1/groups/{group}/members");
    assert_eq!(
        app.post(&t.admin, &members, json!({"userId": ada})).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post(&t.admin, &members, json!({"userId": ada})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&t.admin, &format!("{members}/{ada}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&t.admin, &format!("/api/v1/groups/{group}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        app.audit_actions(group).await,
        [
            "group.created",
            "group.updated",
            "group.memberAdded",
            "group.memberRemoved",
            "group.deleted"
        ],
        "adding an existing member changes nothing and records nothing"
    );
}

#[tokio::test]
async fn role_grants_and_removals_are_audited() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, assignment) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "catalogCreator", "principal": {"type": "user", "id": ada}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = uuid_of(&assignment["id"]);
    assert_eq!(app.audit_actions(id).await, ["roleAssignment.created"]);

    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/roleAssignments/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.audit_actions(id).await,
        ["roleAssignment.created", "roleAssignment.deleted"]
    );
}

#[tokio::test]
async fn tenant_setting_changes_are_audited_with_before_and_after() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;

    let (status, _) = app
        .patch(
            &t.admin,
            "/api/v1/tenant",
            json!({"replyTo": "help@acme.test"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(
        app.audit_actions(t.id).await,
        ["tenant.created", "tenant.updated"]
    );
    let (_, events) = app
        .get(&t.admin, &format!("/api/v1/auditEvents?targetId={}", t.id))
        .await;
    let updated = &events["items"][0];
    assert_eq!(updated["action"], "tenant.updated");
    assert_eq!(
        updated["details"]["before"]["replyTo"],
        serde_json::Value::Null
    );
    assert_eq!(updated["details"]["after"]["replyTo"], "help@acme.test");
    assert_eq!(updated["actor"]["type"], "token");
    assert_eq!(uuid_of(&updated["actor"]["userId"]), t.admin_id);
    assert_eq!(updated["at"], "2027-01-04T09:00:00Z");
}

#[tokio::test]
async fn audit_events_can_be_filtered_by_target() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    let (bob, _) = app.user(&t, "bob@acme.test", json!({})).await;
    app.patch(
        &t.admin,
        &format!("/api/v1/users/{ada}"),
        json!({"jobTitle": "Analyst"}),
    )
    .await;

    let (status, events) = app
        .get(&t.admin, &format!("/api/v1/auditEvents?targetId={ada}"))
        .await;

    assert_eq!(status, StatusCode::OK, "{events}");
    let items = events["items"].as_array().expect("items");
    let actions: Vec<&str> = items.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["user.updated", "user.created"], "newest first");
    assert!(items.iter().all(|e| uuid_of(&e["targetId"]) == ada));
    assert!(items.iter().all(|e| e["targetType"] == "user"));

    let (_, all) = app.get(&t.admin, "/api/v1/auditEvents").await;
    let all = all["items"].as_array().expect("items");
    assert!(all.iter().any(|e| e["targetId"] == json!(bob)));
    assert!(all.len() > items.len());

    let (status, problem) = app
        .get(&t.admin, "/api/v1/auditEvents?targetId=nonsense")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}

#[tokio::test]
async fn members_without_roles_cannot_read_the_audit_log() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;

    let (status, problem) = app.get(&ada_token, "/api/v1/auditEvents").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, _) = app
        .get(&ada_token, &format!("/api/v1/auditEvents?targetId={ada}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_audit_table_refuses_update_delete_and_truncate() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    app.user(&t, "ada@acme.test", json!({})).await;
    let before = audit_count(&app).await;
    assert!(before >= 2);

    for statement in [
        "update audit_events set action = 'x'",
        "delete from audit_events",
        "truncate audit_events",
    ] {
        let error = sqlx::query(statement)
            .execute(&app.pool)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }

    assert_eq!(audit_count(&app).await, before);
    let changed: i64 = sqlx::query_scalar("select count(*) from audit_events where action = 'x'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(changed, 0);
}
