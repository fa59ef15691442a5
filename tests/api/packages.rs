//! Access packages and their policies: defaults, validation with field paths, who may
//! see and change what, PUT round trips, deletion rules, and tenant isolation.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestTenant, uuid_of};

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

async fn catalog(app: &TestApp, t: &TestTenant, body: Value) -> uuid::Uuid {
    let (status, created) = app.post(&t.admin, "/api/v1/catalogs", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    uuid_of(&created["id"])
}

/// An application resource in `catalog`; returns the ids of its roles.
async fn roles_in(
    app: &TestApp,
    t: &TestTenant,
    catalog: uuid::Uuid,
    names: &[&str],
) -> Vec<uuid::Uuid> {
    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{catalog}/resources"),
            json!({"kind": "application", "displayName": "App", "roles": names}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    resource["roles"]
        .as_array()
        .map(|roles| roles.iter().map(|r| uuid_of(&r["id"])).collect())
        .unwrap_or_default()
}

async fn package(app: &TestApp, t: &TestTenant, body: Value) -> Value {
    let (status, created) = app.post(&t.admin, "/api/v1/accessPackages", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn policy(app: &TestApp, t: &TestTenant, package: uuid::Uuid, body: Value) -> Value {
    let (status, created) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{package}/policies"),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

fn minimal_policy() -> Value {
    json!({"displayName": "Everyone", "requestors": {"scope": "allMembers"}})
}

/// `base` with the top-level fields of `overrides` replaced.
fn with(base: Value, overrides: Value) -> Value {
    let mut out = base;
    if let (Some(o), Some(e)) = (out.as_object_mut(), overrides.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    out
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p["displayName"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

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
async fn a_new_access_package_is_answered_with_its_defaults_and_audited() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;

    let created = package(
        &app,
        &t,
        json!({"catalogId": general, "displayName": "Windows 11 Testing", "resourceRoleIds": []}),
    )
    .await;

    assert_eq!(created["catalogId"], json!(general));
    assert_eq!(created["displayName"], "Windows 11 Testing");
    assert_eq!(created["description"], "");
    assert_eq!(created["hidden"], false);
    assert_eq!(created["resourceRoleIds"], json!([]));
    assert_eq!(created["incompatiblePackageIds"], json!([]));
    assert_eq!(created["incompatibleGroupIds"], json!([]));
    assert!(created["createdAt"].is_string() && created["updatedAt"].is_string());
    let id = uuid_of(&created["id"]);
    let (status, fetched) = app
        .get(&t.admin, &format!("/api/v1/accessPackages/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    assert_eq!(app.audit_actions(id).await, vec!["accessPackage.created"]);
}

#[tokio::test]
async fn access_package_input_is_checked_with_a_message_for_each_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let other = catalog(&app, &t, json!({"displayName": "Other"})).await;
    let foreign_role = roles_in(&app, &t, other, &["Reader"]).await[0];
    let unknown = uuid::Uuid::now_v7();
    let base = json!({"catalogId": general, "displayName": "P"});

    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["catalogId", "displayName"]),
        (
            json!({"catalogId": unknown, "displayName": "P"}),
            vec!["catalogId"],
        ),
        (
            with(base.clone(), json!({"displayName": " "})),
            vec!["displayName"],
        ),
        (
            with(
                base.clone(),
                json!({"resourceRoleIds": [foreign_role, unknown]}),
            ),
            vec!["resourceRoleIds[0]", "resourceRoleIds[1]"],
        ),
        (
            with(base.clone(), json!({"resourceRoleIds": "all"})),
            vec!["resourceRoleIds"],
        ),
        (
            with(base.clone(), json!({"incompatiblePackageIds": [unknown]})),
            vec!["incompatiblePackageIds[0]"],
        ),
        (
            with(base.clone(), json!({"incompatibleGroupIds": [unknown]})),
            vec!["incompatibleGroupIds[0]"],
        ),
        (with(base.clone(), json!({"hidden": "yes"})), vec!["hidden"]),
    ];
    for (body, fields) in cases {
        let (status, problem) = app
            .post(&t.admin, "/api/v1/accessPackages", body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        assert_eq!(error_fields(&problem), fields, "{body} → {problem}");
    }
    let (_, list) = app.get(&t.admin, "/api/v1/accessPackages").await;
    assert_eq!(list["items"], json!([]), "nothing was created");

    let created = package(&app, &t, base).await;
    let id = uuid_of(&created["id"]);
    let path = format!("/api/v1/accessPackages/{id}");
    let (status, problem) = app
        .patch(&t.admin, &path, json!({"incompatiblePackageIds": [id]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["incompatiblePackageIds[0]"]);
    let (status, problem) = app
        .patch(&t.admin, &path, json!({"catalogId": other}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["catalogId"]);
    let (status, same) = app.patch(&t.admin, &path, created.clone()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "its own representation is a valid PATCH: {same}"
    );
    assert_eq!(same["displayName"], created["displayName"]);
}

#[tokio::test]
async fn patch_replaces_resource_roles_and_incompatibilities_as_a_whole() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let roles = roles_in(&app, &t, general, &["Reader", "Writer"]).await;
    let (_, g) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Auditors"}),
        )
        .await;
    let g = uuid_of(&g["id"]);
    let other = uuid_of(
        &package(
            &app,
            &t,
            json!({"catalogId": general, "displayName": "Other"}),
        )
        .await["id"],
    );
    let created = package(
        &app,
        &t,
        json!({"catalogId": general, "displayName": "Payroll", "resourceRoleIds": [roles[0], roles[0]],
               "incompatiblePackageIds": [other], "incompatibleGroupIds": [g]}),
    )
    .await;
    assert_eq!(
        created["resourceRoleIds"],
        json!([roles[0]]),
        "duplicates collapse"
    );
    let id = uuid_of(&created["id"]);
    let path = format!("/api/v1/accessPackages/{id}");

    let (status, patched) = app
        .patch(
            &t.admin,
            &path,
            json!({"resourceRoleIds": [roles[1]], "incompatibleGroupIds": [], "hidden": true}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["resourceRoleIds"], json!([roles[1]]));
    assert_eq!(patched["incompatibleGroupIds"], json!([]));
    assert_eq!(
        patched["incompatiblePackageIds"],
        json!([other]),
        "an absent list stays"
    );
    assert_eq!(patched["hidden"], true);
    assert_eq!(patched["displayName"], "Payroll");
    let (_, fetched) = app.get(&t.admin, &path).await;
    assert_eq!(fetched, patched);
    assert_eq!(
        app.audit_actions(id).await,
        vec!["accessPackage.created", "accessPackage.updated"]
    );
    let details: Value = sqlx::query_scalar(
        "select details from audit_events where target_id = $1 and action = 'accessPackage.updated'",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .expect("audit details");
    assert_eq!(details["before"]["resourceRoleIds"], json!([roles[0]]));
    assert_eq!(details["after"]["resourceRoleIds"], json!([roles[1]]));
}

#[tokio::test]
async fn packages_are_listed_by_visibility_and_hidden_ones_are_readable_by_id() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let disabled = catalog(
        &app,
        &t,
        json!({"displayName": "Disabled", "enabled": false}),
    )
    .await;
    let external = catalog(
        &app,
        &t,
        json!({"displayName": "Partners", "externallyVisible": true}),
    )
    .await;
    let visible = package(
        &app,
        &t,
        json!({"catalogId": general, "displayName": "Visible", "description": "laptops"}),
    )
    .await;
    let hidden = package(
        &app,
        &t,
        json!({"catalogId": general, "displayName": "Hidden", "hidden": true}),
    )
    .await;
    let off = package(
        &app,
        &t,
        json!({"catalogId": disabled, "displayName": "Off"}),
    )
    .await;
    package(
        &app,
        &t,
        json!({"catalogId": external, "displayName": "Shared"}),
    )
    .await;
    let (_, member) = app.user(&t, "max@acme.test", json!({})).await;
    let (_, guest) = app
        .user(&t, "gus@partner.test", json!({"kind": "guest"}))
        .await;
    let (_, reader) = app
        .user_with_role(&t, "rita@acme.test", "catalogReader", Some(disabled))
        .await;

    let (_, all) = app.get(&t.admin, "/api/v1/accessPackages").await;
    assert_eq!(names(&all), vec!["Hidden", "Off", "Shared", "Visible"]);
    let (status, seen) = app.get(&member, "/api/v1/accessPackages").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&seen), vec!["Shared", "Visible"]);
    let (_, seen) = app.get(&guest, "/api/v1/accessPackages").await;
    assert_eq!(names(&seen), vec!["Shared"]);
    let (_, seen) = app.get(&reader, "/api/v1/accessPackages").await;
    assert_eq!(names(&seen), vec!["Off", "Shared", "Visible"]);
    let (_, found) = app
        .get(&member, "/api/v1/accessPackages?search=LAPTOP")
        .await;
    assert_eq!(names(&found), vec!["Visible"]);
    let (_, found) = app
        .get(
            &t.admin,
            &format!("/api/v1/accessPackages?catalogId={general}"),
        )
        .await;
    assert_eq!(names(&found), vec!["Hidden", "Visible"]);
    let (status, problem) = app
        .get(&t.admin, "/api/v1/accessPackages?catalogId=nope")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    let app = &app;
    let get = |token: &str, p: &Value| {
        let path = format!("/api/v1/accessPackages/{}", uuid_of(&p["id"]));
        let token = token.to_string();
        async move { app.get(&token, &path).await.0 }
    };
    assert_eq!(
        get(&member, &hidden).await,
        StatusCode::OK,
        "hidden but requestable by link"
    );
    assert_eq!(
        get(&member, &off).await,
        StatusCode::NOT_FOUND,
        "its catalog is disabled"
    );
    assert_eq!(
        get(&reader, &off).await,
        StatusCode::OK,
        "readers of the catalog see it"
    );
    assert_eq!(
        get(&guest, &visible).await,
        StatusCode::NOT_FOUND,
        "not externally visible"
    );
}

#[tokio::test]
async fn a_minimal_policy_is_answered_with_every_default() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);

    let created = policy(&app, &t, p, minimal_policy()).await;
    let staged = policy(
        &app,
        &t,
        p,
        with(
            minimal_policy(),
            json!({"approval": {"stages": [{"approvers": [{"type": "manager"}]}]}}),
        ),
    )
    .await;

    let id = created["id"].clone();
    assert_eq!(
        created,
        json!({"id": id, "accessPackageId": p, "displayName": "Everyone", "description": "",
               "requestors": {"scope": "allMembers", "principals": []}, "requestsEnabled": true,
               "requireJustification": false, "approval": {"stages": []}, "questions": [],
               "expiration": {"type": "never"}, "allowCustomSchedule": false,
               "extension": {"allowed": false, "requireApproval": false}, "review": null,
               "createdAt": created["createdAt"], "updatedAt": created["updatedAt"]})
    );
    assert!(created["createdAt"].is_string());
    assert_eq!(
        staged["approval"]["stages"][0],
        json!({"approvers": [{"type": "manager"}], "fallbackApprovers": [], "decision": "anyOne",
               "timeoutDays": 14, "requireJustification": false, "escalation": null})
    );
    let (status, list) = app
        .get(&t.admin, &format!("/api/v1/accessPackages/{p}/policies"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"], json!([staged, created]), "newest first");
    assert_eq!(
        app.audit_actions(uuid_of(&id)).await,
        vec!["policy.created"]
    );
}

/// The policy of API.md's example, with real user and group ids.
async fn full_policy(app: &TestApp, t: &TestTenant) -> Value {
    let (user, _) = app.user(t, "fallback@acme.test", json!({})).await;
    let (_, group) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Escalation"}),
        )
        .await;
    json!({
      "displayName": "Employees", "description": "",
      "requestors": {"scope": "allMembers", "principals": []},
      "requestsEnabled": true,
      "requireJustification": true,
      "approval": {"stages": [
        {"approvers": [{"type": "manager"}], "fallbackApprovers": [{"type": "user", "id": user}],
         "decision": "anyOne", "timeoutDays": 14, "requireJustification": false,
         "escalation": {"afterDays": 3, "approvers": [{"type": "group", "id": group["id"]}]}},
        {"approvers": [{"type": "user", "id": user}], "decision": "anyOne", "timeoutDays": 7}
      ]},
      "questions": [{"text": "Which device?", "kind": "shortText", "required": true},
                    {"text": "Which OS?", "kind": "choice", "options": ["Windows", "Linux"]}],
      "expiration": {"type": "afterDays", "days": 90},
      "allowCustomSchedule": true,
      "extension": {"allowed": true, "requireApproval": true},
      "review": {"startDate": "2027-01-01T00:00:00Z", "recurrence": "quarterly", "durationDays": 14,
                 "reviewers": [{"type": "manager"}], "fallbackReviewers": [],
                 "ifNoResponse": "keep", "autoApply": true, "requireJustification": true}
    })
}

#[tokio::test]
async fn a_policy_put_back_unchanged_keeps_its_id_and_its_question_ids() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);
    let created = policy(&app, &t, p, full_policy(&app, &t).await).await;
    let id = uuid_of(&created["id"]);
    let path = format!("/api/v1/policies/{id}");
    let question_ids: Vec<Value> = created["questions"]
        .as_array()
        .map(|q| q.iter().map(|q| q["id"].clone()).collect())
        .unwrap_or_default();
    assert!(question_ids.iter().all(Value::is_string), "{created}");
    assert_ne!(question_ids[0], question_ids[1]);
    let (_, fetched) = app.get(&t.admin, &path).await;
    assert_eq!(fetched, created);
    app.clock.advance(Duration::hours(1));

    let (status, put) = app.put(&t.admin, &path, fetched.clone()).await;

    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(
        with(put.clone(), json!({"updatedAt": null})),
        with(fetched.clone(), json!({"updatedAt": null}))
    );
    assert_ne!(put["updatedAt"], fetched["updatedAt"]);

    let mut body = fetched.clone();
    if let Some(q) = body["questions"].as_array_mut() {
        q.push(json!({"text": "Why?", "kind": "longText"}));
    }
    let (status, put) = app
        .put(&t.admin, &path, with(body, json!({"displayName": "Staff"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["id"], json!(id));
    assert_eq!(put["displayName"], "Staff");
    assert_eq!(put["questions"][0]["id"], question_ids[0]);
    assert_eq!(put["questions"][1]["id"], question_ids[1]);
    assert!(put["questions"][2]["id"].is_string());
    let (_, list) = app
        .get(&t.admin, &format!("/api/v1/accessPackages/{p}/policies"))
        .await;
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "updated in place"
    );
    assert_eq!(
        app.audit_actions(id).await,
        vec!["policy.created", "policy.updated", "policy.updated"]
    );

    let (status, problem) = app
        .put(&t.admin, &path, json!({"displayName": "No requestors"}))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "PUT takes the whole body"
    );
    assert_eq!(error_fields(&problem), vec!["requestors"]);
}

#[tokio::test]
async fn an_end_date_must_be_in_the_future_but_an_accepted_one_stays_valid_unchanged() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);
    let past = (app.now() - Duration::days(1)).to_rfc3339();
    let soon = (app.now() + Duration::days(2)).to_rfc3339();

    let (status, problem) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{p}/policies"),
            with(
                minimal_policy(),
                json!({"expiration": {"type": "onDate", "date": past}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["expiration.date"]);

    let created = policy(
        &app,
        &t,
        p,
        with(
            minimal_policy(),
            json!({"expiration": {"type": "onDate", "date": soon}}),
        ),
    )
    .await;
    app.clock.advance(Duration::days(3));
    let path = format!("/api/v1/policies/{}", uuid_of(&created["id"]));
    let (status, put) = app.put(&t.admin, &path, created.clone()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the date was accepted before: {put}"
    );
    let later_past = (app.now() - Duration::hours(1)).to_rfc3339();
    let (status, problem) = app
        .put(
            &t.admin,
            &path,
            with(
                created,
                json!({"expiration": {"type": "onDate", "date": later_past}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), vec!["expiration.date"]);
}

#[tokio::test]
async fn policy_rules_are_checked_and_reported_at_their_field_paths() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let b = app.tenant("beta").await;
    let (b_user, _) = app.user(&b, "bob@beta.test", json!({})).await;
    let general = app.general_catalog(&t).await;
    let p =
        uuid_of(&package(&app, &t, json!({"catalogId": general, "displayName": "P"})).await["id"]);
    let path = format!("/api/v1/accessPackages/{p}/policies");
    let unknown = uuid::Uuid::now_v7();
    let stage = |extra: Value| with(json!({"approvers": [{"type": "manager"}]}), extra);
    let stages = |list: Vec<Value>| with(minimal_policy(), json!({"approval": {"stages": list}}));
    let policy_with = |extra: Value| with(minimal_policy(), extra);

    let refused: Vec<(Value, &str)> = vec![
        (stages(vec![stage(json!({})); 4]), "approval.stages"),
        (
            stages(vec![stage(json!({"timeoutDays": 0}))]),
            "approval.stages[0].timeoutDays",
        ),
        (
            stages(vec![stage(json!({"timeoutDays": 15}))]),
            "approval.stages[0].timeoutDays",
        ),
        (
            stages(vec![stage(json!({"timeoutDays": "ten"}))]),
            "approval.stages[0].timeoutDays",
        ),
        (
            stages(vec![stage(
                json!({"timeoutDays": 5, "escalation": {"afterDays": 5, "approvers": [{"type": "manager"}]}}),
            )]),
            "approval.stages[0].escalation.afterDays",
        ),
        (
            stages(vec![stage(
                json!({"escalation": {"afterDays": 0, "approvers": [{"type": "manager"}]}}),
            )]),
            "approval.stages[0].escalation.afterDays",
        ),
        (
            stages(vec![stage(json!({"decision": "majority"}))]),
            "approval.stages[0].decision",
        ),
        (
            stages(vec![json!({"approvers": [{"type": "robot"}]})]),
            "approval.stages[0].approvers[0].type",
        ),
        (
            stages(vec![
                json!({"approvers": [{"type": "user", "id": unknown}]}),
            ]),
            "approval.stages[0].approvers[0].id",
        ),
        (
            stages(vec![json!({"approvers": [{"type": "user", "id": b_user}]})]),
            "approval.stages[0].approvers[0].id",
        ),
        (
            stages(vec![stage(
                json!({"fallbackApprovers": [{"type": "group", "id": unknown}]}),
            )]),
            "approval.stages[0].fallbackApprovers[0].id",
        ),
        (
            policy_with(
                json!({"requestors": {"scope": "specific", "principals": [{"type": "group", "id": unknown}]}}),
            ),
            "requestors.principals[0].id",
        ),
        (
            policy_with(json!({"requestors": {"scope": "everyone"}})),
            "requestors.scope",
        ),
        (
            policy_with(json!({"requestors": {"scope": "specific"}})),
            "requestors.principals",
        ),
        (
            policy_with(
                json!({"questions": [{"text": "Which?", "kind": "choice", "options": ["One"]}]}),
            ),
            "questions[0].options",
        ),
        (
            policy_with(json!({"questions": [{"text": "Which?", "kind": "choice"}]})),
            "questions[0].options",
        ),
        (
            policy_with(json!({"questions": [{"text": "Which?", "kind": "essay"}]})),
            "questions[0].kind",
        ),
        (
            policy_with(json!({"expiration": {"type": "afterDays", "days": 0}})),
            "expiration.days",
        ),
        (
            policy_with(json!({"expiration": {"type": "afterDays", "days": 3661}})),
            "expiration.days",
        ),
        (
            policy_with(json!({"expiration": {"type": "afterDays"}})),
            "expiration.days",
        ),
        (
            policy_with(json!({"expiration": {"type": "afterHours", "hours": 8761}})),
            "expiration.hours",
        ),
        (
            policy_with(
                json!({"review": {"startDate": "2027-02-01T00:00:00Z", "recurrence": "monthly", "durationDays": 7,
                                           "reviewers": [{"type": "user", "id": unknown}], "ifNoResponse": "keep"}}),
            ),
            "review.reviewers[0].id",
        ),
        (
            policy_with(
                json!({"review": {"startDate": "2027-02-01T00:00:00Z", "recurrence": "daily", "durationDays": 7,
                                           "reviewers": [{"type": "self"}], "ifNoResponse": "keep"}}),
            ),
            "review.recurrence",
        ),
        (
            json!({"requestors": {"scope": "allMembers"}}),
            "displayName",
        ),
        (json!({"displayName": "No requestors"}), "requestors"),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in refused {
        let (status, problem) = app.post(&t.admin, &path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
        assert_eq!(
            error_fields(&problem),
            vec![field.to_string()],
            "{body} → {problem}"
        );
    }
    let (status, problem) = app
        .post(
            &t.admin,
            &path,
            policy_with(json!({"expiration": {"type": "forever"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        error_fields(&problem)
            .iter()
            .all(|f| f.starts_with("expiration")),
        "{problem}"
    );

    let accepted: Vec<Value> = vec![
        stages(vec![]),
        stages(vec![stage(json!({})); 3]),
        stages(vec![stage(json!({"timeoutDays": 1}))]),
        stages(vec![stage(
            json!({"timeoutDays": 14, "escalation": {"afterDays": 13, "approvers": [{"type": "manager"}]}}),
        )]),
        stages(vec![stage(json!({"decision": "all"}))]),
        policy_with(json!({"expiration": {"type": "afterDays", "days": 1}})),
        policy_with(json!({"expiration": {"type": "afterDays", "days": 3660}})),
        policy_with(
            json!({"questions": [{"text": "Which?", "kind": "choice", "options": ["One", "Two"]}]}),
        ),
        policy_with(
            json!({"requestors": {"scope": "specific", "principals": [{"type": "user", "id": t.admin_id}]}}),
        ),
    ];
    for body in accepted {
        let (status, answer) = app.post(&t.admin, &path, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body} → {answer}");
    }
}

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
        "This access package has a request history; hide it or disable its policies instead."
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

#[tokio::test]
async fn the_openapi_description_covers_catalogs_packages_and_policies() {
    let app = TestApp::spawn().await;

    let (status, api) = app.get("", "/api/v1/openapi.json").await;

    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/catalogs",
        "/api/v1/catalogs/{id}",
        "/api/v1/catalogs/{id}/resources",
        "/api/v1/catalogs/{id}/resources/{resourceId}",
        "/api/v1/accessPackages",
        "/api/v1/accessPackages/{id}",
        "/api/v1/accessPackages/{id}/policies",
        "/api/v1/policies/{id}",
    ] {
        assert!(api["paths"][path].is_object(), "{path} is not described");
    }
    for schema in [
        "Catalog",
        "Resource",
        "ResourceBody",
        "AccessPackage",
        "Policy",
        "PolicyBody",
    ] {
        assert!(
            api["components"]["schemas"][schema].is_object(),
            "schema {schema} is missing"
        );
    }
    let connector = &api["components"]["schemas"]["Connector"]["properties"];
    assert!(
        connector["url"].is_object() && connector["secret"].is_null(),
        "{connector}"
    );
}
