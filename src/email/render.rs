//! Renders a prepared `Mail` model for a `Notice` through the askama pair
//! `templates/email/<name>.html` + `<name>.txt`. The model (names, dates, absolute
//! portal links) is built by `services::mail`; nothing here reads the database.
//!
//! Invariant of the text part of an approval email: the `Approve: ` and `Deny: ` lines
//! start in column 1, hold the bare absolute URL and come before anything a requestor
//! wrote; text written by people (justification, answers) is indented on every line, so
//! it can never forge a line that starts in column 1.

use askama::Template;

use crate::domain::request::{Decision, RequestState};
use crate::services::notify::{AskReason, Notice};
pub(crate) use crate::time_text::when;

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
    /// The stage's number, from 1.
    pub stage: i32,
    pub approver: String,
    pub decision: Decision,
    pub justification: Option<String>,
    pub at: String,
}

/// A resource role an assignment delivered.
#[derive(Clone, Debug, Default)]
pub struct GrantLine {
    pub resource: String,
    pub role: String,
}

impl DecisionLine {
    pub fn verb(&self) -> &'static str {
        match self.decision {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        }
    }

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
    /// Decisions of the stages before the last (shown to a later stage's approvers).
    pub earlier: Vec<DecisionLine>,
    /// The decision that closed a stage before this recipient decided.
    pub decided: Option<DecisionLine>,
    /// Who canceled the request, as a sentence.
    pub canceled_by: String,
    /// The resource roles an assignment delivered.
    pub granted: Vec<GrantLine>,
    /// Items of an access review the recipient reviews, and how many are undecided.
    pub review_people: i64,
    pub review_undecided: i64,
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

    /// What follows an approval, as a sentence: a scheduled start, connector calls
    /// still under way, or an extension's new end.
    pub fn approved_next(&self) -> String {
        let until = self
            .end
            .as_deref()
            .map_or_else(|| "with no end date".to_string(), |e| format!("until {e}"));
        match (self.request_state, self.start.as_deref()) {
            (Some(RequestState::Scheduled), Some(start)) => {
                format!(
                    "Access will be delivered on {start}, {until}; you will get another email then."
                )
            }
            (Some(RequestState::Delivered), _) => format!("The access now lasts {until}."),
            _ => format!(
                "Access is being delivered, {until}; you will get another email once it is there."
            ),
        }
    }

    /// "1 person" / "3 people".
    pub fn people_phrase(&self, n: impl std::borrow::Borrow<i64>) -> String {
        let n = *n.borrow();
        if n == 1 {
            "1 person".into()
        } else {
            format!("{n} people")
        }
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
    StageDecidedHtml StageDecidedText "email/stage_decided.html" "email/stage_decided.txt";
}

/// Renders the subject and both parts of `notice` for `mail`.
pub fn render_parts(notice: &Notice, m: &Mail) -> Result<(String, String, String), String> {
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
        Notice::StageDecided { .. } => (
            format!(
                "Already {}: {} requests {p}",
                m.decided.as_ref().map_or("decided", DecisionLine::verb),
                m.requestor
            ),
            pair(StageDecidedHtml { m }, StageDecidedText { m }),
        ),
        Notice::ReviewStarted { .. } => (
            format!("Access review started: {p}, due {}", m.due),
            pair(ReviewStartedHtml { m }, ReviewStartedText { m }),
        ),
        Notice::ReviewReminder { .. } => (
            format!("Reminder: access review of {p} is waiting for you"),
            pair(ReviewReminderHtml { m }, ReviewReminderText { m }),
        ),
        Notice::SignInLink { .. } => (
            format!("Sign in to {}", m.tenant),
            pair(SignInLinkHtml { m }, SignInLinkText { m }),
        ),
    };
    let (html, text) = parts.map_err(|e| format!("rendering the email: {e}"))?;
    Ok((subject, text, html))
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
                stage: 1,
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
            Notice::RequestCanceled {
                request_id: r,
                by: None,
            },
            Notice::StageDecided {
                request_id: r,
                stage_index: 0,
                by: crate::domain::ids::UserId(uuid::Uuid::now_v7()),
            },
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
