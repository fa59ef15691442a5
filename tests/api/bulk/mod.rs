//! Bulk assignment, removal and extension (all or nothing, a result per row): the
//! JSON API and the admin pages.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, TestTenant};

mod admin;
mod assign;
mod change;

/// Rows of the tables a bulk call writes to, to show that a refused call wrote nothing.
async fn counts(app: &TestApp, t: &TestTenant) -> (i64, i64, i64) {
    let count = |table: &'static str| {
        let pool = app.pool.clone();
        let tenant = t.id;
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "select count(*) from {table} where tenant_id = $1"
            )))
            .bind(tenant)
            .fetch_one(&pool)
            .await
            .expect("count")
        }
    };
    (
        count("assignment_requests").await,
        count("assignments").await,
        count("audit_events").await,
    )
}

/// Creates users `<name>@contoso.test` and returns their ids.
async fn users(app: &TestApp, t: &TestTenant, names: &[&str]) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for n in names {
        ids.push(
            app.user(t, &format!("{n}@{}.test", t.slug), json!({}))
                .await
                .0,
        );
    }
    ids
}
