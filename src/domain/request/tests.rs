use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::domain::error::{DomainError, FieldErrors};
use crate::domain::policy::{DecisionRule, PolicySettings, Question};

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
        stage_outcome(DecisionRule::AnyOne, &[a, b], &[], &one),
        StageOutcome::Approved
    );
    assert_eq!(
        stage_outcome(DecisionRule::All, &[a, b], &[], &one),
        StageOutcome::Pending
    );
    let both = [(a, Decision::Approve), (b, Decision::Approve)];
    assert_eq!(
        stage_outcome(DecisionRule::All, &[a, b], &[], &both),
        StageOutcome::Approved
    );
    let deny = [(a, Decision::Approve), (b, Decision::Deny)];
    assert_eq!(
        stage_outcome(DecisionRule::All, &[a, b], &[], &deny),
        StageOutcome::Denied
    );
    assert_eq!(
        stage_outcome(DecisionRule::AnyOne, &[a, b], &[], &[(b, Decision::Deny)]),
        StageOutcome::Denied
    );
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
