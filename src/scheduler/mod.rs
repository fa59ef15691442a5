//! Time-driven work, one file per job. Each job is `run_once(&state, now)`: it claims
//! due rows with `FOR UPDATE SKIP LOCKED` (so any number of replicas can run it), acts
//! through `services`, and returns how much it did. The loop runs every
//! `PORTICO_SCHEDULER_INTERVAL_MS` until the cancellation token fires. Every run is
//! counted and timed by job for `/metrics`, with its failures; after each tick, each
//! job's lag (how long its oldest due item has waited) is measured too.

pub mod audit_stream;
pub mod chat;
pub mod emails;
pub mod extensions;
pub mod ldap;
pub mod lifecycle;
pub mod reviews;
pub mod scheduled;
pub mod scim;
pub mod webhooks;

use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::services::backlog::{self, DueWork};
use crate::state::AppState;

/// One job of the scheduler: its name in logs and metrics, its batch and its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Job {
    Scheduled,
    Expiry,
    ExpiryWarnings,
    StageTimeouts,
    Escalations,
    ApprovalReminders,
    Reviews,
    CallbackTimeouts,
    Webhooks,
    ScimCalls,
    LdapCalls,
    Emails,
    Slack,
    Teams,
    ExtensionCalls,
    AuditStream,
}

/// The lifecycle jobs in their order: stage time-outs run before escalations and
/// reminders, so a stage past its due time expires.
const LIFECYCLE: [Job; 8] = [
    Job::Scheduled,
    Job::Expiry,
    Job::ExpiryWarnings,
    Job::StageTimeouts,
    Job::Escalations,
    Job::ApprovalReminders,
    Job::Reviews,
    Job::CallbackTimeouts,
];

/// The delivery jobs: connector calls, emails, chat messages and the audit streams.
const DELIVERY: [Job; 8] = [
    Job::Webhooks,
    Job::ScimCalls,
    Job::LdapCalls,
    Job::Emails,
    Job::Slack,
    Job::Teams,
    Job::ExtensionCalls,
    Job::AuditStream,
];

impl Job {
    fn name(self) -> &'static str {
        match self {
            Job::Scheduled => "scheduled",
            Job::Expiry => "expiry",
            Job::ExpiryWarnings => "expiryWarnings",
            Job::StageTimeouts => "stageTimeouts",
            Job::Escalations => "escalations",
            Job::ApprovalReminders => "approvalReminders",
            Job::Reviews => "reviews",
            Job::Webhooks => "webhooks",
            Job::ScimCalls => "scimCalls",
            Job::LdapCalls => "ldapCalls",
            Job::Emails => "emails",
            Job::Slack => "slack",
            Job::Teams => "teams",
            Job::CallbackTimeouts => "callbackTimeouts",
            Job::ExtensionCalls => "extensionCalls",
            Job::AuditStream => "auditStream",
        }
    }

    /// A run that did this much found a full batch: more work is waiting.
    fn batch(self) -> usize {
        match self {
            Job::Scheduled => scheduled::BATCH,
            Job::Expiry
            | Job::ExpiryWarnings
            | Job::StageTimeouts
            | Job::Escalations
            | Job::ApprovalReminders => lifecycle::BATCH,
            Job::Reviews => reviews::BATCH,
            Job::Webhooks => webhooks::BATCH,
            Job::ScimCalls => scim::BATCH,
            Job::LdapCalls => ldap::BATCH,
            Job::Emails => emails::BATCH,
            Job::Slack | Job::Teams => chat::BATCH,
            Job::CallbackTimeouts => crate::services::requests::TIMEOUT_BATCH as usize,
            Job::ExtensionCalls => extensions::BATCH,
            Job::AuditStream => audit_stream::BATCH,
        }
    }

    fn due_work(self) -> DueWork {
        match self {
            Job::Scheduled => DueWork::ScheduledRequests,
            Job::Expiry => DueWork::Expiries,
            Job::ExpiryWarnings => DueWork::ExpiryWarnings,
            Job::StageTimeouts => DueWork::StageTimeouts,
            Job::Escalations => DueWork::Escalations,
            Job::ApprovalReminders => DueWork::ApprovalReminders,
            Job::Reviews => DueWork::Reviews,
            Job::Webhooks => DueWork::Outbox("webhook"),
            Job::ScimCalls => DueWork::Outbox("scim"),
            Job::LdapCalls => DueWork::Outbox("ldap"),
            Job::Emails => DueWork::Outbox("email"),
            Job::Slack => DueWork::Outbox("slack"),
            Job::Teams => DueWork::Outbox("teams"),
            Job::CallbackTimeouts => DueWork::CallbackTimeouts,
            Job::ExtensionCalls => DueWork::Outbox("extension"),
            Job::AuditStream => DueWork::AuditStreams,
        }
    }

    async fn run_once(self, state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
        match self {
            Job::Scheduled => scheduled::run_once(state, now).await,
            Job::Expiry => lifecycle::expire(state, now).await,
            Job::ExpiryWarnings => lifecycle::warn(state, now).await,
            Job::StageTimeouts => lifecycle::time_out(state, now).await,
            Job::Escalations => lifecycle::escalate(state, now).await,
            Job::ApprovalReminders => lifecycle::remind(state, now).await,
            Job::Reviews => reviews::run_once(state, now).await,
            Job::Webhooks => webhooks::run_once(state, now).await,
            Job::ScimCalls => scim::run_once(state, now).await,
            Job::LdapCalls => ldap::run_once(state, now).await,
            Job::Emails => emails::run_once(state, now).await,
            Job::Slack => chat::run_slack(state, now).await,
            Job::Teams => chat::run_teams(state, now).await,
            Job::CallbackTimeouts => extensions::run_timeouts(state, now).await,
            Job::ExtensionCalls => extensions::run_calls(state, now).await,
            Job::AuditStream => audit_stream::run_once(state, now).await,
        }
    }

    /// Runs the job once and records it: `portico_scheduler_job_runs_total`,
    /// `…_failures_total` and `…_duration_seconds` by job; a failure is logged with its
    /// cause chain. Returns whether the run found a full batch.
    async fn run(self, state: &AppState, now: DateTime<Utc>) -> bool {
        let job = self.name();
        let started = Instant::now();
        let result = self.run_once(state, now).await;
        metrics::histogram!("portico_scheduler_job_duration_seconds", "job" => job)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("portico_scheduler_job_runs_total", "job" => job).increment(1);
        match result {
            Ok(n) => n >= self.batch(),
            Err(e) => {
                metrics::counter!("portico_scheduler_job_failures_total", "job" => job)
                    .increment(1);
                tracing::error!(error = format!("{e:#}"), job, "scheduler job failed");
                false
            }
        }
    }

    /// Sets `portico_scheduler_job_lag_seconds`: how long the oldest item the job has
    /// yet to do has been due (0 when none is).
    async fn record_lag(self, state: &AppState, now: DateTime<Utc>) {
        let job = self.name();
        match backlog::oldest_due(state.pool(), self.due_work(), now).await {
            Ok(oldest) => {
                let lag = oldest.map_or(0.0, |due| {
                    (now - due).num_milliseconds().max(0) as f64 / 1000.0
                });
                metrics::gauge!("portico_scheduler_job_lag_seconds", "job" => job).set(lag);
            }
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), job, "scheduler lag not measured");
            }
        }
    }
}

