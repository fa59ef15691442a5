//! Reports: every assignment (CSV and JSON, filters, streamed through a cursor in
//! chunks), what one person can access and why, who may see them (a refusal each),
//! and the admin page with its CSV download.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{decide, group_package, open_policy, request};
use crate::helpers::portal::admin_of;
use crate::helpers::{TestApp, TestTenant};

/// A raw GET with the API token: (status, content-type, body).
async fn raw(app: &TestApp, token: &str, path: &str, accept: &str) -> (StatusCode, String, String) {
    let res = app
        .client
        .get(format!("{}/api/v1{path}", app.address))
        .bearer_auth(token)
        .header("accept", accept)
        .send()
        .await
        .expect("get");
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, res.text().await.expect("body"))
}

fn csv_rows(body: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(|r| {
            r.expect("a CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// An approved request (approver `approver`) and a direct assignment by the admin.
async fn two_assignments(app: &TestApp, t: &TestTenant) -> (Uuid, Uuid, String) {
    let (approver, approver_token) = app
        .user(t, "grace@contoso.test", json!({"displayName": "Grace"}))
        .await;
    let (_, adele) = app
        .user(
            t,
            "adele@contoso.test",
            json!({"displayName": "Adele Vance"}),
        )
        .await;
    let (diego, _) = app
        .user(t, "diego@contoso.test", json!({"displayName": "Diego"}))
        .await;
    let gp = group_package(
        app,
        t,
        "Sales",
        open_policy(json!({"requireJustification": false, "approval": {"stages": [
            {"approvers": [{"type": "user", "id": approver}], "decision": "anyOne", "timeoutDays": 7}]}})),
    )
    .await;
    let (status, r) = request(app, &adele, gp.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (status, r) = decide(app, &approver_token, &r, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let (status, direct) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests",
            json!({"requestType": "adminAdd", "accessPackageId": gp.package, "targetUserId": diego}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{direct}");
    (gp.package, gp.catalog, t.admin_email.clone())
}

#[tokio::test]
async fn the_assignments_report_names_who_asked_and_who_approved_as_csv_and_json() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (package, catalog, admin_email) = two_assignments(&app, &t).await;

    let (status, kind, body) = raw(&app, &t.admin, "/reports/assignments", "text/csv").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let header = body.lines().next().expect("a header line");
    assert!(
        header.starts_with("assignmentId,catalog,accessPackage,userEmail"),
        "{header}"
    );
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), 2, "{body}");
    let adele = rows
        .iter()
        .find(|r| r[3] == "adele@contoso.test")
        .expect("adele's row");
    assert_eq!(adele[1], "General");
    assert_eq!(adele[2], "Sales");
    assert_eq!(adele[5], "delivered");
    assert_eq!(adele[10], "userAdd");
    assert_eq!(adele[11], "adele@contoso.test", "she asked");
    assert_eq!(adele[12], "grace@contoso.test", "grace approved");
    assert!(!adele[13].is_empty(), "the decision time");
    let diego = rows
        .iter()
        .find(|r| r[3] == "diego@contoso.test")
        .expect("diego's row");
    assert_eq!(diego[10], "adminAdd");
    assert_eq!(diego[11], admin_email, "the admin assigned");
    assert_eq!(diego[12], "", "nobody approved");

    // JSON, by ?format= (whatever Accept says), with the same rows.
    let (status, kind, body) = raw(
        &app,
        &t.admin,
        &format!("/reports/assignments?format=json&catalogId={catalog}&accessPackageId={package}"),
        "text/csv",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(kind, "application/json");
    let v: Value = serde_json::from_str(&body).expect("json");
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{v}");
    assert!(
        items
            .iter()
            .any(|i| i["approvedBy"] == "grace@contoso.test" && i["state"] == "delivered")
    );

    // Filters: state, the person, the end.
    let (_, v) = app
        .get(&t.admin, "/api/v1/reports/assignments?state=expired")
        .await;
    assert_eq!(v["items"], json!([]), "{v}");
    let diego_id: Uuid =
        sqlx::query_scalar("select id from users where email = 'diego@contoso.test'")
            .fetch_one(&app.pool)
            .await
            .expect("diego");
    let (_, v) = app
        .get(
            &t.admin,
            &format!("/api/v1/reports/assignments?targetUserId={diego_id}"),
        )
        .await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["items"][0]["userEmail"], "diego@contoso.test");
    let (_, v) = app
        .get(
            &t.admin,
            "/api/v1/reports/assignments?endingBefore=2100-01-01T00:00:00Z",
        )
        .await;
    assert_eq!(
        v["items"],
        json!([]),
        "access that never ends does not end before a date: {v}"
    );
}

#[tokio::test]
async fn a_large_report_is_read_in_chunks_and_arrives_whole_in_order() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    two_assignments(&app, &t).await;
    // Copies of the delivered assignments, enough for three chunks.
    let n = portico::services::reports::CHUNK as i64 * 2 + 500;
    sqlx::query(
        "insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at, request_id, created_at, updated_at)
         select a.tenant_id, uuidv7_like.id, a.package_id, a.policy_id, a.target_user_id, 'expired', a.start_at, a.start_at, a.request_id, a.created_at, a.updated_at
         from (select * from assignments where tenant_id = $1 limit 1) a,
              lateral (select gen_random_uuid() as id from generate_series(1, $2)) uuidv7_like",
    )
    .bind(t.id)
    .bind(n)
    .execute(&app.pool)
    .await
    .expect("copies");
    let (status, _, body) = raw(&app, &t.admin, "/reports/assignments?format=csv", "*/*").await;
    assert_eq!(status, StatusCode::OK);
    let rows = csv_rows(&body);
    assert_eq!(rows.len() as i64, n + 2);
    let ids: Vec<Uuid> = rows.iter().map(|r| r[0].parse().expect("an id")).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "in id order across chunks");
    let (_, v) = app
        .get(&t.admin, "/api/v1/reports/assignments?state=expired")
        .await;
    assert_eq!(
        v["items"].as_array().map(Vec::len),
        Some(n as usize),
        "JSON across chunks stays one document"
    );
}

#[tokio::test]
async fn reports_are_refused_to_people_without_a_role_and_limited_to_a_catalog_owners_catalogs() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    two_assignments(&app, &t).await;
    let (_, member) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (status, v) = app.get(&member, "/api/v1/reports/assignments").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");

    // An owner of another catalog sees that catalog's assignments only (none).
    let (status, other) = app
        .post(
            &t.admin,
            "/api/v1/catalogs",
            json!({"displayName": "Finance"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let finance = crate::helpers::uuid_of(&other["id"]);
    let (_, owner) = app
        .user_with_role(&t, "lynne@contoso.test", "catalogOwner", Some(finance))
        .await;
    let (status, v) = app.get(&owner, "/api/v1/reports/assignments").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["items"],
        json!([]),
        "the General catalog is not hers: {v}"
    );

    // The person report spans the tenant: tenant admins only.
    let (status, v) = app
        .get(
            &owner,
            &format!("/api/v1/reports/users/{}/access", t.admin_id),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = app
        .get(
            &t.admin,
            &format!("/api/v1/reports/users/{}/access", Uuid::new_v4()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn bad_report_filters_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    for (query, field) in [
        ("state=gone", "state"),
        ("endingBefore=tomorrow", "endingBefore"),
        ("catalogId=42", "catalogId"),
        ("format=xlsx", "format"),
        ("colour=red", "colour"),
    ] {
        let (status, v) = app
            .get(&t.admin, &format!("/api/v1/reports/assignments?{query}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {v}");
        assert!(v.to_string().contains(field), "{query}: {v}");
    }
    let (status, v) = app
        .get(
            &t.admin,
            &format!("/api/v1/reports/assignments?catalogId={}", Uuid::new_v4()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"]["catalogId"].is_string(), "{v}");
}

#[tokio::test]
async fn what_a_person_can_access_shows_each_source_with_its_request() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    two_assignments(&app, &t).await;
    let adele: Uuid = sqlx::query_scalar("select id from users where email = 'adele@contoso.test'")
        .fetch_one(&app.pool)
        .await
        .expect("adele");
    // A direct membership of another group and a catalog role.
    let other = crate::fixtures::group(&app, &t, "Board").await;
    let (status, v) = app
        .post(
            &t.admin,
            &format!("/api/v1/groups/{other}/members"),
            json!({"userId": adele}),
        )
        .await;
    assert!(status.is_success(), "{v}");
    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "catalogReader", "principal": {"type": "user", "id": adele},
                   "catalogId": crate::fixtures::general_catalog(&app, &t).await}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");

    let (status, v) = app
        .get(&t.admin, &format!("/api/v1/reports/users/{adele}/access"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let items = v["items"].as_array().expect("items");
    let of = |kind: &str| {
        items
            .iter()
            .filter(|i| i["kind"] == kind)
            .collect::<Vec<_>>()
    };
    let assignments = of("assignment");
    assert_eq!(assignments.len(), 1, "{v}");
    assert_eq!(assignments[0]["name"], "General / Sales");
    assert_eq!(assignments[0]["approvedBy"], "grace@contoso.test");
    assert_eq!(assignments[0]["requestedBy"], "adele@contoso.test");
    let groups = of("groupMembership");
    let sales = groups
        .iter()
        .find(|g| g["name"] == "Sales")
        .expect("the package's group");
    assert!(
        sales["via"]
            .as_str()
            .unwrap_or_default()
            .contains("(Sales)"),
        "{sales}"
    );
    let board = groups
        .iter()
        .find(|g| g["name"] == "Board")
        .expect("the direct group");
    assert_eq!(board["via"], "direct");
    let roles = of("role");
    assert_eq!(roles.len(), 1, "{v}");
    assert_eq!(roles[0]["name"], "catalogReader / General");

    let (status, kind, body) = raw(
        &app,
        &t.admin,
        &format!("/reports/users/{adele}/access"),
        "text/csv",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/csv"));
    assert_eq!(csv_rows(&body).len(), items.len());
}

#[tokio::test]
async fn the_reports_page_downloads_the_csv_and_shows_a_persons_access() {
    let app = TestApp::spawn().await;
    let (t, admin) = admin_of(&app, "contoso").await;
    two_assignments(&app, &t).await;

    let page = admin.get("/admin/reports").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Download CSV"));
    let csv = admin
        .get("/admin/reports/assignments.csv?state=delivered")
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert_eq!(csv_rows(&csv.body).len(), 2, "{}", csv.body);

    let bad = admin
        .get("/admin/reports/assignments.csv?email=nobody%40contoso.test&endingBefore=soon")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("Nobody in this tenant has this email address."),
        "{}",
        bad.body
    );

    let person = admin
        .get("/admin/reports?person=adele%40contoso.test")
        .await;
    assert_eq!(person.status, StatusCode::OK);
    assert!(person.body.contains("General / Sales"), "{}", person.body);
    assert!(person.body.contains("grace@contoso.test"));
    let unknown = admin
        .get("/admin/reports?person=nobody%40contoso.test")
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A member with no admin role does not get the page.
    app.user(&t, "megan@contoso.test", json!({})).await;
    let member = crate::helpers::portal::sign_in(&app, "contoso", "megan@contoso.test").await;
    let refused = member.get("/admin/reports/assignments.csv").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        !refused.body.contains("assignmentId,"),
        "no report for a member"
    );
}

#[tokio::test]
async fn the_conflicts_report_finds_people_holding_what_a_package_later_declared_incompatible() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (adele, token) = app
        .user(
            &t,
            "adele@contoso.test",
            json!({"displayName": "Adele Vance"}),
        )
        .await;
    let payments = group_package(
        &app,
        &t,
        "Payments",
        open_policy(json!({"requireJustification": false})),
    )
    .await;
    let approvals = group_package(
        &app,
        &t,
        "Payment approvals",
        open_policy(json!({"requireJustification": false})),
    )
    .await;
    let auditors = crate::fixtures::group(&app, &t, "Auditors").await;
    for p in [payments.package, approvals.package] {
        let (status, r) = request(&app, &token, p, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let (status, v) = app
        .post(
            &t.admin,
            &format!("/api/v1/groups/{auditors}/members"),
            json!({"userId": adele}),
        )
        .await;
    assert!(status.is_success(), "{v}");
    let (_, v) = app.get(&t.admin, "/api/v1/reports/conflicts").await;
    assert_eq!(v["items"], json!([]), "nothing is incompatible yet: {v}");

    // Declared afterwards: both conflicts exist now.
    let (status, v) = app
        .patch(
            &t.admin,
            &format!("/api/v1/accessPackages/{}", payments.package),
            json!({"incompatiblePackageIds": [approvals.package], "incompatibleGroupIds": [auditors]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, kind, body) = raw(&app, &t.admin, "/reports/conflicts", "text/csv").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(kind.starts_with("text/csv"));
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), 2, "{body}");
    let with: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[4].as_str(), r[5].as_str()))
        .collect();
    assert!(
        with.contains(&("accessPackage", "Payment approvals")),
        "{body}"
    );
    assert!(with.contains(&("group", "Auditors")), "{body}");
    assert!(
        rows.iter()
            .all(|r| r[0] == "adele@contoso.test" && r[3] == "Payments")
    );

    let (_, member) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (status, v) = app.get(&member, "/api/v1/reports/conflicts").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
}

/// Two reports of different columns read one after the other on the same database
/// connection: the second is read whole, through its own columns (the conflicts report
/// has 9, the audit report 12; the second was once read through the first's 9).
#[tokio::test]
async fn reports_of_other_columns_read_on_one_connection_keep_their_own_columns() {
    use portico::db::reports::{Source, next_rows, open};
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let tenant = portico::domain::ids::TenantId(t.id);
    let mut conn = app.pool.acquire().await.unwrap();
    for _ in 0..2 {
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        open(&mut tx, tenant, &Source::Conflicts { catalogs: None })
            .await
            .unwrap();
        next_rows(&mut tx, 10).await.unwrap();
        tx.rollback().await.unwrap();
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        let audit = portico::db::audit::AuditFilter::default();
        open(&mut tx, tenant, &Source::Audit(audit)).await.unwrap();
        let rows = next_rows(&mut tx, 10).await.expect("the audit rows decode");
        assert!(!rows.is_empty());
        assert!(
            rows.iter().all(|r| r.0.len() == 12),
            "{:?}",
            rows.iter().map(|r| r.0.len()).collect::<Vec<_>>()
        );
        tx.rollback().await.unwrap();
    }
}
