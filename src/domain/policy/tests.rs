//! Parsing defaults, every limit of validation, and what a policy admits and names.

use super::*;
use chrono::Duration;
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .expect("time")
}

fn parse(v: serde_json::Value) -> PolicySettings {
    serde_json::from_value(v).expect("policy json")
}

fn fields(p: &PolicySettings) -> Vec<String> {
    p.validate(now(), None).0.into_keys().collect()
}

#[test]
fn defaults_fill_a_minimal_policy() {
    let p = parse(json!({"requestors": {"scope": "allMembers"}}));
    assert!(p.requests_enabled);
    assert_eq!(p.expiration, Expiration::Never);
    assert!(p.approval.stages.is_empty());
    assert!(fields(&p).is_empty());
}

#[test]
fn at_most_three_stages() {
    let stage = json!({"approvers": [{"type": "manager"}]});
    let p = parse(json!({"requestors": {"scope": "allMembers"},
        "approval": {"stages": [stage, stage, stage, stage]}}));
    assert_eq!(fields(&p), vec!["approval.stages"]);
}

#[test]
fn timeout_and_escalation_limits() {
    let p = parse(
        json!({"requestors": {"scope": "allMembers"}, "approval": {"stages": [
            {"approvers": [{"type": "manager"}], "timeoutDays": 15},
            {"approvers": [{"type": "manager"}], "timeoutDays": 5,
             "escalation": {"afterDays": 5, "approvers": [{"type": "manager"}]}}
        ]}}),
    );
    assert_eq!(
        fields(&p),
        vec![
            "approval.stages[0].timeoutDays",
            "approval.stages[1].escalation.afterDays"
        ]
    );
}

#[test]
fn user_approvers_need_ids_and_choices_need_options() {
    let p = parse(json!({"requestors": {"scope": "specific"},
        "approval": {"stages": [{"approvers": [{"type": "user"}]}]},
        "questions": [{"text": "Which?", "kind": "choice", "options": ["one"]}]}));
    assert_eq!(
        fields(&p),
        vec![
            "approval.stages[0].approvers[0].id",
            "questions[0].options",
            "requestors.principals"
        ]
    );
}

#[test]
fn expiration_bounds_and_future_dates() {
    for (exp, field) in [
        (json!({"type": "afterDays", "days": 0}), "expiration.days"),
        (
            json!({"type": "afterDays", "days": 3661}),
            "expiration.days",
        ),
        (
            json!({"type": "afterHours", "hours": 8761}),
            "expiration.hours",
        ),
        (
            json!({"type": "onDate", "date": "2026-12-31T00:00:00Z"}),
            "expiration.date",
        ),
    ] {
        let p = parse(json!({"requestors": {"scope": "allMembers"}, "expiration": exp}));
        assert_eq!(fields(&p), vec![field.to_string()]);
    }
    let p = parse(json!({"requestors": {"scope": "allMembers"},
        "expiration": {"type": "onDate", "date": "2026-12-31T00:00:00Z"}}));
    assert!(
        p.validate(now(), Some(&p)).is_empty(),
        "an accepted date stays valid unchanged"
    );
}

#[test]
fn expiration_computes_the_end() {
    let start = now();
    assert_eq!(Expiration::Never.end_for(start), None);
    assert_eq!(
        Expiration::AfterDays { days: 2 }.end_for(start),
        Some(start + Duration::days(2))
    );
    assert_eq!(
        Expiration::AfterHours { hours: 3 }.end_for(start),
        Some(start + Duration::hours(3))
    );
}

#[test]
fn review_duration_fits_the_recurrence() {
    let p = parse(
        json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterDays", "days": 30},
        "review": {"startDate": "2027-02-01T00:00:00Z", "recurrence": "weekly", "durationDays": 8,
                   "reviewers": [{"type": "self"}], "ifNoResponse": "keep"}}),
    );
    assert_eq!(fields(&p), vec!["review.durationDays"]);
}

