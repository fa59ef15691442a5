//! Assignment requests (DOMAIN.md §6): types, the state machine, eligibility, schedule
//! and answer checks, and the approval-stage rules (who approves, when a stage is
//! decided). Pure functions; the service supplies the facts and `now`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{DomainError, FieldErrors};
use super::policy::{DecisionRule, Expiration, PolicySettings, Question, QuestionKind};
use super::string_enum;
use super::values::{NO_CONTROL_CHARACTERS, has_control_characters};

string_enum!(RequestType {
    UserAdd = "userAdd",
    UserUpdate = "userUpdate",
    UserRemove = "userRemove",
    AdminAdd = "adminAdd",
    AdminUpdate = "adminUpdate",
    AdminRemove = "adminRemove",
    SystemAdd = "systemAdd",
    SystemRemove = "systemRemove",
});

impl RequestType {
    pub fn is_add(self) -> bool {
        matches!(self, Self::UserAdd | Self::AdminAdd | Self::SystemAdd)
    }

    pub fn is_update(self) -> bool {
        matches!(self, Self::UserUpdate | Self::AdminUpdate)
    }

    pub fn is_remove(self) -> bool {
        matches!(
            self,
            Self::UserRemove | Self::AdminRemove | Self::SystemRemove
        )
    }

    /// Made by the target user themself.
    pub fn is_self_service(self) -> bool {
        matches!(self, Self::UserAdd | Self::UserUpdate | Self::UserRemove)
    }
}

string_enum!(RequestState {
    Submitted = "submitted",
    PendingApproval = "pendingApproval",
    Scheduled = "scheduled",
    Delivering = "delivering",
    Delivered = "delivered",
    PartiallyDelivered = "partiallyDelivered",
    DeliveryFailed = "deliveryFailed",
    Denied = "denied",
    Canceled = "canceled",
    Expired = "expired",
});

impl RequestState {
    /// Not decided yet: still cancelable, blocks an identical request.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Submitted | Self::PendingApproval | Self::Scheduled
        )
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Delivered
                | Self::PartiallyDelivered
                | Self::DeliveryFailed
                | Self::Denied
                | Self::Canceled
                | Self::Expired
        )
    }
}

string_enum!(StageState {
    Pending = "pending",
    Approved = "approved",
    Denied = "denied",
    Expired = "expired",
    Canceled = "canceled",
});

string_enum!(Decision {
    Approve = "approve",
    Deny = "deny",
});

/// Where the approvers of a stage came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApproverSource {
    Approvers,
    Fallback,
    TenantAdmins,
    Nobody,
}

/// The approvers of a stage: the primary list, else the fallback list, else the tenant
/// admins; never the target user, never twice.
pub fn select_approvers(
    primary: &[Uuid],
    fallback: &[Uuid],
    admins: &[Uuid],
    target: Uuid,
) -> (Vec<Uuid>, ApproverSource) {
    let clean = |list: &[Uuid]| {
        let mut out: Vec<Uuid> = Vec::new();
        for id in list {
            if *id != target && !out.contains(id) {
                out.push(*id);
            }
        }
        out
    };
    for (list, source) in [
        (primary, ApproverSource::Approvers),
        (fallback, ApproverSource::Fallback),
        (admins, ApproverSource::TenantAdmins),
    ] {
        let chosen = clean(list);
        if !chosen.is_empty() {
            return (chosen, source);
        }
    }
    (Vec::new(), ApproverSource::Nobody)
}

/// The result of the decisions recorded so far on a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageOutcome {
    Pending,
    Approved,
    Denied,
}

