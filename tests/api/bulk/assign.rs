//! `POST /api/v1/accessPackages/{id}/assignments/bulk`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{counts, users};
use crate::fixtures::{group, group_package, open_policy, sources};
use crate::helpers::TestApp;

fn bulk(package: uuid::Uuid) -> String {
    format!("/api/v1/accessPackages/{package}/assignments/bulk")
}

#[tokio::test]
async fn pasted_addresses_assign_everyone_in_one_call_with_a_result_per_row() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let ids = users(&app, &t, &["ada", "bob", "cy"]).await;

    let (status, v) = app
        .post(
            &t.admin,
            &bulk(gp.package),
            json!({"policyId": gp.policy, "emails": ["ADA@contoso.test\nbob@contoso.test; ", "cy@contoso.test"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["done"], 3, "{v}");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows[0]["row"], 1);
    assert_eq!(rows[0]["email"], "ada@contoso.test");
    assert_eq!(rows[2]["row"], 3);
    for r in rows {
        assert_eq!(r["requestState"], "delivered", "{r}");
        assert!(r["assignmentId"].is_string(), "{r}");
    }
    for id in ids {
        assert_eq!(sources(&app, gp.group, id).await.len(), 1, "delivered");
    }
    let request = rows[1]["requestId"].as_str().expect("request id");
    assert!(
        app.audit_actions(request.parse().expect("uuid"))
            .await
            .contains(&"assignmentRequest.created".to_string())
    );
}

#[tokio::test]
async fn a_csv_assigns_with_each_rows_own_end_and_justification() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(
        &app,
        &t,
        "Sales",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 90}})),
    )
    .await;
    users(&app, &t, &["ada", "bob"]).await;
    let csv = "name,Email,end,justification\nAda,ada@contoso.test,2027-01-15,audit season\nBob,bob@contoso.test,,\n";

    let (status, v) = app
        .post(
            &t.admin,
            &bulk(gp.package),
            json!({"csv": csv, "justification": "team"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["rows"][0]["row"], 2, "a CSV row is named by its line");
    let (_, ada) = app
        .get(
            &t.admin,
            &format!(
                "/api/v1/assignmentRequests/{}",
                v["rows"][0]["requestId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(ada["justification"], "audit season", "{ada}");
    assert!(
        ada["schedule"]["endDateTime"]
            .as_str()
            .unwrap_or_default()
            .starts_with("2027-01-15"),
        "{ada}"
    );
    let (_, bob) = app
        .get(
            &t.admin,
            &format!(
                "/api/v1/assignmentRequests/{}",
                v["rows"][1]["requestId"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(bob["justification"], "team", "{bob}");
}

#[tokio::test]
async fn a_csv_without_an_email_column_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let (status, v) = app
        .post(
            &t.admin,
            &bulk(gp.package),
            json!({"csv": "name,mail\nAda,ada@contoso.test\n"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["errors"]["csv"]
            .as_str()
            .unwrap_or_default()
            .contains("no email column"),
        "{v}"
    );
}

#[tokio::test]
async fn a_group_assigns_its_direct_members() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let team = group(&app, &t, "Team").await;
    let ids = users(&app, &t, &["ada", "bob", "cy"]).await;
    for id in &ids[..2] {
        let (status, m) = app
            .post(
                &t.admin,
                &format!("/api/v1/groups/{team}/members"),
                json!({"userId": id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{m}");
    }

    let (status, v) = app
        .post(&t.admin, &bulk(gp.package), json!({"groupId": team}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["done"], 2, "{v}");
    assert_eq!(sources(&app, gp.group, ids[0]).await.len(), 1);
    assert_eq!(sources(&app, gp.group, ids[1]).await.len(), 1);
    assert!(
        sources(&app, gp.group, ids[2]).await.is_empty(),
        "not a member of the team"
    );
}

#[tokio::test]
async fn one_bad_row_writes_nothing_and_each_bad_row_is_named() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(
        &app,
        &t,
        "Sales",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 30}})),
    )
    .await;
    let ids = users(&app, &t, &["ada", "bob", "cy", "dee"]).await;
    // Dee already holds the package.
    let (status, v) = app
        .post(
            &t.admin,
            &bulk(gp.package),
            json!({"emails": ["dee@contoso.test"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let before = counts(&app, &t).await;

    let csv = "email,end\nada@contoso.test,\nbob@contoso.test,\nnobody@contoso.test,\nada@contoso.test,\ndee@contoso.test,\ncy@contoso.test,2030-01-01\n";
    let (status, v) = app
        .post(&t.admin, &bulk(gp.package), json!({"csv": csv}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let errors = v["errors"].as_object().expect("errors");
    assert_eq!(errors.len(), 4, "{v}");
    let says = |key: &str, text: &str| {
        let m = errors.get(key).and_then(Value::as_str).unwrap_or_default();
        assert!(m.contains(text), "{key}: {m}");
    };
    says(
        "rows[2].email",
        "no user with the email address nobody@contoso.test",
    );
    says("rows[3].email", "also on row 2");
    says("rows[4].email", "already has this access package");
    says("rows[5].end", "at the latest");
    assert!(
        errors["rows[2].email"]
            .as_str()
            .unwrap_or_default()
            .starts_with("row 4 ")
    );

    assert_eq!(counts(&app, &t).await, before, "nothing was written");
    assert!(
        sources(&app, gp.group, ids[0]).await.is_empty(),
        "ada was not assigned"
    );
}

#[tokio::test]
async fn a_separation_of_duties_conflict_refuses_its_row() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let blocked = crate::fixtures::group(&app, &t, "Auditors").await;
    let ids = users(&app, &t, &["ada", "bob"]).await;
    let (status, _) = app
        .post(
            &t.admin,
            &format!("/api/v1/groups/{blocked}/members"),
            json!({"userId": ids[1]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    sqlx::query(
        "insert into incompatible_groups (tenant_id, package_id, group_id) values ($1, $2, $3)",
    )
    .bind(t.id)
    .bind(gp.package)
    .bind(blocked)
    .execute(&app.pool)
    .await
    .expect("incompatible group");
    let before = counts(&app, &t).await;
    let (status, v) = app
        .post(
            &t.admin,
            &bulk(gp.package),
            json!({"emails": ["ada@contoso.test", "bob@contoso.test"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["errors"]["rows[1].email"]
            .as_str()
            .unwrap_or_default()
            .contains("Auditors"),
        "{v}"
    );
    assert!(v["errors"].get("rows[0].email").is_none(), "{v}");
    assert_eq!(counts(&app, &t).await, before);
}

#[tokio::test]
async fn more_than_ten_thousand_rows_are_refused_naming_the_limit() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let emails: Vec<String> = (0..10_001).map(|i| format!("p{i}@contoso.test")).collect();
    let (status, v) = app
        .post(&t.admin, &bulk(gp.package), json!({"emails": emails}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let m = v["errors"]["emails"].as_str().unwrap_or_default();
    assert!(m.contains("10000") && m.contains("10001"), "{v}");

    let (status, v) = app
        .post(&t.admin, &bulk(gp.package), json!({"emails": [" "]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, v) = app
        .post(
            &t.admin,
            &bulk(gp.package),
            json!({"emails": ["a@contoso.test"], "csv": "email\n"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"]["emails"].is_string(), "{v}");
}

#[tokio::test]
async fn a_member_may_not_bulk_assign_and_another_tenants_package_or_group_is_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let other = app.tenant("fabrikam").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let theirs = group_package(&app, &other, "Theirs", open_policy(json!({}))).await;
    let their_group = group(&app, &other, "Their team").await;
    let (_, member) = app.user(&t, "megan@contoso.test", json!({})).await;
    let before = counts(&app, &t).await;
    let body = json!({"emails": ["megan@contoso.test"]});

    let (status, v) = app.post(&member, &bulk(gp.package), body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    let (status, v) = app.post(&t.admin, &bulk(theirs.package), body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let (status, v) = app
        .post(&t.admin, &bulk(gp.package), json!({"groupId": their_group}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"]["groupId"].is_string(), "{v}");
    let (status, v) = app
        .post(
            &t.admin,
            &bulk(gp.package),
            json!({"emails": ["megan@contoso.test"], "policyId": theirs.policy}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"]["policyId"].is_string(), "{v}");
    assert_eq!(counts(&app, &t).await, before);
}

/// A call long enough that its history is written as it goes (`TRAIL_FLUSH`) is still
/// all or nothing, and when carried out keeps every row's history.
#[tokio::test]
async fn a_long_call_writes_its_history_as_it_goes_and_is_still_all_or_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let rows: i64 = 700;
    sqlx::query(
        "insert into users (tenant_id, id, email, display_name, kind, active, created_at, updated_at)
         select $1, gen_random_uuid(), 'person' || i || '@contoso.test', 'Person ' || i, 'member', true, now(), now()
         from generate_series(1, $2) i",
    )
    .bind(t.id)
    .bind(rows)
    .execute(&app.pool)
    .await
    .expect("people");
    let mut emails: Vec<String> = (1..=rows)
        .map(|i| format!("person{i}@contoso.test"))
        .collect();
    let before = counts(&app, &t).await;

    emails.push("nobody@contoso.test".into());
    let (status, v) = app
        .post(&t.admin, &bulk(gp.package), json!({"emails": emails}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(counts(&app, &t).await, before, "nothing was written");
    let queued: i64 = sqlx::query_scalar("select count(*) from outbox where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("outbox");

    emails.pop();
    let (status, v) = app
        .post(&t.admin, &bulk(gp.package), json!({"emails": emails}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (requests, assignments, events) = counts(&app, &t).await;
    assert_eq!((requests, assignments), (before.0 + rows, before.1 + rows));
    let unrecorded: i64 = sqlx::query_scalar(
        "select count(*) from assignment_requests r
         where r.tenant_id = $1
           and not exists (select 1 from audit_events e where e.tenant_id = r.tenant_id
                           and e.target_id = r.id and e.action = 'assignmentRequest.created')",
    )
    .bind(t.id)
    .fetch_one(&app.pool)
    .await
    .expect("history");
    assert_eq!(unrecorded, 0, "every request has its creation in the log");
    assert!(
        events - before.2 >= 3 * rows,
        "{} events",
        events - before.2
    );
    let queued_after: i64 = sqlx::query_scalar("select count(*) from outbox where tenant_id = $1")
        .bind(t.id)
        .fetch_one(&app.pool)
        .await
        .expect("outbox");
    assert!(queued_after > queued, "the rows' emails are queued");
}
