//! `POST /api/v1/assignmentRequests/batch`: up to 1,000 requests at once, each submitted
//! on its own with its own status, so a refused one leaves the others done.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::{group_package, open_policy, sources};
use crate::helpers::TestApp;

#[tokio::test]
async fn a_batch_assigns_many_people_and_reports_each_refusal_without_undoing_the_rest() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(
        &app,
        &t,
        "Sales",
        open_policy(json!({"requireJustification": false})),
    )
    .await;
    let mut people = Vec::new();
    for i in 0..5 {
        let (id, _) = app
            .user(&t, &format!("person{i}@contoso.test"), json!({}))
            .await;
        people.push(id);
    }
    let mut items: Vec<Value> = people
        .iter()
        .map(|p| json!({"requestType": "adminAdd", "accessPackageId": gp.package, "targetUserId": p}))
        .collect();
    // The same person twice (the second is refused: they hold it by then) and someone
    // who does not exist.
    items.push(json!({"requestType": "adminAdd", "accessPackageId": gp.package, "targetUserId": people[0]}));
    items.push(json!({"requestType": "adminAdd", "accessPackageId": gp.package, "targetUserId": uuid::Uuid::new_v4()}));

    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests/batch",
            json!({"items": items}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 5, "{v}");
    assert_eq!(v["failed"], 2, "{v}");
    let results = v["items"].as_array().expect("items");
    assert_eq!(results.len(), 7);
    for (i, r) in results.iter().enumerate().take(5) {
        assert_eq!(r["index"], i);
        assert_eq!(r["status"], 201, "{r}");
        assert_eq!(r["request"]["state"], "delivered", "{r}");
    }
    assert_eq!(results[5]["status"], 409, "{}", results[5]);
    assert!(results[5]["problem"]["detail"].is_string());
    assert!(results[5]["request"].is_null());
    assert!(
        [404, 422].contains(&results[6]["status"].as_u64().unwrap_or(0)),
        "{}",
        results[6]
    );
    for p in &people {
        assert_eq!(
            sources(&app, gp.group, *p).await.len(),
            1,
            "each person is a member once"
        );
    }
}

#[tokio::test]
async fn a_batch_must_hold_one_to_a_thousand_requests_and_obeys_the_callers_rights() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let gp = group_package(&app, &t, "Sales", open_policy(json!({}))).await;
    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests/batch",
            json!({"items": []}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"]["items"].is_string(), "{v}");
    let (adele, _) = app.user(&t, "adele@contoso.test", json!({})).await;
    let one =
        json!({"requestType": "adminAdd", "accessPackageId": gp.package, "targetUserId": adele});
    let too_many: Vec<Value> = (0..1001).map(|_| one.clone()).collect();
    let (status, v) = app
        .post(
            &t.admin,
            "/api/v1/assignmentRequests/batch",
            json!({"items": too_many}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["errors"]["items"]
            .as_str()
            .unwrap_or_default()
            .contains("1001"),
        "{v}"
    );

    // A member may not assign others: each item says so, nothing is created.
    let (_, member) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (status, v) = app
        .post(
            &member,
            "/api/v1/assignmentRequests/batch",
            json!({"items": [one]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 0, "{v}");
    assert_eq!(v["items"][0]["status"], 403, "{v}");
    let (_, mine) = app
        .get(
            &t.admin,
            &format!("/api/v1/assignments?targetUserId={adele}"),
        )
        .await;
    assert_eq!(mine["items"], json!([]), "{mine}");
}
