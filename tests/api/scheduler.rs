//! The scheduler's jobs as `/metrics` shows them: runs, failures and duration by job,
//! and each job's lag (how long its oldest due item has waited), measured by one query
//! per job.

use chrono::Duration;
use portico::db::backlog::{DueWork, oldest_due};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::mailbox::pending_request;

const TOKEN: &str = "metrics-token-0123456789";
const JOBS: [&str; 11] = [
    "scheduled",
    "expiry",
    "expiryWarnings",
    "stageTimeouts",
    "escalations",
    "approvalReminders",
    "reviews",
    "webhooks",
    "scimCalls",
    "ldapCalls",
    "emails",
];

/// A server whose scheduler runs only when the test ticks it.
async fn app_without_scheduler() -> TestApp {
    TestApp::spawn_with_settings(&[
        ("PORTICO_SCHEDULER_ENABLED", "false"),
        ("PORTICO_METRICS_TOKEN", TOKEN),
    ])
    .await
}

async fn metrics(app: &TestApp) -> String {
    let res = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.expect("body")
}

/// The value of sample `name` for `job` (0 when it is not there yet). The recorder is
/// the process's, so the servers of other tests add to the same counters.
fn sample(text: &str, name: &str, job: &str) -> f64 {
    let label = format!("job=\"{job}\"");
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn each_job_counts_its_runs_and_failures_and_shows_its_duration_and_lag() {
    let app = app_without_scheduler().await;
    let before = metrics(&app).await;
    portico::scheduler::tick(&app.state).await;
    let after = metrics(&app).await;
    for job in JOBS {
        let runs = |text: &str| sample(text, "portico_scheduler_job_runs_total", job);
        assert!(
            runs(&after) >= runs(&before) + 1.0,
            "{job} ran once more:\n{after}"
        );
        for series in [
            "portico_scheduler_job_duration_seconds_count",
            "portico_scheduler_job_lag_seconds",
        ] {
            let line = format!("{series}{{job=\"{job}\"}}");
            assert!(after.contains(&line), "{line} in:\n{after}");
        }
    }

    // Without its outbox table the emails job fails on every run, and says so.
    sqlx::query("alter table outbox rename to outbox_elsewhere")
        .execute(&app.pool)
        .await
        .expect("rename the outbox");
    let failures = |text: &str| sample(text, "portico_scheduler_job_failures_total", "emails");
    let runs = |text: &str| sample(text, "portico_scheduler_job_runs_total", "emails");
    let before = metrics(&app).await;
    for _ in 0..3 {
        portico::scheduler::tick_delivery(&app.state).await;
    }
    let after = metrics(&app).await;
    assert!(
        failures(&after) >= failures(&before) + 3.0,
        "three failed runs of the emails job:\n{after}"
    );
    assert!(runs(&after) >= runs(&before) + 3.0, "{after}");
}

#[tokio::test]
async fn the_lag_of_a_job_is_the_age_of_its_oldest_due_item() {
    let app = app_without_scheduler().await;
    let mut conn = app.pool.acquire().await.expect("a connection");
    let every = [
        DueWork::ScheduledRequests,
        DueWork::Expiries,
        DueWork::ExpiryWarnings,
        DueWork::StageTimeouts,
        DueWork::Escalations,
        DueWork::ApprovalReminders,
        DueWork::Reviews,
        DueWork::Outbox("webhook"),
        DueWork::Outbox("email"),
    ];
    for work in every {
        let oldest = oldest_due(&mut conn, work, app.now()).await;
        assert_eq!(oldest.ok(), Some(None), "nothing of {work:?} is due yet");
    }

    // A request waiting for the manager: its email is due at once, its stage times out
    // after 7 days and reminds the approver halfway.
    let submitted = app.now();
    pending_request(&app, "acme", |_| json!({})).await;
    let email = oldest_due(&mut conn, DueWork::Outbox("email"), app.now())
        .await
        .expect("email lag");
    assert_eq!(email, Some(submitted));
    let at = |days: i64| submitted + Duration::days(days);
    let reminder = oldest_due(&mut conn, DueWork::ApprovalReminders, at(4))
        .await
        .expect("reminder lag");
    assert_eq!(reminder, Some(submitted + Duration::hours(84)));
    let timeout = oldest_due(&mut conn, DueWork::StageTimeouts, at(6))
        .await
        .expect("timeout lag");
    assert_eq!(timeout, None, "not due before 7 days");
    let timeout = oldest_due(&mut conn, DueWork::StageTimeouts, at(8))
        .await
        .expect("timeout lag");
    assert_eq!(timeout, Some(at(7)));
}
