//! Access reviews (DOMAIN.md §9) with the manual clock crossing every boundary: start
//! (including start dates in the past), reviewers, recommendations, decisions, the
//! reminder, the close, applying results (automatically or by an admin), stopping early,
//! the next period, two replicas, and tenant isolation.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{self, group_package, open_policy, request, sources};
use crate::helpers::{TestApp, TestTenant, start_time, uuid_of};

/// A tenant with a manager (Megan), her report (Adele), Alex (no manager), Nestor and
/// Pradeep (nobody's reviewer, no role).
struct Org {
    t: TestTenant,
    megan: (Uuid, String),
    adele: (Uuid, String),
    alex: (Uuid, String),
    nestor: (Uuid, String),
    pradeep: (Uuid, String),
}

async fn org(app: &TestApp) -> Org {
    let t = app.tenant("contoso").await;
    let megan = app
        .user(
            &t,
            "megan@contoso.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let adele = app
        .user(
            &t,
            "adele@contoso.test",
            json!({"displayName": "Adele Vance", "managerId": megan.0}),
        )
        .await;
    let alex = app
        .user(
            &t,
            "alex@contoso.test",
            json!({"displayName": "Alex Wilber"}),
        )
        .await;
    let nestor = app
        .user(
            &t,
            "nestor@contoso.test",
            json!({"displayName": "Nestor Wilke"}),
        )
        .await;
    let pradeep = app
        .user(
            &t,
            "pradeep@contoso.test",
            json!({"displayName": "Pradeep Gupta"}),
        )
        .await;
    Org {
        t,
        megan,
        adele,
        alex,
        nestor,
        pradeep,
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Review settings starting one hour after the test clock's start, monthly, 14 days,
/// reviewed by the manager, keeping unanswered items, applied automatically; `extra`
/// overrides any field.
fn review(extra: Value) -> Value {
    let mut r = json!({"startDate": rfc(start_time() + Duration::hours(1)), "recurrence": "monthly",
        "durationDays": 14, "reviewers": [{"type": "manager"}], "fallbackReviewers": [],
        "ifNoResponse": "keep", "autoApply": true, "requireJustification": false});
    if let (Some(r), Some(e)) = (r.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            r.insert(k.clone(), v.clone());
        }
    }
    r
}

/// Turns on (or changes) the review of an existing policy, as an admin's PUT would.
async fn set_review(app: &TestApp, t: &TestTenant, policy: Uuid, settings: Value) {
    use portico::domain::ids::{PolicyId, TenantId};
    let mut conn = app.pool.acquire().await.expect("conn");
    let mut p = portico::db::packages::get_policy(&mut conn, TenantId(t.id), PolicyId(policy))
        .await
        .expect("policy")
        .expect("policy exists");
    p.settings.0.review = Some(serde_json::from_value(settings).expect("review settings"));
    assert!(p.settings.0.validate(app.now(), None).is_empty());
    portico::db::packages::update_policy(&mut conn, &p)
        .await
        .expect("update policy");
}

/// The caller requests the package (no approval) and gets its assignment id.
async fn assign(app: &TestApp, token: &str, package: Uuid) -> Uuid {
    let (status, req) = request(app, token, package, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{req}");
    assert_eq!(req["state"], "delivered", "{req}");
    uuid_of(&req["assignmentId"])
}

async fn set_last_sign_in(app: &TestApp, user: Uuid, at: Option<DateTime<Utc>>) {
    sqlx::query("update users set last_sign_in_at = $2 where id = $1")
        .bind(user)
        .bind(at)
        .execute(&app.pool)
        .await
        .expect("set last sign-in");
}

/// Runs the review job once at the app's clock (the background loop runs it too).
async fn run(app: &TestApp) {
    portico::scheduler::reviews::run_once(&app.state, app.now())
        .await
        .expect("review job");
}

/// Polls `probe` (running the job each time) until it yields, for up to 10 seconds.
async fn eventually<T>(app: &TestApp, what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        run(app).await;
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Lets a few scheduler ticks pass (for asserting that nothing happens).
async fn settle(app: &TestApp) {
    for _ in 0..3 {
        run(app).await;
        tokio::time::sleep(StdDuration::from_millis(120)).await;
    }
}

/// The instances of a policy's review, newest first, as the tenant admin sees them.
async fn reviews_of(app: &TestApp, t: &TestTenant, policy: Uuid) -> Vec<Value> {
    let (status, list) = app
        .get(
            &t.admin,
            &format!("/api/v1/accessReviews?policyId={policy}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Waits for the instance of `policy` with `period` and returns it.
async fn instance(app: &TestApp, t: &TestTenant, policy: Uuid, period: i64) -> Value {
    eventually(app, "the review instance to start", async || {
        reviews_of(app, t, policy)
            .await
            .into_iter()
            .find(|r| r["periodIndex"] == period)
    })
    .await
}

/// Waits until the instance is in `state` and returns it.
async fn in_state(app: &TestApp, t: &TestTenant, review: &Value, state: &str) -> Value {
    let path = format!(
        "/api/v1/accessReviews/{}",
        review["id"].as_str().expect("id")
    );
    eventually(app, &format!("the review to be {state}"), async || {
        let (status, r) = app.get(&t.admin, &path).await;
        (status == StatusCode::OK && r["state"] == state).then_some(r)
    })
    .await
}

async fn items(
    app: &TestApp,
    token: &str,
    review: &Value,
    query: &str,
) -> (StatusCode, Vec<Value>) {
    let (status, list) = app
        .get(
            token,
            &format!(
                "/api/v1/accessReviews/{}/items{query}",
                review["id"].as_str().expect("id")
            ),
        )
        .await;
    (
        status,
        list["items"].as_array().cloned().unwrap_or_default(),
    )
}

/// The item of `review` about `target`, as the admin sees it.
async fn item_of(app: &TestApp, t: &TestTenant, review: &Value, target: Uuid) -> Value {
    let (_, all) = items(app, &t.admin, review, "").await;
    all.into_iter()
        .find(|i| i["targetUserId"] == target.to_string())
        .unwrap_or_else(|| panic!("no item for {target} in {review}"))
}

async fn decide(
    app: &TestApp,
    token: &str,
    review: &Value,
    item: &Value,
    decision: &str,
    justification: Option<&str>,
) -> (StatusCode, Value) {
    app.post(
        token,
        &format!(
            "/api/v1/accessReviews/{}/items/{}/decision",
            review["id"].as_str().expect("id"),
            item["id"].as_str().expect("item id")
        ),
        json!({"decision": decision, "justification": justification}),
    )
    .await
}

async fn act(app: &TestApp, token: &str, review: &Value, verb: &str) -> (StatusCode, Value) {
    app.post(
        token,
        &format!(
            "/api/v1/accessReviews/{}/{verb}",
            review["id"].as_str().expect("id")
        ),
        json!({}),
    )
    .await
}

async fn assignment(app: &TestApp, t: &TestTenant, id: Uuid) -> Value {
    let (status, a) = app
        .get(&t.admin, &format!("/api/v1/assignments/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    a
}

/// Recipients of the emails of `template` about `review`, one entry per email.
async fn emailed(app: &TestApp, template: &str, review: &Value) -> Vec<Uuid> {
    let mut to: Vec<Uuid> = sqlx::query_scalar(
        "select (payload ->> 'to')::uuid from outbox where kind = 'email'
           and payload -> 'notice' ->> 'template' = $1 and payload -> 'notice' ->> 'reviewId' = $2",
    )
    .bind(template)
    .bind(review["id"].as_str().expect("id"))
    .fetch_all(&app.pool)
    .await
    .expect("outbox");
    to.sort();
    to
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

fn ids(v: &Value) -> Vec<Uuid> {
    sorted(v.as_array().expect("array").iter().map(uuid_of).collect())
}

#[tokio::test]
async fn a_start_date_in_the_past_starts_the_current_period_at_once_with_its_scheduled_end() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(&app, &o.t, "Windows 11 Testing", open_policy(json!({}))).await;
    let adele = assign(&app, &o.adele.1, pkg.package).await;
    let alex = assign(&app, &o.alex.1, pkg.package).await;
    let nestor = assign(&app, &o.nestor.1, pkg.package).await;
    let (status, removed) = app
        .post(
            &o.nestor.1,
            "/api/v1/assignmentRequests",
            json!({"requestType": "userRemove", "assignmentId": nestor}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{removed}");

    // Periods: Oct 1–15, Nov 1–15, Dec 1–15, and Jan 1–15 holds the clock (Jan 4).
    set_review(
        &app,
        &o.t,
        pkg.policy,
        review(json!({"startDate": "2026-10-01T00:00:00Z", "reviewers": [{"type": "self"}]})),
    )
    .await;
    let first = instance(&app, &o.t, pkg.policy, 3).await;

    assert_eq!(first["state"], "inProgress");
    assert_eq!(first["startDateTime"], "2027-01-01T00:00:00Z");
    assert_eq!(first["endDateTime"], "2027-01-15T00:00:00Z");
    assert_eq!(first["accessPackageId"], pkg.package.to_string());
    settle(&app).await;
    assert_eq!(
        reviews_of(&app, &o.t, pkg.policy).await.len(),
        1,
        "the periods already over are skipped"
    );
    let (_, all) = items(&app, &o.t.admin, &first, "").await;
    let assignments: Vec<Uuid> = sorted(all.iter().map(|i| uuid_of(&i["assignmentId"])).collect());
    assert_eq!(
        assignments,
        sorted(vec![adele, alex]),
        "one item per active assignment"
    );
    for i in &all {
        assert_eq!(i["decision"], "notReviewed");
        assert_eq!(
            i["reviewerIds"],
            json!([i["targetUserId"]]),
            "self-review: {i}"
        );
    }

    // Its end closes it; with autoApply and ifNoResponse keep, everyone keeps access.
    app.clock.set(at("2027-01-15T00:00:00Z"));
    let closed = in_state(&app, &o.t, &first, "applied").await;
    assert_eq!(closed["completedDateTime"], "2027-01-15T00:00:00Z");
    assert_eq!(closed["stoppedEarly"], false);
    assert_eq!(assignment(&app, &o.t, adele).await["state"], "delivered");

    // Nothing between two windows; the next instance when the next period begins.
    app.clock.set(at("2027-01-31T23:59:59Z"));
    settle(&app).await;
    assert_eq!(reviews_of(&app, &o.t, pkg.policy).await.len(), 1);
    app.clock.set(at("2027-02-01T00:00:00Z"));
    let second = instance(&app, &o.t, pkg.policy, 4).await;
    assert_eq!(second["startDateTime"], "2027-02-01T00:00:00Z");
    assert_eq!(second["endDateTime"], "2027-02-15T00:00:00Z");
    assert_eq!(reviews_of(&app, &o.t, pkg.policy).await.len(), 2);
}

#[tokio::test]
async fn a_review_whose_current_window_is_over_waits_for_the_next_period() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({}))).await;
    assign(&app, &o.adele.1, pkg.package).await;
    // Weekly from Dec 21 10:00, 2 days each: the clock (Jan 4 09:00) sits after the
    // Dec 28–30 window and an hour before the Jan 4 one.
    set_review(
        &app,
        &o.t,
        pkg.policy,
        review(
            json!({"startDate": "2026-12-21T10:00:00Z", "recurrence": "weekly", "durationDays": 2}),
        ),
    )
    .await;
    settle(&app).await;
    assert!(reviews_of(&app, &o.t, pkg.policy).await.is_empty());

    app.clock.set(at("2027-01-04T10:00:00Z"));
    let r = instance(&app, &o.t, pkg.policy, 2).await;
    assert_eq!(r["endDateTime"], "2027-01-06T10:00:00Z");
}

#[tokio::test]
async fn reviewers_are_resolved_self_manager_group_fallback_and_then_tenant_admins() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let group = fixtures::group(&app, &o.t, "Reviewers").await;
    for member in [o.megan.0, o.adele.0] {
        let (status, body) = app
            .post(
                &o.t.admin,
                &format!("/api/v1/groups/{group}/members"),
                json!({"userId": member}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let cases = [
        ("Self", json!({"reviewers": [{"type": "self"}]})),
        (
            "Manager",
            json!({"reviewers": [{"type": "manager"}], "fallbackReviewers": [{"type": "user", "id": o.nestor.0}]}),
        ),
        (
            "Group",
            json!({"reviewers": [{"type": "group", "id": group}]}),
        ),
        ("Admins", json!({"reviewers": [{"type": "manager"}]})),
    ];
    let mut pkgs = Vec::new();
    for (name, reviewers) in cases {
        let pkg = group_package(
            &app,
            &o.t,
            name,
            open_policy(json!({"review": review(reviewers)})),
        )
        .await;
        assign(&app, &o.adele.1, pkg.package).await;
        assign(&app, &o.alex.1, pkg.package).await;
        pkgs.push(pkg);
    }

    app.clock.advance(Duration::hours(1));
    let mut reviews = Vec::new();
    for pkg in &pkgs {
        reviews.push(instance(&app, &o.t, pkg.policy, 0).await);
    }

    let reviewers =
        async |r: &Value, who: Uuid| ids(&item_of(&app, &o.t, r, who).await["reviewerIds"]);
    // self: each reviews their own access.
    assert_eq!(reviewers(&reviews[0], o.adele.0).await, vec![o.adele.0]);
    assert_eq!(reviewers(&reviews[0], o.alex.0).await, vec![o.alex.0]);
    // manager, else the fallback reviewers.
    assert_eq!(reviewers(&reviews[1], o.adele.0).await, vec![o.megan.0]);
    assert_eq!(reviewers(&reviews[1], o.alex.0).await, vec![o.nestor.0]);
    // group: its members, never the target user.
    assert_eq!(reviewers(&reviews[2], o.adele.0).await, vec![o.megan.0]);
    assert_eq!(
        reviewers(&reviews[2], o.alex.0).await,
        sorted(vec![o.megan.0, o.adele.0])
    );
    // nobody and no fallback: the tenant admins.
    assert_eq!(reviewers(&reviews[3], o.adele.0).await, vec![o.megan.0]);
    assert_eq!(reviewers(&reviews[3], o.alex.0).await, vec![o.t.admin_id]);

    // Each reviewer is told once per instance, however many items they review.
    assert_eq!(
        emailed(&app, "reviewStarted", &reviews[2]).await,
        sorted(vec![o.megan.0, o.adele.0])
    );
    assert_eq!(
        emailed(&app, "reviewStarted", &reviews[0]).await,
        sorted(vec![o.adele.0, o.alex.0])
    );
    let item = item_of(&app, &o.t, &reviews[2], o.alex.0).await;
    let actions = app.audit_actions(uuid_of(&item["id"])).await;
    assert_eq!(actions, vec!["accessReviewItem.created"]);
}

#[tokio::test]
async fn recommendations_follow_the_last_sign_in() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let settings = review(json!({"reviewers": [{"type": "user", "id": o.megan.0}]}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    for who in [&o.adele, &o.alex, &o.nestor] {
        assign(&app, &who.1, pkg.package).await;
    }
    let start = start_time() + Duration::hours(1);
    set_last_sign_in(&app, o.adele.0, Some(start - Duration::days(5))).await;
    set_last_sign_in(&app, o.alex.0, Some(start - Duration::days(40))).await;
    set_last_sign_in(&app, o.nestor.0, None).await;

    app.clock.set(start);
    let r = instance(&app, &o.t, pkg.policy, 0).await;

    assert_eq!(
        item_of(&app, &o.t, &r, o.adele.0).await["recommendation"],
        "approve"
    );
    assert_eq!(
        item_of(&app, &o.t, &r, o.alex.0).await["recommendation"],
        "deny"
    );
    assert_eq!(
        item_of(&app, &o.t, &r, o.nestor.0).await["recommendation"],
        Value::Null
    );
}

#[tokio::test]
async fn reviewers_decide_their_own_items_until_the_end_and_the_last_decision_counts() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let settings = review(json!({
        "fallbackReviewers": [{"type": "user", "id": o.nestor.0}],
        "requireJustification": true, "autoApply": false
    }));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    let adele_access = assign(&app, &o.adele.1, pkg.package).await;
    assign(&app, &o.alex.1, pkg.package).await;
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let adele_item = item_of(&app, &o.t, &r, o.adele.0).await;
    let alex_item = item_of(&app, &o.t, &r, o.alex.0).await;

    // Only the item's reviewers decide it.
    let (status, p) = decide(&app, &o.megan.1, &r, &alex_item, "approve", Some("ok")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    let (status, p) = decide(&app, &o.t.admin, &r, &adele_item, "approve", Some("ok")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an admin is not a reviewer here: {p}"
    );
    let (status, p) = decide(&app, &o.pradeep.1, &r, &adele_item, "approve", Some("ok")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an outsider does not see it: {p}"
    );
    // Justification required; only approve or deny.
    let (status, p) = decide(&app, &o.megan.1, &r, &adele_item, "approve", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p["errors"]["justification"].is_string(), "{p}");
    let (status, p) = decide(&app, &o.megan.1, &r, &adele_item, "notReviewed", Some("x")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (status, p) = app
        .post(
            &o.megan.1,
            &format!(
                "/api/v1/accessReviews/{}/items/{}/decision",
                r["id"].as_str().unwrap(),
                adele_item["id"].as_str().unwrap()
            ),
            json!({"justification": "no decision"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");

    // A later decision replaces the earlier one.
    let (status, first) = decide(
        &app,
        &o.megan.1,
        &r,
        &adele_item,
        "approve",
        Some("still needed"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["decision"], "approve");
    app.clock.advance(Duration::days(2));
    let (status, last) = decide(
        &app,
        &o.megan.1,
        &r,
        &adele_item,
        "deny",
        Some("left the project"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{last}");
    assert_eq!(last["decision"], "deny");
    assert_eq!(last["justification"], "left the project");
    assert_eq!(last["decidedBy"], o.megan.0.to_string());
    assert_eq!(last["decidedAt"], json!(rfc(app.now())));
    let (status, nestor) =
        decide(&app, &o.nestor.1, &r, &alex_item, "approve", Some("needed")).await;
    assert_eq!(status, StatusCode::OK, "{nestor}");

    // Reviewers see only their items; admins see all, or theirs with mine=true.
    let (status, mine) = items(&app, &o.megan.1, &r, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], adele_item["id"]);
    assert_eq!(items(&app, &o.t.admin, &r, "").await.1.len(), 2);
    assert_eq!(items(&app, &o.t.admin, &r, "?mine=true").await.1.len(), 0);
    assert_eq!(
        items(&app, &o.pradeep.1, &r, "").await.0,
        StatusCode::NOT_FOUND
    );
    let actions = app.audit_actions(uuid_of(&adele_item["id"])).await;
    assert_eq!(
        actions,
        vec![
            "accessReviewItem.created",
            "accessReviewItem.decided",
            "accessReviewItem.decided"
        ]
    );

    // After the end nothing is accepted; the last decision before it counts.
    app.clock.set(at(r["endDateTime"].as_str().unwrap()));
    let (status, p) = decide(
        &app,
        &o.megan.1,
        &r,
        &adele_item,
        "approve",
        Some("changed my mind"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    let completed = in_state(&app, &o.t, &r, "completed").await;
    assert_eq!(completed["autoApply"], false);
    let (status, p) = decide(&app, &o.megan.1, &r, &adele_item, "approve", Some("again")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    assert_eq!(item_of(&app, &o.t, &r, o.adele.0).await["decision"], "deny");
    let (status, applied) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(
        assignment(&app, &o.t, adele_access).await["removalReason"],
        "review"
    );
}

#[tokio::test]
async fn reviewers_with_undecided_items_are_reminded_once_before_the_end() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    // 4 days: 75 % is day 3, one day before the end is day 3 too.
    let settings = review(json!({"durationDays": 4,
        "fallbackReviewers": [{"type": "user", "id": o.nestor.0}]}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    assign(&app, &o.adele.1, pkg.package).await;
    assign(&app, &o.alex.1, pkg.package).await;
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    assert_eq!(
        r["remindDateTime"],
        json!(rfc(start_time() + Duration::hours(1) + Duration::days(3)))
    );
    let adele_item = item_of(&app, &o.t, &r, o.adele.0).await;
    let (status, _) = decide(&app, &o.megan.1, &r, &adele_item, "approve", None).await;
    assert_eq!(status, StatusCode::OK);

    app.clock.advance(Duration::days(3) - Duration::minutes(1));
    settle(&app).await;
    assert!(
        emailed(&app, "reviewReminder", &r).await.is_empty(),
        "not yet"
    );

    app.clock.advance(Duration::minutes(2));
    let reminded = eventually(&app, "the reminder", async || {
        let to = emailed(&app, "reviewReminder", &r).await;
        (!to.is_empty()).then_some(to)
    })
    .await;
    assert_eq!(
        reminded,
        vec![o.nestor.0],
        "only who still has undecided items"
    );

    app.clock.advance(Duration::hours(12));
    settle(&app).await;
    assert_eq!(
        emailed(&app, "reviewReminder", &r).await,
        vec![o.nestor.0],
        "once"
    );
    let (_, got) = app
        .get(
            &o.t.admin,
            &format!("/api/v1/accessReviews/{}", r["id"].as_str().unwrap()),
        )
        .await;
    assert!(got["remindedDateTime"].is_string(), "{got}");
}

#[tokio::test]
async fn auto_apply_removes_denied_access_and_unanswered_items_follow_if_no_response() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let start = start_time() + Duration::hours(1);
    let mut cases = Vec::new();
    for rule in ["keep", "remove", "recommendation"] {
        let settings = review(json!({"ifNoResponse": rule,
            "reviewers": [{"type": "user", "id": o.megan.0}]}));
        let pkg = group_package(&app, &o.t, rule, open_policy(json!({"review": settings}))).await;
        let adele = assign(&app, &o.adele.1, pkg.package).await;
        let alex = assign(&app, &o.alex.1, pkg.package).await;
        let nestor = assign(&app, &o.nestor.1, pkg.package).await;
        cases.push((rule, pkg, adele, alex, nestor));
    }
    set_last_sign_in(&app, o.adele.0, Some(start - Duration::days(1))).await;
    set_last_sign_in(&app, o.alex.0, Some(start - Duration::days(40))).await;

    app.clock.set(start);
    let mut reviews = Vec::new();
    for (_, pkg, ..) in &cases {
        let r = instance(&app, &o.t, pkg.policy, 0).await;
        let item = item_of(&app, &o.t, &r, o.adele.0).await;
        let (status, d) = decide(&app, &o.megan.1, &r, &item, "deny", None).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        reviews.push(r);
    }
    app.clock.set(start + Duration::days(14));
    for r in &reviews {
        in_state(&app, &o.t, r, "applied").await;
    }

    // (rule, Adele denied, Alex unanswered with a deny recommendation, Nestor unanswered
    // without a recommendation) → expected removals.
    let expected = [
        ("keep", [true, false, false]),
        ("remove", [true, true, true]),
        ("recommendation", [true, true, false]),
    ];
    for ((rule, pkg, adele, alex, nestor), (_, removed)) in cases.iter().zip(expected) {
        for ((who, id), gone) in [
            (o.adele.0, *adele),
            (o.alex.0, *alex),
            (o.nestor.0, *nestor),
        ]
        .into_iter()
        .zip(removed)
        {
            let a = assignment(&app, &o.t, id).await;
            let membership = sources(&app, pkg.group, who).await;
            if gone {
                assert_eq!(a["state"], "removed", "{rule}: {a}");
                assert_eq!(a["removalReason"], "review", "{rule}: {a}");
                assert!(
                    membership.is_empty(),
                    "{rule}: the group membership is gone"
                );
            } else {
                assert_eq!(a["state"], "delivered", "{rule}: {a}");
                assert_eq!(membership, vec![id.to_string()], "{rule}");
            }
        }
    }
    let r = &reviews[0];
    assert_eq!(
        item_of(&app, &o.t, r, o.adele.0).await["appliedResult"],
        "removed"
    );
    assert_eq!(
        item_of(&app, &o.t, r, o.alex.0).await["appliedResult"],
        "kept"
    );
    // The removal is a systemRemove request, like every end of an assignment.
    let (_, reqs) = app
        .get(
            &o.t.admin,
            &format!(
                "/api/v1/assignmentRequests?targetUserId={}&accessPackageId={}",
                o.adele.0, cases[0].1.package
            ),
        )
        .await;
    assert!(
        reqs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["requestType"] == "systemRemove"),
        "{reqs}"
    );
}

#[tokio::test]
async fn without_auto_apply_an_admin_applies_the_results_once_the_review_has_ended() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let settings = review(json!({"autoApply": false}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    let adele = assign(&app, &o.adele.1, pkg.package).await;
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let item = item_of(&app, &o.t, &r, o.adele.0).await;
    decide(&app, &o.megan.1, &r, &item, "deny", None).await;

    let (status, p) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::CONFLICT, "still in progress: {p}");
    app.clock.advance(Duration::days(14));
    in_state(&app, &o.t, &r, "completed").await;
    settle(&app).await;
    assert_eq!(
        assignment(&app, &o.t, adele).await["state"],
        "delivered",
        "not applied by itself"
    );

    let (status, p) = act(&app, &o.megan.1, &r, "apply").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "reviewers do not apply: {p}");
    let (status, p) = act(&app, &o.pradeep.1, &r, "apply").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
    let (status, applied) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["state"], "applied");
    assert_eq!(applied["appliedDateTime"], json!(rfc(app.now())));
    let a = assignment(&app, &o.t, adele).await;
    assert_eq!(
        (a["state"].as_str(), a["removalReason"].as_str()),
        (Some("removed"), Some("review"))
    );
    assert!(sources(&app, pkg.group, o.adele.0).await.is_empty());
    let (status, p) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::CONFLICT, "already applied: {p}");
    let actions = app.audit_actions(uuid_of(&r["id"])).await;
    assert_eq!(
        actions,
        vec![
            "accessReview.started",
            "accessReview.completed",
            "accessReview.applied"
        ]
    );
}

#[tokio::test]
async fn an_assignment_manager_stops_a_review_early_and_auto_apply_applies_it() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(
        &app,
        &o.t,
        "Pkg",
        open_policy(json!({"review": review(json!({}))})),
    )
    .await;
    let adele = assign(&app, &o.adele.1, pkg.package).await;
    let (status, body) = app
        .post(
            &o.t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "assignmentManager", "principal": {"type": "user", "id": o.nestor.0}, "catalogId": pkg.catalog}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &o.t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "catalogReader", "principal": {"type": "user", "id": o.pradeep.0}, "catalogId": pkg.catalog}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let item = item_of(&app, &o.t, &r, o.adele.0).await;
    decide(&app, &o.megan.1, &r, &item, "deny", None).await;

    let (status, p) = act(&app, &o.megan.1, &r, "stop").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a reviewer cannot stop it: {p}"
    );
    let (status, p) = act(&app, &o.pradeep.1, &r, "stop").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a catalog reader cannot stop it: {p}"
    );
    app.clock.advance(Duration::days(2));
    let (status, stopped) = act(&app, &o.nestor.1, &r, "stop").await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["state"], "applied");
    assert_eq!(stopped["stoppedEarly"], true);
    assert_eq!(stopped["completedDateTime"], json!(rfc(app.now())));
    assert_eq!(
        stopped["endDateTime"], r["endDateTime"],
        "the schedule is kept on record"
    );
    assert_eq!(
        assignment(&app, &o.t, adele).await["removalReason"],
        "review"
    );

    let (status, p) = decide(&app, &o.megan.1, &r, &item, "approve", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    let (status, p) = act(&app, &o.t.admin, &r, "stop").await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
    let (status, p) = act(&app, &o.t.admin, &r, "apply").await;
    assert_eq!(status, StatusCode::CONFLICT, "{p}");
}

#[tokio::test]
async fn reviews_are_listed_for_those_who_may_see_them() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(
        &app,
        &o.t,
        "Pkg",
        open_policy(json!({"review": review(json!({}))})),
    )
    .await;
    assign(&app, &o.adele.1, pkg.package).await;
    let (status, body) = app
        .post(
            &o.t.admin,
            "/api/v1/roleAssignments",
            json!({"role": "catalogReader", "principal": {"type": "user", "id": o.nestor.0}, "catalogId": pkg.catalog}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let listed = async |token: &str, query: &str| {
        let (status, list) = app
            .get(token, &format!("/api/v1/accessReviews{query}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| uuid_of(&i["id"]))
            .collect::<Vec<_>>()
    };
    let id = uuid_of(&r["id"]);

    assert_eq!(listed(&o.t.admin, "").await, vec![id]);
    assert_eq!(listed(&o.megan.1, "").await, vec![id], "a reviewer");
    assert_eq!(listed(&o.megan.1, "?mine=true").await, vec![id]);
    assert_eq!(listed(&o.nestor.1, "").await, vec![id], "a catalog reader");
    assert!(listed(&o.nestor.1, "?mine=true").await.is_empty());
    assert!(listed(&o.pradeep.1, "").await.is_empty(), "nobody else");
    assert!(listed(&o.adele.1, "").await.is_empty(), "not the holder");
    assert_eq!(listed(&o.t.admin, "?state=inProgress").await, vec![id]);
    assert!(listed(&o.t.admin, "?state=applied").await.is_empty());
    assert_eq!(
        listed(&o.t.admin, &format!("?accessPackageId={}", pkg.package)).await,
        vec![id]
    );
    let (status, _) = app
        .get(&o.megan.1, &format!("/api/v1/accessReviews/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .get(&o.pradeep.1, &format!("/api/v1/accessReviews/{id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, nestor_items) = items(&app, &o.nestor.1, &r, "").await;
    assert_eq!(nestor_items.len(), 1, "catalog readers read every item");

    for query in ["?state=done", "?limit=0", "?cursor=nope", "?mine=perhaps"] {
        let (status, p) = app
            .get(&o.t.admin, &format!("/api/v1/accessReviews{query}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {p}");
    }
    let (status, _) = app
        .get(&o.t.admin, "/api/v1/accessReviews/not-a-uuid")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, api) = app.get(&o.t.admin, "/api/v1/openapi.json").await;
    assert!(api["paths"]["/api/v1/accessReviews/{id}/items/{itemId}/decision"]["post"].is_object());
}

#[tokio::test]
async fn two_replicas_start_and_close_each_instance_once() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let group = fixtures::group(&app, &o.t, "Reviewers").await;
    for member in [o.megan.0, o.nestor.0] {
        app.post(
            &o.t.admin,
            &format!("/api/v1/groups/{group}/members"),
            json!({"userId": member}),
        )
        .await;
    }
    let settings =
        review(json!({"reviewers": [{"type": "group", "id": group}], "ifNoResponse": "remove"}));
    let pkg = group_package(&app, &o.t, "Pkg", open_policy(json!({"review": settings}))).await;
    for who in [&o.adele, &o.alex, &o.pradeep] {
        assign(&app, &who.1, pkg.package).await;
    }
    let second = TestApp::spawn_on(app.pool.clone(), app.db_options.clone()).await;

    let start = start_time() + Duration::hours(1);
    app.clock.set(start);
    second.clock.set(start);
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            portico::scheduler::reviews::run_once(&app.state, start),
            portico::scheduler::reviews::run_once(&second.state, start)
        );
        a.expect("first replica");
        b.expect("second replica");
    }
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    settle(&app).await;

    assert_eq!(reviews_of(&app, &o.t, pkg.policy).await.len(), 1);
    assert_eq!(items(&app, &o.t.admin, &r, "").await.1.len(), 3);
    assert_eq!(
        emailed(&app, "reviewStarted", &r).await,
        sorted(vec![o.megan.0, o.nestor.0]),
        "each reviewer told once"
    );

    let end = start + Duration::days(14);
    app.clock.set(end);
    second.clock.set(end);
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            portico::scheduler::reviews::run_once(&app.state, end),
            portico::scheduler::reviews::run_once(&second.state, end)
        );
        a.expect("first replica");
        b.expect("second replica");
    }
    in_state(&app, &o.t, &r, "applied").await;
    let actions = app.audit_actions(uuid_of(&r["id"])).await;
    assert_eq!(
        actions,
        vec![
            "accessReview.started",
            "accessReview.completed",
            "accessReview.applied"
        ]
    );
    let removals: i64 = sqlx::query_scalar(
        "select count(*) from assignment_requests where package_id = $1 and request_type = 'systemRemove'",
    )
    .bind(pkg.package)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(removals, 3, "each unanswered item removed exactly once");
}

#[tokio::test]
async fn another_tenants_reviews_and_items_answer_404() {
    let app = TestApp::spawn().await;
    let o = org(&app).await;
    let pkg = group_package(
        &app,
        &o.t,
        "Pkg",
        open_policy(json!({"review": review(json!({"autoApply": false}))})),
    )
    .await;
    assign(&app, &o.adele.1, pkg.package).await;
    app.clock.advance(Duration::hours(1));
    let r = instance(&app, &o.t, pkg.policy, 0).await;
    let item = item_of(&app, &o.t, &r, o.adele.0).await;
    let other = app.tenant("fabrikam").await;
    let id = r["id"].as_str().unwrap();
    let item_id = item["id"].as_str().unwrap();

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/accessReviews/{id}"), None),
        (
            Method::GET,
            format!("/api/v1/accessReviews/{id}/items"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/accessReviews/{id}/items/{item_id}/decision"),
            Some(json!({"decision": "deny"})),
        ),
        (
            Method::POST,
            format!("/api/v1/accessReviews/{id}/stop"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/accessReviews/{id}/apply"),
            Some(json!({})),
        ),
    ] {
        let (status, p) = app.call(method.clone(), &other.admin, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {p}");
        assert_eq!(p["status"], 404, "problem+json: {p}");
    }
    let (_, list) = app.get(&other.admin, "/api/v1/accessReviews").await;
    assert_eq!(list["items"], json!([]));
    // An item id of another instance is unknown in this one.
    let (status, _) = app
        .post(
            &o.megan.1,
            &format!(
                "/api/v1/accessReviews/{id}/items/{}/decision",
                Uuid::now_v7()
            ),
            json!({"decision": "deny"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        item_of(&app, &o.t, &r, o.adele.0).await["decision"],
        "notReviewed"
    );
}
