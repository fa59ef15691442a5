//! DOMAIN.md §5 `extension.requireApproval`: a holder's extension (`userUpdate`) runs the
//! policy's approval stages; the end moves only once the stage approves, by the policy's
//! duration from the old end.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::{decide, group_package, open_policy, request};
use crate::helpers::TestApp;

async fn end_of(app: &TestApp, token: &str, assignment: &Value) -> DateTime<Utc> {
    let (status, a) = app
        .get(
            token,
            &format!("/api/v1/assignments/{}", assignment.as_str().expect("id")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    DateTime::parse_from_rfc3339(a["endDateTime"].as_str().expect("an end"))
        .expect("rfc 3339")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn an_extension_needing_approval_goes_through_the_stage_then_the_end_moves() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (megan, megan_token) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Thirty days",
        open_policy(json!({
            "expiration": {"type": "afterDays", "days": 30},
            "extension": {"allowed": true, "requireApproval": true},
            "approval": {"stages": [{"approvers": [{"type": "user", "id": megan}]}]},
        })),
    )
    .await;
    let (_, req) = request(&app, &token, pkg.package, json!({})).await;
    let (_, delivered) = decide(&app, &megan_token, &req, "approve", None).await;
    assert_eq!(delivered["state"], "delivered", "{delivered}");
    let assignment = delivered["assignmentId"].clone();
    let first_end = end_of(&app, &token, &assignment).await;
    assert_eq!(first_end, app.now() + Duration::days(30));

    // Inside the last 14 days, Adele asks to extend: Megan is asked, nothing moves yet.
    app.clock.advance(Duration::days(20));
    let (status, ext) = app
        .post(
            &token,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userUpdate", "assignmentId": assignment}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ext}");
    assert_eq!(ext["requestType"], "userUpdate", "{ext}");
    assert_eq!(ext["state"], "pendingApproval", "{ext}");
    assert_eq!(
        super::stage_approvers(&ext, 0),
        vec![megan],
        "the policy's stage decides"
    );
    assert_eq!(end_of(&app, &token, &assignment).await, first_end);

    let (status, extended) = decide(&app, &megan_token, &ext, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    assert_eq!(extended["state"], "delivered", "{extended}");
    assert_eq!(extended["assignmentId"], assignment, "the same assignment");
    assert_eq!(
        end_of(&app, &token, &assignment).await,
        first_end + Duration::days(30)
    );

    // A denied extension leaves the end where it is.
    app.clock.advance(Duration::days(30));
    let (_, ext) = app
        .post(
            &token,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userUpdate", "assignmentId": assignment}),
        )
        .await;
    assert_eq!(ext["state"], "pendingApproval", "{ext}");
    let (_, denied) = decide(&app, &megan_token, &ext, "deny", None).await;
    assert_eq!(denied["state"], "denied", "{denied}");
    assert_eq!(
        end_of(&app, &token, &assignment).await,
        first_end + Duration::days(30)
    );
}