/// Runs `jobs` in order until none finds a full batch (at most `passes` times, and
/// while `go_on` allows), then records each one's lag.
async fn tick_jobs(state: &AppState, jobs: &[Job], passes: usize, go_on: impl Fn() -> bool) {
    for _ in 0..passes {
        if !go_on() {
            break;
        }
        let now = state.now();
        let mut busy = false;
        for job in jobs {
            busy |= job.run(state, now).await;
        }
        if !busy {
            break;
        }
    }
    let now = state.now();
    for job in jobs {
        job.record_lag(state, now).await;
    }
}

/// One pass of the lifecycle jobs; repeats right away while a job finds a full batch.
pub async fn tick_lifecycle(state: &AppState) {
    tick_jobs(state, &LIFECYCLE, 20, || true).await;
}

const DELIVERY_PASS: std::time::Duration = std::time::Duration::from_secs(10);

/// One pass of the delivery jobs (connector calls and emails), which wait on the
/// outside world and so run beside the lifecycle jobs, never in their way.
/// Repeats while a job finds a full batch, for at most `DELIVERY_PASS` (so a stop
/// request is honoured soon even under a steady stream of emails).
pub async fn tick_delivery(state: &AppState) {
    let started = Instant::now();
    tick_jobs(state, &DELIVERY, usize::MAX, || {
        started.elapsed() < DELIVERY_PASS
    })
    .await;
}

/// Every job once (lifecycle, then delivery).
pub async fn tick(state: &AppState) {
    tick_lifecycle(state).await;
    tick_delivery(state).await;
}

/// Starts the two loops; they stop after their current pass when `stop` is cancelled.
pub fn spawn(state: AppState, stop: CancellationToken) -> JoinHandle<()> {
    let lifecycle = spawn_loop(state.clone(), stop.clone(), Loop::Lifecycle);
    let delivery = spawn_loop(state, stop, Loop::Delivery);
    tokio::spawn(async move {
        for (name, handle) in [("lifecycle", lifecycle), ("delivery", delivery)] {
            if let Err(e) = handle.await {
                tracing::error!(error = %e, name, "scheduler loop ended abnormally");
            }
        }
        tracing::debug!("scheduler stopped");
    })
}

#[derive(Clone, Copy)]
enum Loop {
    Lifecycle,
    Delivery,
}

fn spawn_loop(state: AppState, stop: CancellationToken, which: Loop) -> JoinHandle<()> {
    tokio::spawn(async move {
        let interval = state.settings().scheduler_interval;
        loop {
            match which {
                Loop::Lifecycle => tick_lifecycle(&state).await,
                Loop::Delivery => tick_delivery(&state).await,
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    })
}