/// Any deny ends the stage; `anyOne` needs one approval, `all` every approver's.
pub fn stage_outcome(
    rule: DecisionRule,
    approvers: &[Uuid],
    decisions: &[(Uuid, Decision)],
) -> StageOutcome {
    if decisions.iter().any(|(_, d)| *d == Decision::Deny) {
        return StageOutcome::Denied;
    }
    let approved = |id: &Uuid| {
        decisions
            .iter()
            .any(|(a, d)| a == id && *d == Decision::Approve)
    };
    match rule {
        DecisionRule::AnyOne if decisions.iter().any(|(_, d)| *d == Decision::Approve) => {
            StageOutcome::Approved
        }
        DecisionRule::All if !approvers.is_empty() && approvers.iter().all(approved) => {
            StageOutcome::Approved
        }
        _ => StageOutcome::Pending,
    }
}

/// A justification: trimmed, at most 2000 characters; blank means none.
pub fn parse_justification(
    raw: Option<&str>,
    required: bool,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = raw.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if required => {
            errors.add(field, "a justification is required");
            None
        }
        Some(v) if v.chars().count() > 2000 => {
            errors.add(field, "a justification has at most 2000 characters");
            None
        }
        Some(v) if has_control_characters(v, true) => {
            errors.add(field, format!("a justification {NO_CONTROL_CHARACTERS}"));
            None
        }
        v => v.map(str::to_string),
    }
}

/// An answer as sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerInput {
    pub question_id: Uuid,
    pub value: String,
}

/// An answer as kept on the request (with the question's text as it was asked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub question_id: Uuid,
    pub question: String,
    pub value: String,
}

/// Checks answers against the policy's questions.
pub fn check_answers(
    questions: &[Question],
    answers: &[AnswerInput],
    errors: &mut FieldErrors,
) -> Vec<Answer> {
    let mut out = Vec::new();
    for (i, a) in answers.iter().enumerate() {
        if !questions.iter().any(|q| q.id == Some(a.question_id)) {
            errors.add(
                format!("answers[{i}].questionId"),
                "this policy has no such question",
            );
        }
        if answers[..i].iter().any(|b| b.question_id == a.question_id) {
            errors.add(
                format!("answers[{i}].questionId"),
                "this question is answered twice",
            );
        }
    }
    for q in questions {
        let Some(id) = q.id else { continue };
        let field = format!("answers.{id}");
        let value = answers
            .iter()
            .find(|a| a.question_id == id)
            .map(|a| a.value.trim())
            .filter(|v| !v.is_empty());
        let Some(value) = value else {
            if q.required {
                errors.add(
                    field,
                    format!("an answer to “{}” is required", q.text.trim()),
                );
            }
            continue;
        };
        let max = match q.kind {
            QuestionKind::ShortText | QuestionKind::Choice => 200,
            QuestionKind::LongText => 4000,
        };
        if value.chars().count() > max {
            errors.add(field, format!("an answer has at most {max} characters"));
            continue;
        }
        if has_control_characters(value, q.kind == QuestionKind::LongText) {
            errors.add(field, format!("an answer {NO_CONTROL_CHARACTERS}"));
            continue;
        }
        if q.kind == QuestionKind::Choice && !q.options.iter().any(|o| o.trim() == value) {
            errors.add(field, format!("choose one of: {}", q.options.join(", ")));
            continue;
        }
        out.push(Answer {
            question_id: id,
            question: q.text.trim().to_string(),
            value: value.to_string(),
        });
    }
    out
}

