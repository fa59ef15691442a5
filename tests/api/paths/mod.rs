//! Paths through the product that each need a test of their own: choosing between two
//! policies, the `none` and `allUsers` requestor scopes, a scheduled start delivered by
//! the scheduler, extension with approval, `secondLevelManager` and `resourceOwners`
//! approvers, the group Owner role, a revoke superseding an unsent webhook grant,
//! separation of duties end to end, and the portal's review pages.
//!
//! The tests are grouped by path in the submodules; the helpers they share live here.

use std::time::Duration as StdDuration;

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, uuid_of};

mod approvers;
mod extension;
mod owner_role;
mod policy_choice;
mod portal_reviews;
mod scheduled_start;
mod scopes;
mod separation;
mod webhook_supersede;

/// Polls `check` until it holds (the scheduler runs every 100 ms in tests).
async fn eventually<F, Fut>(what: &str, mut check: F)
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

/// The state of a request, read from the database.
async fn request_state(app: &TestApp, request: &Value) -> String {
    sqlx::query_scalar("select state from assignment_requests where id = $1")
        .bind(uuid_of(&request["id"]))
        .fetch_one(&app.pool)
        .await
        .expect("request state")
}

/// The policy a request was made under.
async fn request_policy(app: &TestApp, request: Uuid) -> Uuid {
    sqlx::query_scalar("select policy_id from assignment_requests where id = $1")
        .bind(request)
        .fetch_one(&app.pool)
        .await
        .expect("request policy")
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

/// The approvers of the request's stage `index`, sorted.
fn stage_approvers(request: &Value, index: usize) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = request["stages"][index]["approverIds"]
        .as_array()
        .unwrap_or_else(|| panic!("no approvers in stage {index}: {request}"))
        .iter()
        .map(uuid_of)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}
