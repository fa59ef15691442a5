//! DOMAIN.md §6 and §8: an approved request whose start is in the future waits as
//! `scheduled`, and the scheduler delivers it when the start arrives (not before); its
//! access then lasts the policy's duration from that start.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::json;

use super::{eventually, request_state};
use crate::fixtures::{decide, group_package, open_policy, request, sources};
use crate::helpers::{TestApp, uuid_of};

#[tokio::test]
async fn a_future_start_is_delivered_by_the_scheduler_when_it_arrives() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (approver, approver_token) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (adele, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Quarter close",
        open_policy(json!({
            "allowCustomSchedule": true,
            "expiration": {"type": "afterDays", "days": 10},
            "approval": {"stages": [{"approvers": [{"type": "user", "id": approver}]}]},
        })),
    )
    .await;
    let start = app.now() + Duration::days(3);
    let (status, req) = request(
        &app,
        &token,
        pkg.package,
        json!({"schedule": {"startDateTime": start.to_rfc3339_opts(SecondsFormat::Secs, true)}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "pendingApproval", "{req}");
    let (status, approved) = decide(&app, &approver_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["state"], "scheduled", "{approved}");
    assert!(sources(&app, pkg.group, adele).await.is_empty());

    // A second before the start, the scheduler leaves it alone.
    app.clock.advance(Duration::days(3) - Duration::seconds(1));
    tokio::time::sleep(StdDuration::from_millis(400)).await;
    assert_eq!(request_state(&app, &req).await, "scheduled");
    assert!(sources(&app, pkg.group, adele).await.is_empty());

    app.clock.advance(Duration::seconds(1));
    eventually("the scheduled request is delivered", || async {
        request_state(&app, &req).await == "delivered"
    })
    .await;
    let (status, answered) = app
        .get(
            &token,
            &format!(
                "/api/v1/assignmentRequests/{}",
                req["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    let assignment = uuid_of(&answered["assignmentId"]);
    assert_eq!(
        sources(&app, pkg.group, adele).await,
        [assignment.to_string()]
    );
    let (status, a) = app
        .get(&t.admin, &format!("/api/v1/assignments/{assignment}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["state"], "delivered", "{a}");
    let at = |v: &serde_json::Value| {
        DateTime::parse_from_rfc3339(v.as_str().expect("time"))
            .expect("rfc 3339")
            .with_timezone(&Utc)
    };
    assert_eq!(at(&a["startDateTime"]), start, "{a}");
    assert_eq!(at(&a["endDateTime"]), start + Duration::days(10), "{a}");
}