/// The start and end of the access a request asks for, checked against the policy.
pub fn resolve_schedule(
    policy: &PolicySettings,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    errors: &mut FieldErrors,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), DomainError> {
    if let Expiration::OnDate { date } = policy.expiration
        && date <= now
    {
        return Err(DomainError::conflict(format!(
            "Access under this policy ended on {}; ask an admin to update the policy.",
            date.format("%Y-%m-%d %H:%M UTC")
        )));
    }
    if !policy.allow_custom_schedule && (start.is_some() || end.is_some()) {
        errors.add(
            "schedule",
            "this policy does not let requestors choose a start or end; leave the schedule out",
        );
        return Ok((now, policy.expiration.end_for(now)));
    }
    let start = match start {
        Some(s) if s < now - Duration::minutes(5) => {
            errors.add("schedule.startDateTime", "the start cannot be in the past");
            now
        }
        Some(s) if s < now => now,
        Some(s) => s,
        None => now,
    };
    let policy_end = policy.expiration.end_for(start);
    if let Some(limit) = policy_end
        && start >= limit
    {
        errors.add(
            "schedule.startDateTime",
            format!(
                "the start must be before the policy's end ({})",
                limit.format("%Y-%m-%d %H:%M UTC")
            ),
        );
    }
    let end = match end {
        Some(e) if e <= start => {
            errors.add("schedule.endDateTime", "the end must be after the start");
            policy_end
        }
        Some(e) => match policy_end {
            Some(limit) if e > limit => {
                errors.add(
                    "schedule.endDateTime",
                    format!(
                        "the policy allows access until {} at the latest",
                        limit.format("%Y-%m-%d %H:%M UTC")
                    ),
                );
                policy_end
            }
            _ => Some(e),
        },
        None => policy_end,
    };
    Ok((start, end))
}

/// Whether a request's end is the policy's duration (`afterDays`, `afterHours`) rather
/// than a date: then access lasts that long from the start of the assignment, whenever
/// approval delivers it (DOMAIN.md §5), and `end_at_start` counts it again then. An end
/// the requestor chose, a fixed date and "never" stay as they are.
pub fn end_follows_start(policy: &PolicySettings, chosen_end: Option<DateTime<Utc>>) -> bool {
    chosen_end.is_none()
        && matches!(
            policy.expiration,
            Expiration::AfterDays { .. } | Expiration::AfterHours { .. }
        )
}

/// The end of access that starts at `start`: the policy's duration counted from it when
/// the request's end follows its start, else the end the request already has.
pub fn end_at_start(
    policy: &PolicySettings,
    follows_start: bool,
    requested_end: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if follows_start {
        policy.expiration.end_for(start)
    } else {
        requested_end
    }
}

/// How long before the end a holder may ask to extend.
pub const EXTENSION_WINDOW_DAYS: i64 = 14;

