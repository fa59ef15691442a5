//! The audit log people read: names kept after the object is gone, filters by actor,
//! action, target type, target and period (422 for a bad one), the CSV export of the
//! filtered log, history links from object pages, and who may read it.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::portal::{admin_of, sign_in};
use crate::helpers::{TestApp, TestTenant, uuid_of};

/// A package made through the API (so its creation is audited), in a new catalog.
async fn api_package(app: &TestApp, t: &TestTenant, name: &str) -> Uuid {
    let general = app.general_catalog(t).await;
    let (status, resource) = app
        .post(
            &t.admin,
            &format!("/api/v1/catalogs/{general}/resources"),
            json!({"kind": "application", "displayName": "App", "roles": ["Reader"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    let role = uuid_of(&resource["roles"][0]["id"]);
    let (status, created) = app
        .post(
            &t.admin,
            "/api/v1/accessPackages",
            json!({"catalogId": general, "displayName": name, "resourceRoleIds": [role]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    uuid_of(&created["id"])
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn csv(app: &TestApp, token: &str, query: &str) -> (StatusCode, String) {
    let res = app
        .client
        .get(format!("{}/api/v1/reports/audit?{query}", app.address))
        .bearer_auth(token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("report");
    let status = res.status();
    (status, res.text().await.expect("body"))
}

#[tokio::test]
async fn a_deleted_package_keeps_its_name_in_the_log_the_page_and_the_csv() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let package = api_package(&app, &t, "Payroll Reporting").await;
    let (status, problem) = app
        .delete(&t.admin, &format!("/api/v1/accessPackages/{package}"))
        .await;
    assert!(status.is_success(), "{status} {problem}");
    let gone: i64 = sqlx::query_scalar("select count(*) from access_packages where id = $1")
        .bind(package)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(gone, 0, "the package is deleted");

    let (status, events) = app
        .get(&t.admin, &format!("/api/v1/auditEvents?targetId={package}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let events = items(&events);
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["accessPackage.deleted", "accessPackage.created"]);
    for e in &events {
        assert_eq!(e["targetName"], "Payroll Reporting", "{e}");
        let actor = e["actor"]["name"].as_str().unwrap_or_default();
        assert!(actor.ends_with(&format!("<{}>", t.admin_email)), "{e}");
    }
    let stored: Vec<Option<String>> =
        sqlx::query_scalar("select target_name from audit_events where target_id = $1 order by id")
            .bind(package)
            .fetch_all(&app.pool)
            .await
            .expect("names");
    assert_eq!(
        stored,
        [
            Some("Payroll Reporting".to_string()),
            Some("Payroll Reporting".to_string())
        ],
        "both kept in the row itself"
    );

    let b = sign_in(&app, &t.slug, &t.admin_email).await;
    let page = b.get(&format!("/admin/audit?target={package}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("accessPackage Payroll Reporting"),
        "{}",
        page.body
    );

    let (status, body) = csv(&app, &t.admin, &format!("targetId={package}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut lines = body.lines();
    assert_eq!(
        lines.next(),
        Some(
            "id,at,actorType,actor,actorId,actorTokenId,action,targetType,targetId,target,details,correlationId"
        )
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "{body}");
    assert!(rows[0].contains("accessPackage.created") && rows[0].contains("Payroll Reporting"));
    assert!(rows[1].contains("accessPackage.deleted") && rows[1].contains("Payroll Reporting"));
}

#[tokio::test]
async fn older_events_without_kept_names_are_named_as_their_objects_are_now() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, _) = app
        .user(&t, "ada@acme.test", json!({"displayName": "Ada"}))
        .await;
    sqlx::query(
        "insert into audit_events (tenant_id, id, at, actor_type, actor_id, action, target_type, target_id)
         values ($1, $2, now(), 'user', $3, 'user.updated', 'user', $4)",
    )
    .bind(t.id)
    .bind(Uuid::now_v7())
    .bind(t.admin_id)
    .bind(ada)
    .execute(&app.pool)
    .await
    .expect("an event written before names were kept");

    let (_, events) = app
        .get(
            &t.admin,
            &format!("/api/v1/auditEvents?targetId={ada}&action=user.updated"),
        )
        .await;
    let events = items(&events);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["targetName"], "Ada <ada@acme.test>");
    let actor = events[0]["actor"]["name"].as_str().unwrap_or_default();
    assert!(actor.ends_with(&format!("<{}>", t.admin_email)), "{actor}");
}

#[tokio::test]
async fn each_filter_narrows_the_log_and_bad_filters_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (ada, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let (bob, _) = app.user(&t, "bob@acme.test", json!({})).await;
    app.patch(
        &t.admin,
        &format!("/api/v1/users/{bob}"),
        json!({"jobTitle": "QA"}),
    )
    .await;
    // Ada acts too: her own token creating nothing she may not; an admin role for her.
    let (status, _) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "tenantAdmin", "principal": {"type": "user", "id": ada}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.clock.advance(chrono::Duration::hours(2));
    let later = app.now();
    let (status, group) = app
        .post(
            &ada_token,
            "/api/v1/groups",
            json!({"displayName": "Testers"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group = uuid_of(&group["id"]);

    let actions = |v: &Value| -> Vec<String> {
        items(v)
            .iter()
            .filter_map(|e| e["action"].as_str().map(str::to_string))
            .collect()
    };
    // Actor, by email and by id.
    for actor in ["ada@acme.test".to_string(), ada.to_string()] {
        let (status, v) = app
            .get(
                &t.admin,
                &format!("/api/v1/auditEvents?actor={}", urlencode(&actor)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(actions(&v), ["group.created"], "{actor}");
    }
    // Action.
    let (_, v) = app
        .get(&t.admin, "/api/v1/auditEvents?action=user.updated")
        .await;
    assert!(!items(&v).is_empty());
    assert!(items(&v).iter().all(|e| e["action"] == "user.updated"));
    assert!(items(&v).iter().any(|e| uuid_of(&e["targetId"]) == bob));
    // Target type.
    let (_, v) = app
        .get(&t.admin, "/api/v1/auditEvents?targetType=roleAssignment")
        .await;
    assert!(
        items(&v)
            .iter()
            .all(|e| e["targetType"] == "roleAssignment")
    );
    assert!(
        items(&v)
            .iter()
            .any(|e| e["targetName"] == "tenantAdmin for ada <ada@acme.test>"),
        "{v}"
    );
    // Target.
    let (_, v) = app
        .get(&t.admin, &format!("/api/v1/auditEvents?targetId={group}"))
        .await;
    assert_eq!(actions(&v), ["group.created"]);
    // Period: from (inclusive) and to (exclusive).
    let from = later.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (_, v) = app
        .get(
            &t.admin,
            &format!("/api/v1/auditEvents?from={}", urlencode(&from)),
        )
        .await;
    assert_eq!(actions(&v), ["group.created"]);
    let (_, v) = app
        .get(
            &t.admin,
            &format!("/api/v1/auditEvents?to={}", urlencode(&from)),
        )
        .await;
    assert!(!actions(&v).contains(&"group.created".to_string()));
    assert!(actions(&v).contains(&"user.created".to_string()));
    // Combined.
    let (_, v) = app
        .get(
            &t.admin,
            "/api/v1/auditEvents?actor=ada%40acme.test&targetType=user",
        )
        .await;
    assert!(items(&v).is_empty(), "{v}");

    for (query, field) in [
        ("actor=nobody%40acme.test", "actor"),
        ("actor=not-a-person", "actor"),
        ("action=package.exploded", "action"),
        ("targetType=spaceship", "targetType"),
        ("targetType=", "targetType"),
        ("action=", "action"),
        ("actor=%20", "actor"),
        ("from=2027-02-01T00:00:00Z&to=2027-01-01T00:00:00Z", "to"),
    ] {
        let (status, problem) = app
            .get(&t.admin, &format!("/api/v1/auditEvents?{query}"))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        assert!(problem.to_string().contains(field), "{query}: {problem}");
        let (status, _) = csv(&app, &t.admin, query).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "report {query}");
    }
    let (status, problem) = app
        .get(&t.admin, "/api/v1/auditEvents?from=yesterday")
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_admin_page_filters_says_what_is_wrong_and_downloads_the_filtered_csv() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let (ada, _) = app
        .user(&t, "ada@acme.test", json!({"displayName": "Ada"}))
        .await;
    app.user(&t, "bob@acme.test", json!({})).await;

    let page = b
        .get(&format!(
            "/admin/audit?action=user.created&targetType=user&target={ada}"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("user Ada &#60;ada@acme.test&#62;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("bob@acme.test"), "filtered to Ada");
    assert!(
        page.body
            .contains(r#"<option value="user.created" selected>"#)
    );
    assert!(page.body.contains(&format!(
        "/t/acme/admin/audit.csv?action=user.created&#38;targetType=user&#38;target={ada}"
    )));

    let bad = b
        .get("/admin/audit?action=nope&actor=ghost%40acme.test&from=soon")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("f-from-error"), "{}", bad.body);
    let bad = b
        .get("/admin/audit?action=nope&actor=ghost%40acme.test")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("not an action of the audit log"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("no person with this email"),
        "{}",
        bad.body
    );

    let download = b
        .get(&format!(
            "/admin/audit.csv?action=user.created&target={ada}"
        ))
        .await;
    assert_eq!(download.status, StatusCode::OK);
    let lines: Vec<&str> = download.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", download.body);
    assert!(lines[1].contains("user.created") && lines[1].contains("Ada <ada@acme.test>"));
    assert!(!download.body.contains("bob@acme.test"));
}

#[tokio::test]
async fn object_pages_link_to_their_history_for_those_who_may_read_the_log() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "acme").await;
    let package = api_package(&app, &t, "Payroll").await;
    let general = app.general_catalog(&t).await;
    let (ada, _) = app.user(&t, "ada@acme.test", json!({})).await;
    let (_, group) = app
        .post(
            &t.admin,
            "/api/v1/groups",
            json!({"displayName": "Testers"}),
        )
        .await;
    let group = uuid_of(&group["id"]);
    let (status, policy) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{package}/policies"),
            json!({"displayName": "Everyone", "requestors": {"scope": "allMembers"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    let policy = uuid_of(&policy["id"]);
    let (resource, _) = crate::fixtures::webhook_resource(
        &app,
        &t,
        general,
        "https://hooks.acme.test/in",
        crate::webhooks::SECRET,
    )
    .await;

    for (path, target) in [
        (
            format!("/admin/packages/{package}/policies/{policy}"),
            policy,
        ),
        (
            format!("/admin/catalogs/{general}/resources/{resource}/connector"),
            resource,
        ),
        (format!("/admin/packages/{package}"), package),
        (format!("/admin/catalogs/{general}"), general),
        (format!("/admin/users/{ada}"), ada),
        (format!("/admin/groups/{group}"), group),
        ("/admin/settings".to_string(), t.id),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.body.contains(&format!(
                "href=\"/t/acme/admin/audit?target={target}\" id=\"object-history\""
            )),
            "{path} links to its history"
        );
    }

    // A catalog owner sees the catalog's page but may not read the log: no link.
    app.user_with_role(&t, "owner@acme.test", "catalogOwner", Some(general))
        .await;
    let owner = sign_in(&app, "acme", "owner@acme.test").await;
    let page = owner.get(&format!("/admin/catalogs/{general}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("object-history"));
    assert_eq!(
        owner.get("/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        owner.get("/admin/audit.csv").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn people_who_are_not_tenant_admins_cannot_read_or_export_the_log() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (_, ada_token) = app.user(&t, "ada@acme.test", json!({})).await;
    let (status, _) = csv(&app, &ada_token, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .get(&ada_token, "/api/v1/auditEvents?action=user.created")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another tenant's admin sees none of this tenant's events.
    let other = app.tenant("globex").await;
    let (_, v) = app
        .get(
            &other.admin,
            &format!("/api/v1/auditEvents?targetId={}", t.id),
        )
        .await;
    assert!(items(&v).is_empty(), "{v}");
    let (_, body) = csv(&app, &other.admin, &format!("targetId={}", t.id)).await;
    assert_eq!(body.lines().count(), 1, "only the header: {body}");
}

/// The naming functions' first versions (SQL, from their migration), under other names.
/// The PL/pgSQL versions give the same names, except that a kind without a name (an
/// approval link, a session, a delivery) is answered at once, never from the log.
async fn install_first_naming_functions(app: &TestApp) {
    let migration = include_str!("../../migrations/20261205100000_audit_names_and_stream.sql");
    for start in [
        "create function audit_person_name",
        "create function audit_target_name",
    ] {
        let from = migration.find(start).expect("the function's definition");
        let end = migration[from..].find("$$;").expect("its end") + from + 3;
        let sql = migration[from..end]
            .replace("audit_person_name", "audit_person_name_first")
            .replace("audit_target_name", "audit_target_name_first");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&app.pool)
            .await
            .expect("install the first version");
    }
}

#[tokio::test]
async fn the_naming_functions_give_every_kind_of_target_the_names_their_first_versions_gave() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let kept = api_package(&app, &t, "Payroll Reporting").await;
    let gone = api_package(&app, &t, "Old Reporting").await;
    let (status, _) = app
        .delete(&t.admin, &format!("/api/v1/accessPackages/{gone}"))
        .await;
    assert!(status.is_success());
    let grace = crate::fixtures::group_package(
        &app,
        &t,
        "Finance Share",
        crate::fixtures::open_policy(json!({})),
    )
    .await;
    let (_, ada) = app
        .user(&t, "ada@acme.test", json!({"displayName": "Ada"}))
        .await;
    let (status, request) = crate::fixtures::request(&app, &ada, grace.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    assert_eq!(request["state"], "delivered", "{request}");
    install_first_naming_functions(&app).await;

    // Every event of a kind that has a name, then each such kind against every id in the
    // tenant's tables (most pairs name nothing, and fall back to the log).
    let named_kinds = vec![
        "tenant",
        "user",
        "group",
        "catalog",
        "resource",
        "accessPackage",
        "policy",
        "assignmentRequest",
        "assignment",
        "roleAssignment",
        "apiToken",
        "accessReview",
        "accessReviewItem",
        "scimToken",
        "customExtension",
    ];
    let ids = "with ids as (
             select id from users union all select id from groups union all select id from catalogs
             union all select id from resources union all select id from access_packages
             union all select id from policies union all select id from assignment_requests
             union all select id from assignments union all select id from role_assignments
             union all select id from api_tokens union all select id from tenants
             union all select target_id from audit_events where target_id is not null)";
    let differ: Vec<(String, Uuid, Option<String>, Option<String>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{ids},
             pairs as (
                 select tenant_id as t, target_type as kind, target_id as id from audit_events
                 where target_type = any($2)
                 union
                 select $1, kind, ids.id from ids, unnest($2::text[]) as kind)
             select kind, id, audit_target_name(t, kind, id), audit_target_name_first(t, kind, id)
             from pairs
             where audit_target_name(t, kind, id) is distinct from audit_target_name_first(t, kind, id)"
        )))
        .bind(t.id)
        .bind(&named_kinds)
        .fetch_all(&app.pool)
        .await
        .expect("compare");
    assert!(differ.is_empty(), "{differ:?}");
    // Kinds that have no name get none, whatever the log holds for the id.
    let nameless: Vec<(String, Uuid, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ids}
         select kind, ids.id, audit_target_name($1, kind, ids.id)
         from ids, unnest(array['approvalLink', 'outboxItem', 'session', 'somethingElse']) as kind
         where audit_target_name($1, kind, ids.id) is not null"
    )))
    .bind(t.id)
    .fetch_all(&app.pool)
    .await
    .expect("nameless");
    assert!(nameless.is_empty(), "{nameless:?}");
    let people: i64 = sqlx::query_scalar(
        "select count(*) from users
         where audit_person_name(tenant_id, id) is distinct from audit_person_name_first(tenant_id, id)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("people");
    assert_eq!(people, 0);

    // The comparison saw names, not only nulls.
    let named: Vec<Option<String>> = sqlx::query_scalar(
        "select audit_target_name($1, kind, id) from (values
             ('accessPackage', $2::uuid), ('accessPackage', $3), ('assignmentRequest', $4)) as v (kind, id)",
    )
    .bind(t.id)
    .bind(kept)
    .bind(gone)
    .bind(uuid_of(&request["id"]))
    .fetch_all(&app.pool)
    .await
    .expect("names");
    assert_eq!(
        named,
        [
            Some("Payroll Reporting".to_string()),
            Some("Old Reporting".to_string()),
            Some("Finance Share for Ada <ada@acme.test>".to_string()),
        ]
    );
}
