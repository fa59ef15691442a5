//! Turns an outbox email row (recipient + `Notice`) into an `Email`: loads what the
//! message names through `crate::db` (always within the row's tenant), renders the
//! askama pair `templates/email/<name>.html` + `<name>.txt`, and builds the portal links
//! from `PORTICO_BASE_URL`.
//!
//! Invariant of the text part of an approval email: the `Approve: ` and `Deny: ` lines
//! start in column 1, hold the bare absolute URL and come before anything a requestor
//! wrote; text written by people (justification, answers) is indented on every line, so
//! it can never forge a line that starts in column 1.

use crate::config::Settings;
use crate::db::requests::{DecisionRow, RequestRow, StageRow};
use crate::db::{self, Conn, DbError};
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::ids::{RequestId, TenantId, UserId};
use crate::domain::request::{Decision, RequestState, StageState};
use crate::email::Email;
use crate::services::notify::{AskReason, Notice};
use crate::web::view::when;
use askama::Template;

/// Why a row could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The database did not answer: try again later.
    #[error("loading the email's data: {0}")]
    Transient(#[from] DbError),
    /// The row can never be rendered (what it names is gone, or a template failed).
    #[error("{0}")]
    Permanent(String),
}

/// What to do with a row.
#[derive(Debug)]
pub enum Rendered {
    Send(Box<Email>),
    /// Nothing to send any more (recipient deactivated, stage already decided); the
    /// reason is logged.
    Skip(String),
}

/// The `Message-ID` of the email of outbox row `id`: stable across retries.
pub fn message_id(outbox_id: impl std::fmt::Display) -> String {
    format!("<{outbox_id}@portico>")
}

/// Indents every line after the first, so text written by people never starts a line
/// in column 1 of a plain-text email.
pub fn indent(text: &str, by: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines.join(&format!("\n{by}"))
}

/// One answer to a policy question.
#[derive(Clone, Debug, Default)]
pub struct AnswerLine {
    pub question: String,
    pub value: String,
}

impl AnswerLine {
    pub fn question_text(&self) -> String {
        indent(&self.question, "  ")
    }

    pub fn value_text(&self) -> String {
        indent(&self.value, "    ")
    }
}

/// One decision on a stage.
#[derive(Clone, Debug)]
pub struct DecisionLine {
    pub approver: String,
    pub decision: Decision,
    pub justification: Option<String>,
    pub at: String,
}

impl DecisionLine {
    pub fn justification_text(&self) -> String {
        self.justification
            .as_deref()
            .map(|j| indent(j, "    "))
            .unwrap_or_default()
    }
}

/// Absolute links into the portal.
#[derive(Clone, Debug, Default)]
pub struct Links {
    pub portal: String,
    pub request: String,
    pub approvals: String,
    pub access: String,
    pub extend: String,
    pub review: String,
    pub approve: String,
    pub deny: String,
    pub sign_in: String,
}

/// Everything a template may show. Each template uses what its notice has.
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub tenant: String,
    pub recipient: String,
    pub package: String,
    pub requestor: String,
    pub target: String,
    /// The requestor asked for themselves.
    pub for_self: bool,
    pub justification: Option<String>,
    pub answers: Vec<AnswerLine>,
    pub request_state: Option<RequestState>,
    pub stage_number: i32,
    pub stage_count: usize,
    pub due: String,
    /// opened | escalated | reminder
    pub reason: String,
    pub start: Option<String>,
    pub end: Option<String>,
    pub days_left: i64,
    pub can_extend: bool,
    /// Why access ended: expired, removed by an admin, …
    pub ended_because: String,
    /// Decisions of the last stage (denials show who denied and why).
    pub decisions: Vec<DecisionLine>,
    pub links: Links,
}

impl Mail {
    /// The justification with continuation lines indented (text part).
    pub fn justification_text(&self) -> String {
        self.justification
            .as_deref()
            .map(|j| indent(j, "  "))
            .unwrap_or_else(|| "(none given)".into())
    }

    pub fn days_phrase(&self) -> String {
        if self.days_left == 1 {
            "1 day".into()
        } else {
            format!("{} days", self.days_left)
        }
    }
}

/// Declares the HTML and text template structs of one email.
macro_rules! email_pair {
    ($($html:ident $text:ident $html_path:tt $text_path:tt;)*) => {$(
        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a Mail,
        }
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a Mail,
        }
    )*};
}