/// The new end of an extended assignment (DOMAIN.md §5 `extension`).
pub fn extended_end(
    policy: &PolicySettings,
    current_end: Option<DateTime<Utc>>,
    requested_end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, DomainError> {
    if !policy.extension.allowed {
        return Err(DomainError::conflict(
            "This policy does not allow extending access.",
        ));
    }
    let Some(end) = current_end else {
        return Err(DomainError::conflict(
            "This access never expires, so there is nothing to extend.",
        ));
    };
    if now < end - Duration::days(EXTENSION_WINDOW_DAYS) {
        return Err(DomainError::conflict(format!(
            "Access can be extended in the last {EXTENSION_WINDOW_DAYS} days before it ends ({}); try again from {}.",
            end.format("%Y-%m-%d"),
            (end - Duration::days(EXTENSION_WINDOW_DAYS)).format("%Y-%m-%d")
        )));
    }
    let mut new_end = match policy.expiration {
        Expiration::Never => {
            return Err(DomainError::conflict("This policy's access never expires."));
        }
        Expiration::AfterDays { days } => end + Duration::days(days),
        Expiration::AfterHours { hours } => end + Duration::hours(hours),
        Expiration::OnDate { date } => date,
    };
    if let Expiration::OnDate { date } = policy.expiration {
        new_end = new_end.min(date);
    }
    if let Some(requested) = requested_end {
        if requested <= end {
            return Err(DomainError::field(
                "schedule.endDateTime",
                "the new end must be after the current end",
            ));
        }
        new_end = new_end.min(requested);
    }
    if new_end <= end {
        return Err(DomainError::conflict(
            "This access already ends on the policy's fixed end date and cannot be extended past it.",
        ));
    }
    Ok(new_end)
}

/// Facts about a user-made add request, gathered by the service.
#[derive(Clone, Debug, Default)]
pub struct Eligibility {
    pub target_active: bool,
    pub in_scope: bool,
    pub catalog_enabled: bool,
    pub requests_enabled: bool,
    pub has_active_assignment: bool,
    pub has_open_request: bool,
    /// A description of the conflicting access, when separation of duties forbids it.
    pub incompatible_with: Option<String>,
}

/// DOMAIN.md §6: 403 when the user may not request at all, 409 when the state of
/// things blocks the request. Admin-made requests skip the scope and switches.
pub fn check_eligibility(facts: &Eligibility, by_admin: bool) -> Result<(), DomainError> {
    if !facts.target_active {
        return Err(DomainError::conflict("The target user is deactivated."));
    }
    if !by_admin {
        if !facts.in_scope {
            return Err(DomainError::forbidden(
                "You are not among the people this policy lets request this access package.",
            ));
        }
        if !facts.catalog_enabled {
            return Err(DomainError::conflict(
                "The catalog of this access package is disabled, so it cannot be requested now.",
            ));
        }
        if !facts.requests_enabled {
            return Err(DomainError::conflict(
                "Requests are turned off for this policy.",
            ));
        }
    }
    if facts.has_active_assignment {
        return Err(DomainError::conflict(
            "The user already has this access package; extend the existing assignment instead.",
        ));
    }
    if facts.has_open_request {
        return Err(DomainError::conflict(
            "There is already an open request for this access package and user; wait for it or cancel it.",
        ));
    }
    if let Some(conflict) = &facts.incompatible_with {
        return Err(DomainError::conflict(format!(
            "Separation of duties: this access package is incompatible with {conflict}, which the user has."
        )));
    }
    Ok(())
}

/// DOMAIN.md §6: why a decided request may not be delivered now, checked again under the
/// lock on the user when approval (or the schedule) delivers it: everything eligibility
/// asked at submission except the open request (which is this one). Admin-made requests
/// skip the requestor's scope and the switches, as at submission.
pub fn delivery_refusal(facts: &Eligibility, by_admin: bool) -> Option<String> {
    if !facts.target_active {
        return Some("the target user is deactivated".into());
    }
    if !by_admin {
        if !facts.in_scope {
            return Some("the requestor is no longer in the policy's scope of requestors".into());
        }
        if !facts.catalog_enabled {
            return Some("the catalog of this access package is disabled".into());
        }
        if !facts.requests_enabled {
            return Some("requests are turned off for this policy".into());
        }
    }
    if facts.has_active_assignment {
        return Some("the user already has this access package".into());
    }
    facts
        .incompatible_with
        .as_ref()
        .map(|c| format!("separation of duties: incompatible with {c}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delivery_rechecks_what_submission_checked_but_the_open_request() {
        let ok = Eligibility {
            target_active: true,
            in_scope: true,
            catalog_enabled: true,
            requests_enabled: true,
            has_active_assignment: false,
            has_open_request: true,
            incompatible_with: None,
        };
        assert_eq!(
            delivery_refusal(&ok, false),
            None,
            "the open request is this one"
        );
        let cases: [(Eligibility, &str); 6] = [
            (
                Eligibility {
                    target_active: false,
                    ..ok.clone()
                },
                "deactivated",
            ),
            (
                Eligibility {
                    in_scope: false,
                    ..ok.clone()
                },
                "scope",
            ),
            (
                Eligibility {
                    catalog_enabled: false,
                    ..ok.clone()
                },
                "catalog",
            ),
            (
                Eligibility {
                    requests_enabled: false,
                    ..ok.clone()
                },
                "turned off",
            ),
            (
                Eligibility {
                    has_active_assignment: true,
                    ..ok.clone()
                },
                "already has",
            ),
            (
                Eligibility {
                    incompatible_with: Some("the access package “X”".into()),
                    ..ok.clone()
                },
                "separation of duties",
            ),
        ];
        for (facts, why) in &cases {
            let refused = delivery_refusal(facts, false).unwrap_or_default();
            assert!(refused.contains(why), "{why}: {refused}");
        }
        // An admin's request is not held to the requestor's scope and the switches.
        for (facts, _) in &cases[1..4] {
            assert_eq!(delivery_refusal(facts, true), None);
        }
    }

    fn id() -> Uuid {
        Uuid::now_v7()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    fn policy(v: serde_json::Value) -> PolicySettings {
        serde_json::from_value(v).expect("policy")
    }

    #[test]
    fn the_target_never_approves_and_fallbacks_apply_in_order() {
        let (me, a, b, admin) = (id(), id(), id(), id());
        assert_eq!(
            select_approvers(&[me, a, a], &[b], &[admin], me),
            (vec![a], ApproverSource::Approvers)
        );
        assert_eq!(
            select_approvers(&[me], &[b], &[admin], me),
            (vec![b], ApproverSource::Fallback)
        );
        assert_eq!(
            select_approvers(&[], &[me], &[admin, me], me),
            (vec![admin], ApproverSource::TenantAdmins)
        );
        assert_eq!(
            select_approvers(&[], &[], &[me], me),
            (vec![], ApproverSource::Nobody)
        );
    }

    #[test]
    fn any_one_versus_all() {
        let (a, b) = (id(), id());
        let one = [(a, Decision::Approve)];
        assert_eq!(
            stage_outcome(DecisionRule::AnyOne, &[a, b], &one),
            StageOutcome::Approved
        );
        assert_eq!(
            stage_outcome(DecisionRule::All, &[a, b], &one),
            StageOutcome::Pending
        );
        let both = [(a, Decision::Approve), (b, Decision::Approve)];
        assert_eq!(
            stage_outcome(DecisionRule::All, &[a, b], &both),
            StageOutcome::Approved
        );
        let deny = [(a, Decision::Approve), (b, Decision::Deny)];
        assert_eq!(
            stage_outcome(DecisionRule::All, &[a, b], &deny),
            StageOutcome::Denied
        );
        assert_eq!(
            stage_outcome(DecisionRule::AnyOne, &[a, b], &[(b, Decision::Deny)]),
            StageOutcome::Denied
        );
    }

    #[test]
    fn a_duration_counts_from_the_start_of_access_and_a_chosen_end_stays() {
        let days = policy(
            json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterDays", "days": 90}}),
        );
        let hours = policy(
            json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterHours", "hours": 8}}),
        );
        let date = policy(
            json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "onDate", "date": "2027-06-01T00:00:00Z"}}),
        );
        let never = policy(json!({"requestors": {"scope": "allMembers"}}));
        let chosen = Some(t("2027-02-01T00:00:00Z"));
        assert!(end_follows_start(&days, None));
        assert!(end_follows_start(&hours, None));
        assert!(!end_follows_start(&days, chosen), "a chosen end is kept");
        assert!(!end_follows_start(&date, None));
        assert!(!end_follows_start(&never, None));

        let delivered = t("2027-01-14T09:00:00Z");
        let provisional = Some(t("2027-04-01T00:00:00Z"));
        assert_eq!(
            end_at_start(&days, true, provisional, delivered),
            Some(t("2027-04-14T09:00:00Z"))
        );
        assert_eq!(
            end_at_start(&hours, true, provisional, delivered),
            Some(t("2027-01-14T17:00:00Z"))
        );
        assert_eq!(end_at_start(&days, false, chosen, delivered), chosen);
        assert_eq!(end_at_start(&never, false, None, delivered), None);
    }

    #[test]
    fn schedules_follow_the_policy() {
        let now = t("2027-01-01T00:00:00Z");
        let p = policy(
            json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterDays", "days": 10}}),
        );
        let mut e = FieldErrors::new();
        assert_eq!(
            resolve_schedule(&p, None, None, now, &mut e),
            Ok((now, Some(t("2027-01-11T00:00:00Z"))))
        );
        assert!(e.is_empty());
        resolve_schedule(&p, None, Some(t("2027-01-05T00:00:00Z")), now, &mut e).expect("ok");
        assert!(
            e.0.contains_key("schedule"),
            "custom schedules need the policy's consent"
        );

        let p = policy(
            json!({"requestors": {"scope": "allMembers"}, "allowCustomSchedule": true,
            "expiration": {"type": "afterDays", "days": 10}}),
        );
        let mut e = FieldErrors::new();
        let got = resolve_schedule(
            &p,
            Some(t("2027-01-02T00:00:00Z")),
            Some(t("2027-01-05T00:00:00Z")),
            now,
            &mut e,
        );
        assert_eq!(
            got,
            Ok((t("2027-01-02T00:00:00Z"), Some(t("2027-01-05T00:00:00Z"))))
        );
        let mut e = FieldErrors::new();
        resolve_schedule(&p, None, Some(t("2027-02-01T00:00:00Z")), now, &mut e).expect("ok");
        assert!(
            e.0.contains_key("schedule.endDateTime"),
            "no later than the policy allows"
        );
    }

    #[test]
    fn answers_are_checked_against_questions() {
        let (q1, q2) = (id(), id());
        let questions: Vec<Question> = serde_json::from_value(json!([
            {"id": q1, "text": "Device?", "kind": "shortText", "required": true},
            {"id": q2, "text": "Ring?", "kind": "choice", "options": ["fast", "slow"]}
        ]))
        .expect("questions");
        let mut e = FieldErrors::new();
        check_answers(
            &questions,
            &[AnswerInput {
                question_id: q2,
                value: "medium".into(),
            }],
            &mut e,
        );
        assert_eq!(
            e.0.keys().cloned().collect::<Vec<_>>(),
            vec![format!("answers.{q1}"), format!("answers.{q2}")]
        );
        let mut e = FieldErrors::new();
        let got = check_answers(
            &questions,
            &[AnswerInput {
                question_id: q1,
                value: " Laptop 42 ".into(),
            }],
            &mut e,
        );
        assert!(e.is_empty());
        assert_eq!(got[0].value, "Laptop 42");
    }

    #[test]
    fn extension_only_in_the_last_fourteen_days_and_never_past_a_fixed_date() {
        let p = policy(
            json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterDays", "days": 30},
            "extension": {"allowed": true}}),
        );
        let end = t("2027-03-01T00:00:00Z");
        assert!(extended_end(&p, Some(end), None, t("2027-02-01T00:00:00Z")).is_err());
        assert_eq!(
            extended_end(&p, Some(end), None, t("2027-02-20T00:00:00Z")),
            Ok(t("2027-03-31T00:00:00Z"))
        );
        let fixed = policy(
            json!({"requestors": {"scope": "allMembers"}, "extension": {"allowed": true},
            "expiration": {"type": "onDate", "date": "2027-03-01T00:00:00Z"}}),
        );
        assert!(extended_end(&fixed, Some(end), None, t("2027-02-20T00:00:00Z")).is_err());
    }

    #[test]
    fn eligibility_refusals_name_their_rule() {
        let ok = Eligibility {
            target_active: true,
            in_scope: true,
            catalog_enabled: true,
            requests_enabled: true,
            ..Default::default()
        };
        assert!(check_eligibility(&ok, false).is_ok());
        let not_in_scope = Eligibility {
            in_scope: false,
            ..ok.clone()
        };
        assert!(matches!(
            check_eligibility(&not_in_scope, false),
            Err(DomainError::Forbidden(_))
        ));
        assert!(
            check_eligibility(&not_in_scope, true).is_ok(),
            "admins assign anyone"
        );
        for facts in [
            Eligibility {
                catalog_enabled: false,
                ..ok.clone()
            },
            Eligibility {
                requests_enabled: false,
                ..ok.clone()
            },
            Eligibility {
                has_active_assignment: true,
                ..ok.clone()
            },
            Eligibility {
                has_open_request: true,
                ..ok.clone()
            },
            Eligibility {
                incompatible_with: Some("x".into()),
                ..ok.clone()
            },
            Eligibility {
                target_active: false,
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(
                    check_eligibility(&facts, false),
                    Err(DomainError::Conflict(_))
                ),
                "{facts:?}"
            );
        }
    }
}
