//! The scheduler's lifecycle jobs with a manual clock crossing each time boundary:
//! expiry (revocation within one interval), expiry warnings (once each), escalation,
//! stage time-out, approver reminders — and two replicas doing each piece once.

use std::time::Duration as StdDuration;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{decide, group_package, open_policy, request, sources};
use crate::helpers::{TestApp, uuid_of};

/// Emails queued for `user` with this notice template.
pub async fn emails(app: &TestApp, user: Uuid, template: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "select payload from outbox where kind = 'email' and payload ->> 'to' = $1
           and payload -> 'notice' ->> 'template' = $2 order by id",
    )
    .bind(user.to_string())
    .bind(template)
    .fetch_all(&app.pool)
    .await
    .expect("outbox")
}

/// Polls `check` until it holds (the scheduler runs every 100 ms in tests).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

async fn assignment_state(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("select state from assignments where id = $1")
        .bind(uuid_of(&json!(id)))
        .fetch_one(&app.pool)
        .await
        .expect("state")
}

#[tokio::test]
async fn access_ends_on_time_and_its_membership_is_revoked() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (user, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Pkg",
        open_policy(json!({"expiration": {"type": "afterHours", "hours": 2}})),
    )
    .await;
    let (_, req) = request(&app, &token, pkg.package, json!({})).await;
    let assignment = req["assignmentId"].as_str().expect("id").to_string();

    app.clock.advance(Duration::hours(2) - Duration::seconds(1));
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert_eq!(
        assignment_state(&app, &assignment).await,
        "delivered",
        "not a second early"
    );

    app.clock.advance(Duration::seconds(1));
    eventually("the assignment expires", || async {
        assignment_state(&app, &assignment).await == "expired"
    })
    .await;

    assert!(
        sources(&app, pkg.group, user).await.is_empty(),
        "membership revoked"
    );
    let (_, a) = app
        .get(&token, &format!("/api/v1/assignments/{assignment}"))
        .await;
    assert_eq!(a["grants"][0]["state"], "revoked");
    assert_eq!(a["removalReason"], Value::Null);
    assert_eq!(
        emails(&app, user, "accessEnded").await.len(),
        1,
        "the holder is told"
    );
    let (_, history) = app
        .get(
            &t.admin,
            &format!("/api/v1/assignmentRequests?targetUserId={user}"),
        )
        .await;
    assert!(
        history["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|r| r["requestType"] == "systemRemove")
    );
}

#[tokio::test]
async fn holders_are_warned_fourteen_days_and_one_day_before_the_end_once_each() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (user, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let long = group_package(
        &app,
        &t,
        "Long",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 30}, "extension": {"allowed": true}})),
    )
    .await;
    request(&app, &token, long.package, json!({})).await;

    app.clock.advance(Duration::days(16) - Duration::minutes(1));
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert!(
        emails(&app, user, "accessExpiring").await.is_empty(),
        "not before 14 days remain"
    );

    app.clock.advance(Duration::minutes(2));
    eventually("the 14-day warning", || async {
        emails(&app, user, "accessExpiring").await.len() == 1
    })
    .await;
    let warning = &emails(&app, user, "accessExpiring").await[0];
    assert_eq!(warning["notice"]["daysLeft"], 14);
    assert_eq!(warning["notice"]["canExtend"], true);

    app.clock.advance(Duration::days(1));
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert_eq!(
        emails(&app, user, "accessExpiring").await.len(),
        1,
        "each warning once"
    );

    app.clock
        .set(crate::helpers::start_time() + Duration::days(29) + Duration::minutes(1));
    eventually("the 1-day warning", || async {
        emails(&app, user, "accessExpiring").await.len() == 2
    })
    .await;
    assert_eq!(
        emails(&app, user, "accessExpiring").await[1]["notice"]["daysLeft"],
        1
    );
}

#[tokio::test]
async fn a_short_assignment_gets_only_the_one_day_warning() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (user, token) = app.user(&t, "alex@contoso.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Short",
        open_policy(json!({"expiration": {"type": "afterDays", "days": 10}})),
    )
    .await;
    request(&app, &token, pkg.package, json!({})).await;

    app.clock.advance(Duration::days(9) + Duration::minutes(1));
    eventually("the 1-day warning", || async {
        emails(&app, user, "accessExpiring").await.len() == 1
    })
    .await;
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let warnings = emails(&app, user, "accessExpiring").await;
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0]["notice"]["daysLeft"], 1);
}