email_pair! {
    RequestSubmittedHtml RequestSubmittedText "email/request_submitted.html" "email/request_submitted.txt";
    ApprovalNeededHtml ApprovalNeededText "email/approval_needed.html" "email/approval_needed.txt";
    RequestApprovedHtml RequestApprovedText "email/request_approved.html" "email/request_approved.txt";
    RequestDeniedHtml RequestDeniedText "email/request_denied.html" "email/request_denied.txt";
    RequestExpiredHtml RequestExpiredText "email/request_expired.html" "email/request_expired.txt";
    RequestCanceledHtml RequestCanceledText "email/request_canceled.html" "email/request_canceled.txt";
    AccessDeliveredHtml AccessDeliveredText "email/access_delivered.html" "email/access_delivered.txt";
    DeliveryFailedHtml DeliveryFailedText "email/delivery_failed.html" "email/delivery_failed.txt";
    AccessExpiringHtml AccessExpiringText "email/access_expiring.html" "email/access_expiring.txt";
    AccessEndedHtml AccessEndedText "email/access_ended.html" "email/access_ended.txt";
    ReviewStartedHtml ReviewStartedText "email/review_started.html" "email/review_started.txt";
    ReviewReminderHtml ReviewReminderText "email/review_reminder.html" "email/review_reminder.txt";
    SignInLinkHtml SignInLinkText "email/sign_in_link.html" "email/sign_in_link.txt";
}

fn permanent(what: impl Into<String>) -> RenderError {
    RenderError::Permanent(what.into())
}

/// Renders the subject and both parts of `notice` for `mail`.
pub fn render_parts(notice: &Notice, m: &Mail) -> Result<(String, String, String), RenderError> {
    fn pair(html: impl Template, text: impl Template) -> Result<(String, String), askama::Error> {
        Ok((html.render()?, text.render()?))
    }
    let p = &m.package;
    let (subject, parts) = match notice {
        Notice::RequestSubmitted { .. } => (
            format!("Request received: {p}"),
            pair(RequestSubmittedHtml { m }, RequestSubmittedText { m }),
        ),
        Notice::ApprovalNeeded { reason, .. } => (
            match reason {
                AskReason::Opened => format!("Approval needed: {} requests {p}", m.requestor),
                AskReason::Escalated => {
                    format!("Approval needed (escalated): {} requests {p}", m.requestor)
                }
                AskReason::Reminder => {
                    format!("Reminder: approval needed: {} requests {p}", m.requestor)
                }
            },
            pair(ApprovalNeededHtml { m }, ApprovalNeededText { m }),
        ),
        Notice::RequestApproved { .. } => (
            format!("Request approved: {p}"),
            pair(RequestApprovedHtml { m }, RequestApprovedText { m }),
        ),
        Notice::RequestDenied { .. } => (
            format!("Request denied: {p}"),
            pair(RequestDeniedHtml { m }, RequestDeniedText { m }),
        ),
        Notice::RequestExpired { .. } => (
            format!("Request expired: {p}"),
            pair(RequestExpiredHtml { m }, RequestExpiredText { m }),
        ),
        Notice::RequestCanceled { .. } => (
            format!("Request canceled: {p}"),
            pair(RequestCanceledHtml { m }, RequestCanceledText { m }),
        ),
        Notice::AccessDelivered { .. } => (
            format!("Access delivered: {p}"),
            pair(AccessDeliveredHtml { m }, AccessDeliveredText { m }),
        ),
        Notice::DeliveryFailed { .. } => (
            format!("Access could not be delivered: {p}"),
            pair(DeliveryFailedHtml { m }, DeliveryFailedText { m }),
        ),
        Notice::AccessExpiring { .. } => (
            format!("Your access to {p} ends in {}", m.days_phrase()),
            pair(AccessExpiringHtml { m }, AccessExpiringText { m }),
        ),
        Notice::AccessEnded { .. } => (
            format!("Your access to {p} has ended"),
            pair(AccessEndedHtml { m }, AccessEndedText { m }),
        ),
        Notice::ReviewStarted { .. } => (
            format!("Access review started in {}", m.tenant),
            pair(ReviewStartedHtml { m }, ReviewStartedText { m }),
        ),
        Notice::ReviewReminder { .. } => (
            format!("Reminder: access review in {} is waiting for you", m.tenant),
            pair(ReviewReminderHtml { m }, ReviewReminderText { m }),
        ),
        Notice::SignInLink { .. } => (
            format!("Sign in to {}", m.tenant),
            pair(SignInLinkHtml { m }, SignInLinkText { m }),
        ),
    };
    let (html, text) = parts.map_err(|e| permanent(format!("rendering the email: {e}")))?;
    Ok((subject, text, html))
}

