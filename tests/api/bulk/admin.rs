//! The admin pages: "Bulk assign" and the ticked assignments' removal and extension.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::counts;
use crate::fixtures::{group_package, open_policy, sources};
use crate::helpers::TestApp;
use crate::helpers::portal::{admin_of, sign_in};

#[tokio::test]
async fn the_bulk_assign_form_shows_each_row_and_assigns_only_when_all_are_good() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let (ada, _) = app.user(&t, "ada@contoso.test", json!({})).await;
    let (bob, _) = app.user(&t, "bob@contoso.test", json!({})).await;
    let path = format!("/admin/packages/{}/assignments/bulk", gp.package);
    let policy = gp.policy.to_string();

    let page = b
        .get(&format!("/admin/packages/{}/assignments", gp.package))
        .await;
    assert!(
        page.body.contains(&format!("{path}\"")),
        "a link to the bulk page"
    );
    let form = b.get(&path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("name=\"csrf_token\""));

    let before = counts(&app, &t).await;
    let refused = b
        .post(
            &path,
            &[
                ("source", "emails"),
                ("emails", "ada@contoso.test\nghost@contoso.test"),
                ("policyId", &policy),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("Nothing was done: 1 of 2 rows were refused")
    );
    assert!(
        refused
            .body
            .contains("there is no user with the email address ghost@contoso.test")
    );
    assert!(
        refused
            .body
            .contains("ada@contoso.test\nghost@contoso.test"),
        "the input is kept: {}",
        refused.body
    );
    assert_eq!(counts(&app, &t).await, before);

    let done = b
        .post(
            &path,
            &[
                ("source", "csv"),
                (
                    "csv",
                    "email,justification\nada@contoso.test,team\nbob@contoso.test,team\n",
                ),
                ("policyId", &policy),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Done: 2 assigned."), "{}", done.body);
    assert_eq!(sources(&app, gp.group, ada).await.len(), 1);
    assert_eq!(sources(&app, gp.group, bob).await.len(), 1);

    // Without the CSRF token nothing happens.
    let forged = b
        .post_raw(
            &path,
            &[("source", "emails"), ("emails", "ada@contoso.test")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
}

#[tokio::test]
async fn ticked_assignments_are_removed_or_extended_from_the_assignments_page() {
    let app = TestApp::spawn().await;
    let (t, b) = admin_of(&app, "contoso").await;
    let gp = group_package(
        &app,
        &t,
        "Sales",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 30}, "extension": {"allowed": true, "requireApproval": false}})),
    )
    .await;
    let (ada, _) = app.user(&t, "ada@contoso.test", json!({})).await;
    let (bob, _) = app.user(&t, "bob@contoso.test", json!({})).await;
    let (status, v) = app
        .post(
            &t.admin,
            &format!("/api/v1/accessPackages/{}/assignments/bulk", gp.package),
            json!({"emails": ["ada@contoso.test", "bob@contoso.test"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let ids: Vec<String> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["assignmentId"].as_str().expect("id").to_string())
        .collect();
    let list = b
        .get(&format!("/admin/packages/{}/assignments", gp.package))
        .await;
    for id in &ids {
        assert!(
            list.body
                .contains(&format!("value=\"{id}\" form=\"bulk-change\"")),
            "a checkbox per assignment"
        );
    }
    let change = format!("/admin/packages/{}/assignments/bulk-change", gp.package);

    app.clock.advance(chrono::Duration::days(20));
    // The session of 20 days ago has ended: sign in again.
    let b = sign_in(&app, "contoso", &t.admin_email).await;
    let too_far = b
        .post(
            &change,
            &[
                ("action", "extend"),
                ("bulkEnd", "2027-12-31T00:00"),
                ("ids", &ids[0]),
                ("ids", &ids[1]),
            ],
        )
        .await;
    assert_eq!(
        too_far.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_far.body
    );
    assert!(too_far.body.contains("at the latest"), "{}", too_far.body);

    let extended = b
        .post(
            &change,
            &[
                ("action", "extend"),
                ("bulkEnd", "2027-02-20T00:00"),
                ("ids", &ids[0]),
            ],
        )
        .await;
    assert_eq!(extended.status, StatusCode::OK, "{}", extended.body);
    assert!(
        extended.body.contains("Done: 1 extended."),
        "{}",
        extended.body
    );
    let end: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select end_at from assignments where id = $1")
            .bind(Uuid::parse_str(&ids[0]).expect("uuid"))
            .fetch_one(&app.pool)
            .await
            .expect("end");
    assert_eq!(end.format("%Y-%m-%d").to_string(), "2027-02-20");

    let removed = b
        .post(
            &change,
            &[("action", "remove"), ("ids", &ids[0]), ("ids", &ids[1])],
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert!(
        removed.body.contains("Done: 2 removed."),
        "{}",
        removed.body
    );
    assert!(sources(&app, gp.group, ada).await.is_empty());
    assert!(sources(&app, gp.group, bob).await.is_empty());

    // A member without a role cannot use the pages.
    app.user(&t, "megan@contoso.test", json!({})).await;
    let member = sign_in(&app, "contoso", "megan@contoso.test").await;
    let page = member
        .get(&format!("/admin/packages/{}/assignments/bulk", gp.package))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
}
