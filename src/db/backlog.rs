//! How far behind the scheduler's work is: for each kind of due work, when its oldest
//! item became due. Across tenants, like the claims of the jobs it mirrors; one
//! aggregate over the same rows and conditions that job claims by.

use chrono::{DateTime, Utc};

use super::assignments::ACTIVE;
use super::{Conn, DbResult};

/// The work of one scheduler job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DueWork {
    /// Scheduled requests whose start has come.
    ScheduledRequests,
    /// Active assignments past their end.
    Expiries,
    /// Expiry warnings (14 days and 1 day ahead) not sent yet.
    ExpiryWarnings,
    /// Pending approval stages past their due time.
    StageTimeouts,
    /// Pending stages past their escalation time.
    Escalations,
    /// Pending stages past half their time, approvers not reminded yet.
    ApprovalReminders,
    /// Access reviews to close or to remind about.
    Reviews,
    /// Requests held by a custom extension past its timeout.
    CallbackTimeouts,
    /// Outbox rows of one kind (`webhook`, `email`) due for an attempt.
    Outbox(&'static str),
    /// Audit streams waiting to retry a failed delivery.
    AuditStreams,
}

/// When the oldest item of `work` became due, if any is due at `now`.
pub async fn oldest_due(
    conn: &mut Conn,
    work: DueWork,
    now: DateTime<Utc>,
) -> DbResult<Option<DateTime<Utc>>> {
    let pending_stage = "from request_stages s
         join assignment_requests r on r.tenant_id = s.tenant_id and r.id = s.request_id
         where s.state = 'pending' and r.state = 'pendingApproval'";
    let sql = match work {
        DueWork::CallbackTimeouts => "select min(due_at) from request_callbacks
             where state = 'waiting' and due_at <= $1"
            .to_string(),
        DueWork::ScheduledRequests => "select min(schedule_start) from assignment_requests
             where state = 'scheduled' and schedule_start <= $1"
            .to_string(),
        DueWork::Expiries => {
            format!("select min(end_at) from assignments where end_at <= $1 and state in {ACTIVE}")
        }
        DueWork::ExpiryWarnings => {
            let warning = |days: i32, column: &str| {
                format!(
                    "(select min(end_at) - make_interval(days => {days}) from assignments
                       where state in {ACTIVE} and end_at is not null and {column} is null
                         and end_at <= $1 + make_interval(days => {days}) and end_at > $1
                         and end_at - make_interval(days => {days}) > start_at)"
                )
            };
            format!(
                "select least({}, {})",
                warning(14, "warned_14_at"),
                warning(1, "warned_1_at")
            )
        }
        DueWork::StageTimeouts => {
            format!("select min(s.due_at) {pending_stage} and s.due_at <= $1")
        }
        DueWork::Escalations => format!(
            "select min(s.escalate_at) {pending_stage}
               and s.escalate_at <= $1 and s.escalated_at is null and s.due_at > $1"
        ),
        DueWork::ApprovalReminders => format!(
            "select min(s.opened_at + (s.due_at - s.opened_at) / 2) {pending_stage}
               and s.opened_at + (s.due_at - s.opened_at) / 2 <= $1 and s.reminded_at is null
               and s.due_at > $1"
        ),
        DueWork::Reviews => "select least(
               (select min(end_at) from access_reviews where state = 'inProgress' and end_at <= $1),
               (select min(remind_at) from access_reviews
                 where state = 'inProgress' and reminded_at is null and remind_at <= $1 and end_at > $1))"
            .to_string(),
        DueWork::AuditStreams => "select min(next_attempt_at) from audit_streams
             where enabled and attempts > 0 and next_attempt_at <= $1"
            .to_string(),
        DueWork::Outbox(_) => "select min(next_attempt_at) from outbox
             where state = 'pending' and kind = $2 and next_attempt_at <= $1"
            .to_string(),
    };
    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(now);
    if let DueWork::Outbox(kind) = work {
        query = query.bind(kind);
    }
    Ok(query.fetch_one(conn).await?)
}