/// Loads, renders and addresses the email of one outbox row.
pub async fn render(
    conn: &mut Conn,
    settings: &Settings,
    tenant_id: TenantId,
    to: UserId,
    notice: &Notice,
    message_id: String,
) -> Result<Rendered, RenderError> {
    let tenant = db::tenants::get(conn, tenant_id)
        .await
        .map_err(|e| match e {
            DbError::NotFound => permanent("the tenant no longer exists"),
            other => RenderError::Transient(other),
        })?;
    let Some(recipient) = db::users::get(conn, tenant_id, to).await? else {
        return Err(permanent(format!("there is no user {to} in the tenant")));
    };
    if !recipient.active {
        return Ok(Rendered::Skip("the recipient is deactivated".into()));
    }
    let base = settings.public_url();
    let portal = format!("{base}/t/{}", tenant.slug);
    let mut m = Mail {
        tenant: tenant.display_name.clone(),
        recipient: recipient.display_name.clone(),
        links: Links {
            portal: format!("{portal}/"),
            access: format!("{portal}/access"),
            ..Links::default()
        },
        ..Mail::default()
    };
    match notice {
        Notice::RequestSubmitted { request_id }
        | Notice::RequestApproved { request_id }
        | Notice::RequestDenied { request_id }
        | Notice::RequestExpired { request_id }
        | Notice::RequestCanceled { request_id }
        | Notice::AccessDelivered { request_id }
        | Notice::DeliveryFailed { request_id } => {
            load_request(conn, tenant_id, *request_id, &portal, &mut m).await?;
        }
        Notice::ApprovalNeeded {
            request_id,
            stage_index,
            token,
            reason,
        } => {
            let (request, stages) =
                load_request(conn, tenant_id, *request_id, &portal, &mut m).await?;
            let Some(stage) = stages.iter().find(|s| s.stage_index == *stage_index) else {
                return Err(permanent(format!(
                    "request {request_id} has no stage {stage_index}"
                )));
            };
            if stage.state != StageState::Pending || request.state != RequestState::PendingApproval
            {
                return Ok(Rendered::Skip(format!(
                    "stage {} of request {request_id} is no longer waiting for a decision",
                    stage_index + 1
                )));
            }
            m.stage_number = stage.stage_index + 1;
            m.due = when(stage.due_at);
            m.reason = match reason {
                AskReason::Opened => "opened",
                AskReason::Escalated => "escalated",
                AskReason::Reminder => "reminder",
            }
            .into();
            m.links.approve = format!("{base}/links/{token}/approve");
            m.links.deny = format!("{base}/links/{token}/deny");
        }
        Notice::AccessExpiring {
            assignment_id,
            days_left,
            can_extend,
        } => {
            load_assignment(conn, tenant_id, *assignment_id, &portal, &mut m).await?;
            m.days_left = *days_left;
            m.can_extend = *can_extend;
        }
        Notice::AccessEnded { assignment_id } => {
            load_assignment(conn, tenant_id, *assignment_id, &portal, &mut m).await?;
        }
        Notice::ReviewStarted { review_id } | Notice::ReviewReminder { review_id } => {
            m.links.review = format!("{portal}/reviews/{review_id}");
        }
        Notice::SignInLink { token } => {
            m.links.sign_in = format!("{portal}/sign-in/{token}");
        }
    }
    let (subject, text, html) = render_parts(notice, &m)?;
    Ok(Rendered::Send(Box::new(Email {
        message_id,
        tenant: tenant.slug.clone(),
        from_name: tenant.display_name,
        to: recipient.email,
        reply_to: tenant.reply_to,
        subject,
        text,
        html,
    })))
}