#[test]
fn requestor_scopes_admit_the_right_people() {
    let (me, group) = (Uuid::now_v7(), Uuid::now_v7());
    let members = parse(json!({"requestors": {"scope": "allMembers"}}));
    assert!(members.admits(me, false, &[], false));
    assert!(
        !members.admits(me, true, &[], true),
        "guests are not members"
    );
    let everyone = parse(json!({"requestors": {"scope": "allUsers"}}));
    assert!(
        !everyone.admits(me, true, &[], false),
        "guests only in externally visible catalogs"
    );
    assert!(everyone.admits(me, true, &[], true));
    let specific = parse(
        json!({"requestors": {"scope": "specific", "principals": [{"type": "group", "id": group}]}}),
    );
    assert!(specific.admits(me, false, &[group], false));
    assert!(!specific.admits(me, false, &[], false));
    assert!(!parse(json!({"requestors": {"scope": "none"}})).admits(me, false, &[group], true));
}

#[test]
fn referenced_principals_name_their_fields() {
    let id = Uuid::now_v7();
    let p = parse(
        json!({"requestors": {"scope": "specific", "principals": [{"type": "group", "id": id}]},
        "approval": {"stages": [{"approvers": [{"type": "user", "id": id}, {"type": "manager"}]}]}}),
    );
    let refs = p.referenced_principals();
    assert_eq!(refs.len(), 2);
    assert_eq!(refs[1].0, "approval.stages[0].approvers[0].id");
}

#[test]
fn decider_groups_are_the_approver_and_reviewer_groups_not_requestors() {
    let ids: Vec<Uuid> = (0..7).map(|_| Uuid::now_v7()).collect();
    let p = parse(json!({
        "requestors": {"scope": "specific", "principals": [{"type": "group", "id": ids[0]}]},
        "approval": {"stages": [
            {"approvers": [{"type": "group", "id": ids[1]}, {"type": "user", "id": ids[6]}],
             "fallbackApprovers": [{"type": "group", "id": ids[2]}],
             "escalation": {"afterDays": 3, "approvers": [{"type": "group", "id": ids[3]}]}},
            {"approvers": [{"type": "manager"}]}]},
        "review": {"startDate": "2027-02-01T00:00:00Z", "recurrence": "quarterly", "durationDays": 14,
                   "reviewers": [{"type": "group", "id": ids[4]}],
                   "fallbackReviewers": [{"type": "group", "id": ids[5]}], "ifNoResponse": "keep"}}));
    assert_eq!(p.decider_groups(), ids[1..6].to_vec());
    assert!(
        parse(json!({"requestors": {"scope": "allMembers"}}))
            .decider_groups()
            .is_empty()
    );
}

#[test]
fn the_decision_schema_lists_the_values_as_spelled_in_json() {
    use utoipa::PartialSchema;
    let schema = serde_json::to_value(DecisionRule::schema()).expect("schema");
    let values: Vec<&str> = DecisionRule::ALL.iter().map(|d| d.as_str()).collect();
    assert_eq!(schema["enum"], json!(values));
}

#[test]
fn an_extension_that_needs_approval_needs_a_stage() {
    let p = parse(json!({"requestors": {"scope": "allMembers"},
        "expiration": {"type": "afterDays", "days": 30},
        "extension": {"allowed": true, "requireApproval": true}}));
    assert_eq!(fields(&p), vec!["extension.requireApproval"]);
    let p = parse(json!({"requestors": {"scope": "allMembers"},
        "approval": {"stages": [{"approvers": [{"type": "manager"}]}]},
        "expiration": {"type": "afterDays", "days": 30},
        "extension": {"allowed": true, "requireApproval": true}}));
    assert!(fields(&p).is_empty());
    let p = parse(json!({"requestors": {"scope": "allMembers"},
        "expiration": {"type": "afterDays", "days": 30},
        "extension": {"allowed": true, "requireApproval": false}}));
    assert!(fields(&p).is_empty());
}