#[tokio::test]
async fn escalation_adds_the_alternate_approvers_who_may_then_decide() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (manager, _) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (_, token) = app
        .user(&t, "adele@contoso.test", json!({"managerId": manager}))
        .await;
    let (alternate, alternate_token) = app
        .user(&t, "diego@contoso.test", json!({"displayName": "Diego"}))
        .await;
    let pkg = group_package(
        &app,
        &t,
        "Pkg",
        open_policy(
            json!({"approval": {"stages": [{"approvers": [{"type": "manager"}], "timeoutDays": 7,
            "escalation": {"afterDays": 2, "approvers": [{"type": "user", "id": alternate}]}}]}}),
        ),
    )
    .await;
    let (_, req) = request(&app, &token, pkg.package, json!({})).await;
    let path = format!(
        "/api/v1/assignmentRequests/{}",
        req["id"].as_str().expect("id")
    );
    let (status, _) = decide(&app, &alternate_token, &req, "approve", None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not an approver before escalation"
    );

    app.clock.advance(Duration::days(2) + Duration::minutes(1));
    eventually("escalation", || async {
        let (_, r) = app.get(&t.admin, &path).await;
        r["stages"][0]["approverIds"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    })
    .await;

    let asked = emails(&app, alternate, "approvalNeeded").await;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["notice"]["reason"], "escalated");
    assert!(
        app.audit_actions(uuid_of(&req["id"]))
            .await
            .contains(&"assignmentRequest.escalated".to_string())
    );
    let (status, done) = decide(&app, &alternate_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "delivered");
}

#[tokio::test]
async fn a_stage_without_a_decision_by_its_due_time_expires_the_request() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (manager, manager_token) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (user, token) = app
        .user(&t, "adele@contoso.test", json!({"managerId": manager}))
        .await;
    let pkg = group_package(
        &app,
        &t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [{"approvers": [{"type": "manager"}], "timeoutDays": 3}]}})),
    )
    .await;
    let (_, req) = request(&app, &token, pkg.package, json!({})).await;
    let path = format!(
        "/api/v1/assignmentRequests/{}",
        req["id"].as_str().expect("id")
    );

    app.clock.advance(Duration::days(3) - Duration::minutes(1));
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert_eq!(app.get(&token, &path).await.1["state"], "pendingApproval");

    app.clock.advance(Duration::minutes(2));
    eventually("the request expires", || async {
        app.get(&token, &path).await.1["state"] == "expired"
    })
    .await;

    let (_, r) = app.get(&token, &path).await;
    assert_eq!(r["stages"][0]["state"], "expired");
    assert_eq!(
        emails(&app, user, "requestExpired").await.len(),
        1,
        "the requestor is told"
    );
    let (status, problem) = decide(&app, &manager_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"].as_str().unwrap_or("").contains("expired"),
        "{problem}"
    );
    assert!(sources(&app, pkg.group, user).await.is_empty());
}

#[tokio::test]
async fn approvers_are_reminded_once_halfway_to_the_due_time() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (manager, _) = app.user(&t, "megan@contoso.test", json!({})).await;
    let (_, token) = app
        .user(&t, "adele@contoso.test", json!({"managerId": manager}))
        .await;
    let pkg = group_package(
        &app,
        &t,
        "Pkg",
        open_policy(json!({"approval": {"stages": [{"approvers": [{"type": "manager"}], "timeoutDays": 4}]}})),
    )
    .await;
    request(&app, &token, pkg.package, json!({})).await;
    assert_eq!(emails(&app, manager, "approvalNeeded").await.len(), 1);

    app.clock.advance(Duration::days(2) + Duration::minutes(1));
    eventually("the reminder", || async {
        emails(&app, manager, "approvalNeeded").await.len() == 2
    })
    .await;
    app.clock.advance(Duration::hours(12));
    tokio::time::sleep(StdDuration::from_millis(300)).await;

    let asked = emails(&app, manager, "approvalNeeded").await;
    assert_eq!(asked.len(), 2, "one reminder only");
    assert_eq!(asked[1]["notice"]["reason"], "reminder");
    let links: i64 = sqlx::query_scalar(
        "select count(distinct token_hash) from approval_links where approver_id = $1",
    )
    .bind(manager)
    .fetch_one(&app.pool)
    .await
    .expect("links");
    assert_eq!(links, 2, "the reminder carries a fresh link");
}