/// Loads the assignment and the request that created it into `m`.
async fn load_assignment(
    conn: &mut Conn,
    tenant: TenantId,
    id: crate::domain::ids::AssignmentId,
    portal: &str,
    m: &mut Mail,
) -> Result<(), RenderError> {
    let Some(a) = db::assignments::get(conn, tenant, id).await? else {
        return Err(permanent(format!("there is no assignment {id}")));
    };
    load_request(conn, tenant, a.request_id, portal, m).await?;
    m.start = Some(when(a.start_at));
    m.end = a.end_at.map(when);
    m.links.extend = format!("{portal}/access/{}/extend", a.id);
    m.ended_because = match (a.state, a.removal_reason) {
        (AssignmentState::Expired, _) => "it reached its end date",
        (_, Some(RemovalReason::Admin)) => "an administrator removed it",
        (_, Some(RemovalReason::User)) => "you asked to remove it",
        (_, Some(RemovalReason::Review)) => "an access review decided it should end",
        (_, Some(RemovalReason::UserDeactivated)) => "your account was deactivated",
        (_, Some(RemovalReason::Incompatible)) => "it conflicts with other access you hold",
        (_, Some(RemovalReason::PolicyChanged)) => "its policy changed",
        (_, None) => "it was removed",
    }
    .into();
    Ok(())
}

