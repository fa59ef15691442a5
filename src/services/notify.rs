//! Notifications (DOMAIN.md §10). A service that changes state calls `enqueue` in its
//! own transaction; the row is an outbox `email` row naming the recipient and the
//! notice. The email job renders it (HTML and text) and sends it with a Message-ID
//! derived from the row id, so retries are recognisable as the same message.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ServiceResult;
use super::audit::Trail;
use crate::db::outbox::NewOutbox;
use crate::db::{self, Conn};
use crate::domain::ids::{AssignmentId, OutboxId, RequestId, TenantId, UserId};
use crate::domain::outbox::OutboxKind;

/// Why an approver is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AskReason {
    /// The stage just opened.
    Opened,
    /// Escalation added them as alternate approvers.
    Escalated,
    /// Halfway to the due time, still undecided.
    Reminder,
}

/// What happened, with the ids the email job needs to render it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "template",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Notice {
    /// To the requestor: the request was received.
    RequestSubmitted {
        request_id: RequestId,
    },
    /// To an approver: a stage needs their decision. `token` is the plain emailed-link
    /// token (only its hash is stored); the email job removes it once sent.
    ApprovalNeeded {
        request_id: RequestId,
        stage_index: i32,
        token: String,
        reason: AskReason,
    },
    /// To the requestor: approved, while the access is not there yet (a scheduled
    /// start, connector calls) or an extension's new end was set.
    RequestApproved {
        request_id: RequestId,
    },
    RequestDenied {
        request_id: RequestId,
    },
    /// To the requestor: a stage timed out.
    RequestExpired {
        request_id: RequestId,
    },
    /// To the requestor: the request was canceled, by `by` (them, or who manages the
    /// catalog) or, when `None`, by Portico itself.
    RequestCanceled {
        request_id: RequestId,
        #[serde(default)]
        by: Option<UserId>,
    },
    /// To an approver who had not decided: `by` decided stage `stage_index` first, so
    /// their decision is no longer needed.
    StageDecided {
        request_id: RequestId,
        stage_index: i32,
        by: UserId,
    },
    /// To the target user: access is there.
    AccessDelivered {
        request_id: RequestId,
    },
    /// To the target user (and requestor): some or all of the access failed.
    DeliveryFailed {
        request_id: RequestId,
    },
    /// To the holder, 14 days and 1 day before the end.
    AccessExpiring {
        assignment_id: AssignmentId,
        days_left: i64,
        can_extend: bool,
    },
    /// To the holder: access ended (expiry, removal, review).
    AccessEnded {
        assignment_id: AssignmentId,
    },
    /// To a reviewer: a review started.
    ReviewStarted {
        review_id: uuid::Uuid,
    },
    /// To a reviewer who has undecided items, before the review ends.
    ReviewReminder {
        review_id: uuid::Uuid,
    },
    /// To a person who asked to sign in: a single-use link valid for 15 minutes,
    /// `{base}/t/{slug}/sign-in/{token}`. `token` is the plain link token (only its hash
    /// is stored).
    SignInLink {
        token: String,
    },
}

/// [`enqueue`] into the transaction's trail: the row is written with its audit events
/// (no statement of its own).
pub fn queue(
    trail: &mut Trail,
    tenant: TenantId,
    to: UserId,
    notice: &Notice,
    now: DateTime<Utc>,
) -> OutboxId {
    trail.email(tenant, json!({"to": to, "notice": notice}), now)
}

/// Queues one email to `to` in the caller's transaction.
#[tracing::instrument(skip_all)]
pub async fn enqueue(
    conn: &mut Conn,
    tenant: TenantId,
    to: UserId,
    notice: &Notice,
    now: DateTime<Utc>,
) -> ServiceResult<OutboxId> {
    let payload = json!({"to": to, "notice": notice});
    let id = db::outbox::enqueue(
        conn,
        NewOutbox {
            id: OutboxId::new(),
            tenant,
            kind: OutboxKind::Email,
            payload: &payload,
            sequence_key: None,
        },
        now,
    )
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_serialise_with_their_template_name() {
        let id = RequestId::new();
        let v = serde_json::to_value(Notice::ApprovalNeeded {
            request_id: id,
            stage_index: 1,
            token: "t".into(),
            reason: AskReason::Escalated,
        })
        .expect("json");
        assert_eq!(v["template"], "approvalNeeded");
        assert_eq!(v["requestId"], id.to_string());
        assert_eq!(v["reason"], "escalated");
        let back: Notice = serde_json::from_value(v).expect("back");
        assert!(matches!(
            back,
            Notice::ApprovalNeeded { stage_index: 1, .. }
        ));
    }
}
