//! A request's custom-extension steps for its pages (portal and admin), read from its
//! audit events: each call, each hold, how it was resumed or timed out, and calls that
//! failed for good. Text in words a person reads; the pages add no rule of their own.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::db::{self, Conn, PageRequest};
use crate::domain::audit::AuditAction;
use crate::domain::extension::ExtensionStage;
use crate::domain::ids::{RequestId, TenantId};
use crate::services::ServiceResult;

/// One step, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: DateTime<Utc>,
    /// `ok`, `warn`, `bad` or `neutral`, as the badges use them.
    pub tone: &'static str,
    pub text: String,
}

fn stage(details: &Value) -> &'static str {
    details["stage"]
        .as_str()
        .and_then(ExtensionStage::parse)
        .map_or("a stage", ExtensionStage::label)
}

fn text(details: &Value, key: &str) -> String {
    details[key].as_str().unwrap_or_default().to_string()
}

/// The words of one event, when it is an extension step.
pub fn describe(action: AuditAction, d: &Value) -> Option<(&'static str, String)> {
    let message = |prefix: String| match d["message"].as_str() {
        Some(m) if !m.is_empty() => format!("{prefix}: “{m}”"),
        _ => prefix,
    };
    Some(match action {
        AuditAction::RequestExtensionCalled => {
            let name = text(d, "extension");
            let waits = d.get("dueAt").and_then(Value::as_str);
            match waits {
                Some(due) => (
                    "neutral",
                    format!(
                        "{}: custom extension “{name}” called; the request waits for its answer until {due}",
                        stage(d)
                    ),
                ),
                None => (
                    "neutral",
                    format!("{}: custom extension “{name}” called", stage(d)),
                ),
            }
        }
        AuditAction::RequestWaitingForCallback => (
            "warn",
            format!("{}: waiting for the custom extension to answer", stage(d)),
        ),
        AuditAction::RequestCallbackResumed => match d["outcome"].as_str() {
            Some("deny") => (
                "bad",
                message(format!(
                    "{}: the custom extension denied the request",
                    stage(d)
                )),
            ),
            _ => (
                "ok",
                message(format!(
                    "{}: the custom extension let the request continue",
                    stage(d)
                )),
            ),
        },
        AuditAction::RequestCallbackTimedOut => match d["outcome"].as_str() {
            Some("deny") => (
                "bad",
                format!(
                    "{}: the custom extension did not answer in time; the request was denied (on time-out: deny)",
                    stage(d)
                ),
            ),
            _ => (
                "warn",
                format!(
                    "{}: the custom extension did not answer in time; the request went on (on time-out: continue)",
                    stage(d)
                ),
            ),
        },
        AuditAction::RequestExtensionFailed => (
            "bad",
            format!(
                "{}: the call to the custom extension failed for good ({})",
                stage(d),
                text(d, "error")
            ),
        ),
        _ => return None,
    })
}

/// The extension steps of a request, oldest first.
#[tracing::instrument(skip_all, fields(request = %request))]
pub async fn steps(
    conn: &mut Conn,
    tenant: TenantId,
    request: RequestId,
) -> ServiceResult<Vec<Step>> {
    let page = db::audit::list(
        conn,
        tenant,
        &db::audit::AuditFilter::target(request.0),
        PageRequest::first(PageRequest::MAX),
    )
    .await?;
    let mut steps: Vec<Step> = page
        .items
        .into_iter()
        .filter_map(|e| {
            describe(e.action, &e.details).map(|(tone, text)| Step {
                at: e.at,
                tone,
                text,
            })
        })
        .collect();
    steps.reverse();
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_step_reads_as_what_happened() {
        let called =
            json!({"stage": "requestCreated", "extension": "HR", "dueAt": "2027-01-04T10:00:00Z"});
        let (_, text) = describe(AuditAction::RequestExtensionCalled, &called).expect("step");
        assert!(
            text.starts_with("Request created: custom extension “HR” called"),
            "{text}"
        );
        assert!(
            text.contains("waits for its answer until 2027-01-04T10:00:00Z"),
            "{text}"
        );
        let denied = json!({"stage": "requestApproved", "outcome": "deny", "message": "No"});
        assert_eq!(
            describe(AuditAction::RequestCallbackResumed, &denied),
            Some((
                "bad",
                "Request approved: the custom extension denied the request: “No”".into()
            ))
        );
        let timed_out = json!({"stage": "requestCreated", "outcome": "continue"});
        let (tone, text) =
            describe(AuditAction::RequestCallbackTimedOut, &timed_out).expect("step");
        assert_eq!(tone, "warn");
        assert!(text.contains("went on (on time-out: continue)"), "{text}");
        assert_eq!(describe(AuditAction::RequestDecided, &json!({})), None);
    }
}