/// Loads the request, its package, people, answers and stages into `m`.
async fn load_request(
    conn: &mut Conn,
    tenant: TenantId,
    id: RequestId,
    portal: &str,
    m: &mut Mail,
) -> Result<(RequestRow, Vec<StageRow>), RenderError> {
    let Some(request) = db::requests::get(conn, tenant, id).await? else {
        return Err(permanent(format!("there is no request {id}")));
    };
    let package = db::packages::get(conn, tenant, request.package_id)
        .await?
        .ok_or_else(|| permanent(format!("there is no access package {}", request.package_id)))?;
    let mut people = vec![request.target_user_id];
    people.extend(request.requestor_id);
    let (stages, decisions) = db::requests::stages_and_decisions(conn, tenant, &[id]).await?;
    let last = stages.last().map(|s| s.stage_index);
    let last_decisions: Vec<&DecisionRow> = decisions
        .iter()
        .filter(|d| Some(d.stage_index) == last)
        .collect();
    people.extend(last_decisions.iter().map(|d| d.approver_id));
    let users = db::users::get_many(conn, tenant, &people).await?;
    let name = |u: UserId| {
        users
            .iter()
            .find(|x| x.id == u)
            .map(|x| x.display_name.clone())
            .unwrap_or_else(|| "a former user".into())
    };
    let policy = db::packages::get_policy(conn, tenant, request.policy_id).await?;
    m.package = package.display_name;
    m.target = name(request.target_user_id);
    m.requestor = request
        .requestor_id
        .map(name)
        .unwrap_or_else(|| "Portico".into());
    m.for_self = request.requestor_id == Some(request.target_user_id);
    m.justification = request.justification.clone();
    m.answers = request
        .answers
        .0
        .iter()
        .map(|a| AnswerLine {
            question: a.question.clone(),
            value: a.value.clone(),
        })
        .collect();
    m.request_state = Some(request.state);
    m.stage_count = policy
        .map(|p| p.settings.0.approval.stages.len())
        .unwrap_or(stages.len())
        .max(stages.len());
    m.start = request.schedule_start.map(when);
    m.end = request.schedule_end.map(when);
    m.decisions = last_decisions
        .iter()
        .map(|d| DecisionLine {
            approver: name(d.approver_id),
            decision: d.decision,
            justification: d.justification.clone(),
            at: when(d.decided_at),
        })
        .collect();
    m.links.request = format!("{portal}/requests/{id}");
    m.links.approvals = format!("{portal}/approvals/{id}");
    Ok((request, stages))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{AssignmentId, RequestId};

    fn sample() -> Mail {
        Mail {
            tenant: "Contoso".into(),
            recipient: "Megan Bowen".into(),
            package: "Windows 11 Testing".into(),
            requestor: "Adele Vance".into(),
            target: "Adele Vance".into(),
            for_self: true,
            justification: Some("Beta testing\nApprove: https://evil.example/x".into()),
            answers: vec![AnswerLine {
                question: "Which device?".into(),
                value: "Laptop 42".into(),
            }],
            request_state: Some(RequestState::PendingApproval),
            stage_number: 1,
            stage_count: 2,
            due: "2027-01-11 09:00 UTC".into(),
            reason: "opened".into(),
            end: Some("2027-02-01 00:00 UTC".into()),
            days_left: 14,
            can_extend: true,
            ended_because: "it reached its end date".into(),
            decisions: vec![DecisionLine {
                approver: "Megan Bowen".into(),
                decision: Decision::Deny,
                justification: Some("Not now".into()),
                at: "2027-01-05 10:00 UTC".into(),
            }],
            links: Links {
                portal: "https://p.example/t/contoso/".into(),
                request: "https://p.example/t/contoso/requests/r".into(),
                approvals: "https://p.example/t/contoso/approvals/r".into(),
                access: "https://p.example/t/contoso/access".into(),
                extend: "https://p.example/t/contoso/access/a/extend".into(),
                review: "https://p.example/t/contoso/reviews/v".into(),
                approve: "https://p.example/links/TOKEN/approve".into(),
                deny: "https://p.example/links/TOKEN/deny".into(),
                sign_in: "https://p.example/t/contoso/sign-in/TOKEN".into(),
            },
            ..Mail::default()
        }
    }

    fn every_notice() -> Vec<Notice> {
        let r = RequestId::new();
        let a = AssignmentId::new();
        vec![
            Notice::RequestSubmitted { request_id: r },
            Notice::ApprovalNeeded {
                request_id: r,
                stage_index: 0,
                token: "TOKEN".into(),
                reason: AskReason::Opened,
            },
            Notice::RequestApproved { request_id: r },
            Notice::RequestDenied { request_id: r },
            Notice::RequestExpired { request_id: r },
            Notice::RequestCanceled { request_id: r },
            Notice::AccessDelivered { request_id: r },
            Notice::DeliveryFailed { request_id: r },
            Notice::AccessExpiring {
                assignment_id: a,
                days_left: 14,
                can_extend: true,
            },
            Notice::AccessEnded { assignment_id: a },
            Notice::ReviewStarted {
                review_id: uuid::Uuid::now_v7(),
            },
            Notice::ReviewReminder {
                review_id: uuid::Uuid::now_v7(),
            },
        ]
    }

    #[test]
    fn every_notice_renders_both_parts_naming_the_tenant() {
        let m = sample();
        for notice in every_notice() {
            let (subject, text, html) = render_parts(&notice, &m).expect("renders");
            assert!(!subject.is_empty());
            assert!(text.contains("Contoso"), "{notice:?}: {text}");
            assert!(html.contains("Contoso"), "{notice:?}: {html}");
            assert!(html.contains("<html"), "{notice:?}");
            if !matches!(
                notice,
                Notice::ReviewStarted { .. } | Notice::ReviewReminder { .. }
            ) {
                for part in [&text, &html] {
                    assert!(part.contains("Windows 11 Testing"), "{notice:?}: {part}");
                    assert!(part.contains("Adele Vance"), "{notice:?}: {part}");
                }
            }
        }
    }

    #[test]
    fn the_approval_text_has_bare_approve_and_deny_lines_before_what_people_wrote() {
        let m = sample();
        let notice = &every_notice()[1];
        let (_, text, _) = render_parts(notice, &m).expect("renders");
        let lines: Vec<&str> = text.lines().collect();
        let approve: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with("Approve: "))
            .collect();
        assert_eq!(
            approve,
            vec![&"Approve: https://p.example/links/TOKEN/approve"],
            "{text}"
        );
        assert!(
            lines.contains(&"Deny: https://p.example/links/TOKEN/deny"),
            "{text}"
        );
        // The requestor's attempt to forge a line is indented.
        assert!(text.contains("  Approve: https://evil.example/x"), "{text}");
    }

    #[test]
    fn html_escapes_what_people_wrote() {
        let mut m = sample();
        m.justification = Some("<script>alert(1)</script>".into());
        let (_, _, html) = render_parts(&every_notice()[1], &m).expect("renders");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;"), "{html}");
    }

    #[test]
    fn indent_leaves_single_lines_alone() {
        assert_eq!(indent("one", "  "), "one");
        assert_eq!(indent("one\ntwo\r\nthree", "  "), "one\n  two\n  three");
    }
}
