//! Access reviews (DOMAIN.md §9) with the manual clock crossing every boundary: start
//! (including start dates in the past), reviewers, recommendations, decisions, the
//! reminder, the close, applying results (automatically or by an admin), stopping early,
//! the next period, two replicas, and tenant isolation.
//!
//! The tests are grouped by area in the submodules; the helpers they share live here.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::request;
use crate::helpers::{TestApp, TestTenant, start_time, uuid_of};

mod admin_pages;
mod at_scale;
mod results;
mod reviewers;
mod schedule;
mod visibility;

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
