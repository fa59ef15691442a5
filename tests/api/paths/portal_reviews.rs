//! DOMAIN.md §9 in the requester portal: a reviewer sees the review and their items,
//! decides one with the form, and "Accept all recommendations" takes every undecided
//! item's recommendation at once — all of them or, when anything fails, none.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{group_package, open_policy, request};
use crate::helpers::portal::sign_in;
use crate::helpers::{TestApp, TestTenant, start_time, uuid_of};

struct Review {
    t: TestTenant,
    /// (id, token) of Megan, the reviewer.
    megan: (Uuid, String),
    /// Holders: Adele (signed in lately), Alex (long ago), Nestor (never).
    adele: Uuid,
    alex: Uuid,
    nestor: Uuid,
    review: Value,
}

async fn set_last_sign_in(app: &TestApp, user: Uuid, at: Option<DateTime<Utc>>) {
    sqlx::query("update users set last_sign_in_at = $2 where id = $1")
        .bind(user)
        .bind(at)
        .execute(&app.pool)
        .await
        .expect("set last sign-in");
}

/// A review of three holders' access by Megan, started.
async fn started(app: &TestApp) -> Review {
    let t = app.tenant("contoso").await;
    let megan = app
        .user(
            &t,
            "megan@contoso.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let start = start_time() + Duration::hours(1);
    let settings = json!({"startDate": start.to_rfc3339_opts(SecondsFormat::Secs, true),
        "recurrence": "monthly", "durationDays": 14,
        "reviewers": [{"type": "user", "id": megan.0}], "fallbackReviewers": [],
        "ifNoResponse": "keep", "autoApply": false, "requireJustification": false});
    let pkg = group_package(app, &t, "Ledger", open_policy(json!({"review": settings}))).await;
    let mut holders = Vec::new();
    for (email, name) in [
        ("adele@contoso.test", "Adele Vance"),
        ("alex@contoso.test", "Alex Wilber"),
        ("nestor@contoso.test", "Nestor Wilke"),
    ] {
        let (id, token) = app.user(&t, email, json!({"displayName": name})).await;
        let (status, req) = request(app, &token, pkg.package, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{req}");
        holders.push(id);
    }
    set_last_sign_in(app, holders[0], Some(start - Duration::days(3))).await;
    set_last_sign_in(app, holders[1], Some(start - Duration::days(60))).await;
    set_last_sign_in(app, holders[2], None).await;
    app.clock.set(start);
    let mut review = Value::Null;
    for _ in 0..100 {
        portico::scheduler::reviews::run_once(&app.state, app.now())
            .await
            .expect("review job");
        let (_, list) = app
            .get(
                &t.admin,
                &format!("/api/v1/accessReviews?policyId={}", pkg.policy),
            )
            .await;
        if let Some(r) = list["items"].as_array().and_then(|l| l.first()) {
            review = r.clone();
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(review.is_object(), "the review never started");
    Review {
        t,
        megan,
        adele: holders[0],
        alex: holders[1],
        nestor: holders[2],
        review,
    }
}

/// The review's items by target user: (recommendation, decision, decidedBy).
async fn items(app: &TestApp, r: &Review) -> Vec<(Uuid, Value, String, Value)> {
    let (status, list) = app
        .get(
            &r.t.admin,
            &format!(
                "/api/v1/accessReviews/{}/items",
                r.review["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut all: Vec<_> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                uuid_of(&i["targetUserId"]),
                i["recommendation"].clone(),
                i["decision"].as_str().unwrap_or_default().to_string(),
                i["decidedBy"].clone(),
            )
        })
        .collect();
    all.sort_by_key(|i| i.0);
    all
}

fn of(all: &[(Uuid, Value, String, Value)], who: Uuid) -> (Value, String, Value) {
    let i = all
        .iter()
        .find(|i| i.0 == who)
        .unwrap_or_else(|| panic!("no item for {who}"));
    (i.1.clone(), i.2.clone(), i.3.clone())
}

async fn item_id(app: &TestApp, r: &Review, who: Uuid) -> String {
    let (_, list) = app
        .get(
            &r.t.admin,
            &format!(
                "/api/v1/accessReviews/{}/items",
                r.review["id"].as_str().expect("id")
            ),
        )
        .await;
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["targetUserId"] == who.to_string())
        .and_then(|i| i["id"].as_str())
        .expect("item")
        .to_string()
}

#[tokio::test]
async fn a_reviewer_decides_in_the_portal_and_accepts_the_remaining_recommendations() {
    let app = TestApp::spawn().await;
    let r = started(&app).await;
    let id = r.review["id"].as_str().expect("id").to_string();
    let megan = json!(r.megan.0.to_string());

    let b = sign_in(&app, "contoso", "megan@contoso.test").await;
    let list = b.get("/reviews").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(
        list.body.contains(&format!("/reviews/{id}")),
        "{}",
        list.body
    );
    let page = b.get(&format!("/reviews/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for name in ["Adele Vance", "Alex Wilber", "Nestor Wilke"] {
        assert!(page.body.contains(name), "{name}: {}", page.body);
    }
    assert!(
        page.body.contains("Accept all recommendations (2)"),
        "{}",
        page.body
    );

    // Megan denies Nestor (no recommendation) with the row's form.
    let nestor_item = item_id(&app, &r, r.nestor).await;
    let decided = b
        .post(
            &format!("/reviews/{id}/decide"),
            &[("item", &nestor_item), ("decision", "deny")],
        )
        .await;
    assert_eq!(decided.status, StatusCode::SEE_OTHER, "{}", decided.body);
    assert_eq!(
        of(&items(&app, &r).await, r.nestor),
        (Value::Null, "deny".to_string(), megan.clone())
    );

    // Then accepts the recommendations: Adele approved, Alex denied; Nestor kept.
    let accepted = b.post(&format!("/reviews/{id}/accept"), &[]).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER, "{}", accepted.body);
    let all = items(&app, &r).await;
    assert_eq!(
        of(&all, r.adele),
        (json!("approve"), "approve".to_string(), megan.clone())
    );
    assert_eq!(
        of(&all, r.alex),
        (json!("deny"), "deny".to_string(), megan.clone())
    );
    assert_eq!(
        of(&all, r.nestor),
        (Value::Null, "deny".to_string(), megan.clone())
    );
    let page = b.get(&format!("/reviews/{id}")).await;
    assert!(
        !page.body.contains("Accept all recommendations"),
        "nothing left to accept: {}",
        page.body
    );

    // Someone who reviews nothing here sees no review and decides nothing.
    app.user(&r.t, "pradeep@contoso.test", json!({})).await;
    let outsider = sign_in(&app, "contoso", "pradeep@contoso.test").await;
    assert_eq!(
        outsider.get(&format!("/reviews/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let refused = outsider
        .post(
            &format!("/reviews/{id}/decide"),
            &[("item", &nestor_item), ("decision", "approve")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    let refused = outsider.post(&format!("/reviews/{id}/accept"), &[]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    assert_eq!(of(&items(&app, &r).await, r.nestor).1, "deny");
}

/// Accepting is one act: when recording one of the decisions fails, none is recorded
/// (the reviewer is not left with half of them taken and no way to tell which).
#[tokio::test]
async fn accepting_recommendations_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let r = started(&app).await;
    let id = r.review["id"].as_str().expect("id").to_string();
    // Whichever order the items are taken in, the last one with a recommendation
    // cannot be written: a fault injected in the database.
    let mut ids = vec![
        item_id(&app, &r, r.adele).await,
        item_id(&app, &r, r.alex).await,
    ];
    ids.sort();
    let b = sign_in(&app, "contoso", "megan@contoso.test").await;
    for statement in [
        "create table paths_fault (item uuid not null)",
        "create function paths_fault() returns trigger language plpgsql as $$
         begin
           if new.decision <> 'notReviewed' and new.id in (select item from paths_fault) then
             raise exception 'injected fault';
           end if;
           return new;
         end $$",
        "create trigger paths_fault before update on access_review_items
         for each row execute function paths_fault()",
    ] {
        sqlx::query(statement)
            .execute(&app.pool)
            .await
            .expect("fault");
    }
    for failing in &ids {
        sqlx::query("delete from paths_fault")
            .execute(&app.pool)
            .await
            .expect("clear");
        sqlx::query("insert into paths_fault (item) values ($1::uuid)")
            .bind(failing)
            .execute(&app.pool)
            .await
            .expect("fault");
        let accepted = b.post(&format!("/reviews/{id}/accept"), &[]).await;
        assert!(
            accepted.status.is_server_error(),
            "the fault surfaces: {}",
            accepted.status
        );
        let decided: Vec<String> = items(&app, &r)
            .await
            .into_iter()
            .filter(|i| i.2 != "notReviewed")
            .map(|i| i.0.to_string())
            .collect();
        assert!(
            decided.is_empty(),
            "with item {failing} failing, none is decided: {decided:?}"
        );
    }
}

/// A decision recorded while "Accept all recommendations" runs (another tab, another
/// reviewer of the item) is kept: the recommendation fills only what is still undecided.
#[tokio::test]
async fn accepting_recommendations_keeps_a_decision_made_meanwhile() {
    let app = TestApp::spawn().await;
    let r = started(&app).await;
    let id = r.review["id"].as_str().expect("id").to_string();
    let alex_item = item_id(&app, &r, r.alex).await;
    let b = sign_in(&app, "contoso", "megan@contoso.test").await;
    let csrf = b.csrf().await;

    // Megan's other decision on Alex's item holds its row while the accept starts.
    let mut other = app.pool.begin().await.expect("tx");
    sqlx::query(
        "update access_review_items set decision = 'approve', decided_by = $2, decided_at = now()
          where id = $1::uuid",
    )
    .bind(&alex_item)
    .bind(r.megan.0)
    .execute(&mut *other)
    .await
    .expect("the other decision");
    let url = b.url(&format!("/reviews/{id}/accept"));
    let accept = tokio::spawn({
        let client = b.client.clone();
        async move {
            client
                .post(url)
                .form(&[("csrf_token", csrf.as_str())])
                .send()
                .await
                .expect("accept")
                .status()
        }
    });
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    other.commit().await.expect("commit");
    assert_eq!(accept.await.expect("task"), StatusCode::SEE_OTHER);

    let all = items(&app, &r).await;
    assert_eq!(
        of(&all, r.alex).1,
        "approve",
        "the decision made meanwhile stays"
    );
    assert_eq!(of(&all, r.adele).1, "approve", "its recommendation");
    assert_eq!(of(&all, r.nestor).1, "notReviewed", "no recommendation");
}