#[tokio::test]
async fn two_replicas_on_one_database_do_each_piece_of_work_once() {
    let app = TestApp::spawn().await;
    let replica = TestApp::spawn_on(app.pool.clone(), app.db_options.clone()).await;
    let t = app.tenant("contoso").await;
    let pkg = group_package(
        &app,
        &t,
        "Pkg",
        open_policy(json!({"expiration": {"type": "afterHours", "hours": 1}})),
    )
    .await;
    let mut users = Vec::new();
    for i in 0..30 {
        let (id, _) = app
            .user(&t, &format!("user{i}@contoso.test"), json!({}))
            .await;
        let (status, _) = app
            .post(&t.admin, "/api/v1/assignmentRequests", json!({"requestType": "adminAdd", "accessPackageId": pkg.package, "targetUserId": id}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        users.push(id);
    }

    let later = crate::helpers::start_time() + Duration::hours(1) + Duration::minutes(1);
    app.clock.set(later);
    replica.clock.set(later);
    eventually("all expire", || async {
        let active: i64 =
            sqlx::query_scalar("select count(*) from assignments where state <> 'expired'")
                .fetch_one(&app.pool)
                .await
                .expect("count");
        active == 0
    })
    .await;
    tokio::time::sleep(StdDuration::from_millis(300)).await;

    let removals: i64 = sqlx::query_scalar(
        "select count(*) from assignment_requests where request_type = 'systemRemove'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(removals, 30, "one removal per assignment");
    for user in users {
        assert_eq!(
            emails(&app, user, "accessEnded").await.len(),
            1,
            "one email per holder"
        );
    }
}

/// The end of the assignment a request delivered.
async fn assignment_end(app: &TestApp, request: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("select end_at from assignments where request_id = $1")
        .bind(uuid_of(&request["id"]))
        .fetch_one(&app.pool)
        .await
        .expect("the assignment")
}

/// DOMAIN.md §5: "access lasts N days" counts from the start of the assignment, so an
/// approval that takes 13 days does not leave 77 of 90; a chosen end date stays as chosen.
#[tokio::test]
async fn access_lasts_its_days_from_delivery_not_from_the_request() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (_, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (approver, approver_token) = app.user(&t, "megan@contoso.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Ninety days",
        open_policy(json!({
            "expiration": {"type": "afterDays", "days": 90},
            "allowCustomSchedule": true,
            "approval": {"stages": [{"approvers": [{"type": "user", "id": approver}]}]},
        })),
    )
    .await;
    let submitted_at = app.now();
    let (status, req) = request(&app, &token, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");

    app.clock.advance(Duration::days(13));
    let approved_at = app.now();
    let (status, body) = decide(&app, &approver_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "delivered", "{body}");
    let end = approved_at + Duration::days(90);
    let (_, answered) = app
        .get(
            &token,
            &format!("/api/v1/assignmentRequests/{}", uuid_of(&req["id"])),
        )
        .await;
    assert_eq!(
        answered["schedule"]["endDateTime"],
        json!(end),
        "the request shows the end counted from delivery: {answered}"
    );
    let held = assignment_end(&app, &req).await;
    assert_eq!(held, Some(end), "not {}", submitted_at + Duration::days(90));

    // An end the requestor chose is kept, however long the approval takes.
    let (_, other_token) = app.user(&t, "alex@contoso.test", json!({})).await;
    let chosen = app.now() + Duration::days(30);
    let (status, req) = request(
        &app,
        &other_token,
        pkg.package,
        json!({"schedule": {"endDateTime": chosen}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    app.clock.advance(Duration::days(5));
    let (status, body) = decide(&app, &approver_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let held = assignment_end(&app, &req).await;
    assert_eq!(held, Some(chosen));
}

/// Why delivery refused a request, from its audit trail.
async fn refusal_reason(app: &TestApp, request: &Value) -> String {
    sqlx::query_scalar(
        "select details->>'reason' from audit_events
         where target_id = $1 and action = 'assignmentRequest.deliveryFailed'",
    )
    .bind(uuid_of(&request["id"]))
    .fetch_optional(&app.pool)
    .await
    .expect("audit query")
    .flatten()
    .unwrap_or_default()
}

/// DOMAIN.md §6: what a request needed when it was made is checked again when it is
/// delivered: the catalog still enabled, the policy still taking requests, the requestor
/// still in its scope. Each refusal fails the request with its reason and grants nothing.
#[tokio::test]
async fn delivery_rechecks_the_catalog_the_policy_switch_and_the_requestor_scope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (approver, approver_token) = app.user(&t, "megan@contoso.test", json!({})).await;
    let approval = json!({"stages": [{"approvers": [{"type": "user", "id": approver}]}]});
    let settings = open_policy(json!({"approval": approval}));
    let pkg = group_package(&app, &t, "Rechecked", settings.clone()).await;
    let policy_path = format!("/api/v1/policies/{}", pkg.policy);
    let put_policy = |body: Value| {
        let mut body = body;
        body["displayName"] = json!("Policy");
        app.put(&t.admin, &policy_path, body)
    };

    // The catalog is disabled while the request waits.
    let (adele, adele_token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (_, req) = request(&app, &adele_token, pkg.package, json!({})).await;
    let catalog_path = format!("/api/v1/catalogs/{}", pkg.catalog);
    let (status, body) = app
        .patch(&t.admin, &catalog_path, json!({"enabled": false}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = decide(&app, &approver_token, &req, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "deliveryFailed", "{body}");
    assert!(
        refusal_reason(&app, &req).await.contains("catalog"),
        "{body}"
    );
    assert!(sources(&app, pkg.group, adele).await.is_empty());
    app.patch(&t.admin, &catalog_path, json!({"enabled": true}))
        .await;

    // The policy stops taking requests.
    let (alex, alex_token) = app.user(&t, "alex@contoso.test", json!({})).await;
    let (_, req) = request(&app, &alex_token, pkg.package, json!({})).await;
    let mut off = settings.clone();
    off["requestsEnabled"] = json!(false);
    let (status, body) = put_policy(off).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = decide(&app, &approver_token, &req, "approve", None).await;
    assert_eq!(body["state"], "deliveryFailed", "{body}");
    assert!(refusal_reason(&app, &req).await.contains("turned off"));
    assert!(sources(&app, pkg.group, alex).await.is_empty());

    // The requestor leaves the policy's scope.
    let (diego, diego_token) = app.user(&t, "diego@contoso.test", json!({})).await;
    let only = |who: Uuid| {
        json!({"requestors": {"scope": "specific", "principals": [{"type": "user", "id": who}]},
               "approval": approval})
    };
    let (status, body) = put_policy(only(diego)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, req) = request(&app, &diego_token, pkg.package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    put_policy(only(alex)).await;
    let (_, body) = decide(&app, &approver_token, &req, "approve", None).await;
    assert_eq!(body["state"], "deliveryFailed", "{body}");
    assert!(refusal_reason(&app, &req).await.contains("scope"));
    assert!(sources(&app, pkg.group, diego).await.is_empty());
}

/// An extension that needs approval needs the approval stages that give it: without
/// stages the policy is refused at that field, with what to do.
#[tokio::test]
async fn an_extension_needing_approval_without_stages_is_refused_at_its_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let pkg = group_package(&app, &t, "Extended", open_policy(json!({}))).await;
    let body = json!({"displayName": "Extendable", "requestors": {"scope": "allMembers"},
        "expiration": {"type": "afterDays", "days": 30},
        "extension": {"allowed": true, "requireApproval": true}});
    let path = format!("/api/v1/accessPackages/{}/policies", pkg.package);
    let (status, problem) = app.post(&t.admin, &path, body.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let message = problem["errors"]["extension.requireApproval"]
        .to_string()
        .to_lowercase();
    assert!(message.contains("add a stage"), "{problem}");

    let mut staged = body;
    staged["approval"] = json!({"stages": [{"approvers": [{"type": "manager"}]}]});
    let (status, created) = app.post(&t.admin, &path, staged).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

async fn request_state(app: &TestApp, request: &Value) -> String {
    sqlx::query_scalar("select state from assignment_requests where id = $1")
        .bind(uuid_of(&request["id"]))
        .fetch_one(&app.pool)
        .await
        .expect("request state")
}

/// An extension request still waiting for approval when its assignment ends (expiry or
/// removal) is canceled: there is nothing left to extend, and no approver is left asked.
#[tokio::test]
async fn an_open_extension_request_is_canceled_when_its_assignment_ends() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (adele, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (approver, approver_token) = app.user(&t, "megan@contoso.test", json!({})).await;
    let pkg = group_package(
        &app,
        &t,
        "Ten days",
        open_policy(json!({
            "expiration": {"type": "afterDays", "days": 10},
            "extension": {"allowed": true, "requireApproval": true},
            "approval": {"stages": [{"approvers": [{"type": "user", "id": approver}]}]},
        })),
    )
    .await;
    let (_, req) = request(&app, &token, pkg.package, json!({})).await;
    let (_, delivered) = decide(&app, &approver_token, &req, "approve", None).await;
    assert_eq!(delivered["state"], "delivered", "{delivered}");

    // Expiry: the extension asked on day 5 is still waiting on day 10.
    app.clock.advance(Duration::days(5));
    let extend = json!({"requestType": "userUpdate", "assignmentId": delivered["assignmentId"]});
    let (status, ext) = app
        .post(&token, "/api/v1/assignmentRequests", extend.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ext}");
    assert_eq!(ext["state"], "pendingApproval", "{ext}");
    app.clock.advance(Duration::days(5) + Duration::minutes(1));
    eventually(
        "the extension is canceled with its expired assignment",
        || async { request_state(&app, &ext).await == "canceled" },
    )
    .await;
    let (status, late) = decide(&app, &approver_token, &ext, "approve", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{late}");

    // Removal by an admin ends it the same way.
    let (_, req) = request(&app, &token, pkg.package, json!({})).await;
    let (_, delivered) = decide(&app, &approver_token, &req, "approve", None).await;
    let extend = json!({"requestType": "userUpdate", "assignmentId": delivered["assignmentId"]});
    let (_, ext) = app.post(&token, "/api/v1/assignmentRequests", extend).await;
    assert_eq!(ext["state"], "pendingApproval", "{ext}");
    let remove = json!({"requestType": "adminRemove", "accessPackageId": pkg.package,
        "targetUserId": adele, "assignmentId": delivered["assignmentId"]});
    let (status, body) = app
        .post(&t.admin, "/api/v1/assignmentRequests", remove)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(request_state(&app, &ext).await, "canceled");
}

/// Extending is asking again: a holder who has left the policy's scope of requestors is
/// refused (403, saying who can still extend it); an admin still can.
#[tokio::test]
async fn an_extension_rechecks_the_requestor_scope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("contoso").await;
    let (adele, token) = app.user(&t, "adele@contoso.test", json!({})).await;
    let (alex, _) = app.user(&t, "alex@contoso.test", json!({})).await;
    let only = |who: Uuid| {
        json!({"displayName": "Policy",
               "requestors": {"scope": "specific", "principals": [{"type": "user", "id": who}]},
               "expiration": {"type": "afterDays", "days": 10},
               "extension": {"allowed": true}})
    };
    let pkg = group_package(&app, &t, "Scoped", only(adele)).await;
    let (_, req) = request(&app, &token, pkg.package, json!({})).await;
    assert_eq!(req["state"], "delivered", "{req}");
    let (status, body) = app
        .put(
            &t.admin,
            &format!("/api/v1/policies/{}", pkg.policy),
            only(alex),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    app.clock.advance(Duration::days(5));
    let extend = json!({"requestType": "userUpdate", "assignmentId": req["assignmentId"]});
    let (status, problem) = app.post(&token, "/api/v1/assignmentRequests", extend).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("ask an admin"),
        "{problem}"
    );
    let by_admin = json!({"requestType": "adminUpdate", "accessPackageId": pkg.package,
        "targetUserId": adele, "assignmentId": req["assignmentId"]});
    let (status, body) = app
        .post(&t.admin, "/api/v1/assignmentRequests", by_admin)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
