//! Requests and the approval engine (DOMAIN.md §5–7): eligibility refusals, stages in
//! series, fallbacks, anyOne versus all, deny, cancel, concurrent deciders, delivery
//! with membership provenance, removal and deactivation.
//!
//! The tests are grouped by area in the submodules; the helpers they share live here.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestTenant};

mod approval;
mod assignments;
mod batch;
mod eligibility;
mod quorum;
mod scope_change;
mod visibility;

/// A tenant with a manager and an employee who reports to them.
struct People {
    t: TestTenant,
    manager: (Uuid, String),
    employee: (Uuid, String),
    other: (Uuid, String),
}

async fn people(app: &TestApp) -> People {
    let t = app.tenant("contoso").await;
    let manager = app
        .user(
            &t,
            "megan@contoso.test",
            json!({"displayName": "Megan Bowen"}),
        )
        .await;
    let employee = app
        .user(
            &t,
            "adele@contoso.test",
            json!({"displayName": "Adele Vance", "managerId": manager.0}),
        )
        .await;
    let other = app
        .user(
            &t,
            "alex@contoso.test",
            json!({"displayName": "Alex Wilber"}),
        )
        .await;
    People {
        t,
        manager,
        employee,
        other,
    }
}

fn stage(approvers: Value) -> Value {
    json!({"approvers": approvers, "decision": "anyOne", "timeoutDays": 7})
}
