//! Assignment policies (DOMAIN.md §5): who may request, the approval stages, questions,
//! expiration, extension and access reviews, with every limit checked and each problem
//! reported against its field path (`approval.stages[0].timeoutDays`).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::FieldErrors;
use super::string_enum;

fn yes() -> bool {
    true
}

fn fourteen() -> i64 {
    14
}

/// Everything a policy says besides its name; stored as one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySettings {
    #[serde(default)]
    pub description: String,
    pub requestors: Requestors,
    #[serde(default = "yes")]
    pub requests_enabled: bool,
    #[serde(default)]
    pub require_justification: bool,
    #[serde(default)]
    pub approval: Approval,
    #[serde(default)]
    pub questions: Vec<Question>,
    #[serde(default)]
    pub expiration: Expiration,
    #[serde(default)]
    pub allow_custom_schedule: bool,
    #[serde(default)]
    pub extension: Extension,
    #[serde(default)]
    pub review: Option<ReviewSettings>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestorScope {
    None,
    Specific,
    AllMembers,
    AllUsers,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrincipalKind {
    User,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRef {
    #[serde(rename = "type")]
    pub kind: PrincipalKind,
    pub id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requestors {
    pub scope: RequestorScope,
    #[serde(default)]
    pub principals: Vec<PrincipalRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    #[serde(default)]
    pub stages: Vec<Stage>,
}

string_enum!(
    /// How a stage's approvals decide it. No default: a rule that cannot be read is an
    /// error, never the weakest rule.
    DecisionRule {
        /// The first decision wins (Entra's rule).
        AnyOne = "anyOne",
        /// Every resolved approver must approve.
        All = "all",
    }
);

/// A stage without a `decision` in its settings: the first decision wins.
fn any_one() -> DecisionRule {
    DecisionRule::AnyOne
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApproverKind {
    Manager,
    SecondLevelManager,
    User,
    Group,
    ResourceOwners,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverRef {
    #[serde(rename = "type")]
    pub kind: ApproverKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    pub after_days: i64,
    pub approvers: Vec<ApproverRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub approvers: Vec<ApproverRef>,
    #[serde(default)]
    pub fallback_approvers: Vec<ApproverRef>,
    #[serde(default = "any_one")]
    pub decision: DecisionRule,
    #[serde(default = "fourteen")]
    pub timeout_days: i64,
    #[serde(default)]
    pub require_justification: bool,
    #[serde(default)]
    pub escalation: Option<Escalation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum QuestionKind {
    ShortText,
    LongText,
    Choice,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub text: String,
    pub kind: QuestionKind,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub required: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Expiration {
    #[default]
    Never,
    AfterDays {
        days: i64,
    },
    AfterHours {
        hours: i64,
    },
    OnDate {
        date: DateTime<Utc>,
    },
}

impl Expiration {
    /// The end of access that starts at `start`, or `None` when it never ends.
    pub fn end_for(&self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Never => None,
            Self::AfterDays { days } => Some(start + Duration::days(*days)),
            Self::AfterHours { hours } => Some(start + Duration::hours(*hours)),
            Self::OnDate { date } => Some(*date),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    #[serde(default)]
    pub allowed: bool,
    #[serde(default)]
    pub require_approval: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Recurrence {
    Weekly,
    Monthly,
    Quarterly,
    SemiAnnual,
    Annual,
}

impl Recurrence {
    /// Shortest length of one period in days (bounds a review's duration).
    pub fn min_days(self) -> i64 {
        match self {
            Self::Weekly => 7,
            Self::Monthly => 28,
            Self::Quarterly => 89,
            Self::SemiAnnual => 181,
            Self::Annual => 365,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReviewerKind {
    #[serde(rename = "self")]
    Myself,
    Manager,
    User,
    Group,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerRef {
    #[serde(rename = "type")]
    pub kind: ReviewerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum IfNoResponse {
    Keep,
    Remove,
    Recommendation,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewSettings {
    pub start_date: DateTime<Utc>,
    pub recurrence: Recurrence,
    pub duration_days: i64,
    pub reviewers: Vec<ReviewerRef>,
    #[serde(default)]
    pub fallback_reviewers: Vec<ReviewerRef>,
    pub if_no_response: IfNoResponse,
    #[serde(default)]
    pub auto_apply: bool,
    #[serde(default)]
    pub require_justification: bool,
}

pub const MAX_STAGES: usize = 3;
pub const MAX_ALL_APPROVERS: usize = 25;
pub const MAX_QUESTIONS: usize = 20;

impl PolicySettings {
    /// Whether a user may request under this policy: its requestor scope, with guests
    /// only in `allUsers` and only where the catalog is externally visible.
    pub fn admits(
        &self,
        user: Uuid,
        is_guest: bool,
        user_groups: &[Uuid],
        externally_visible: bool,
    ) -> bool {
        match self.requestors.scope {
            RequestorScope::None => false,
            RequestorScope::AllMembers => !is_guest,
            RequestorScope::AllUsers => !is_guest || externally_visible,
            RequestorScope::Specific => self.requestors.principals.iter().any(|p| match p.kind {
                PrincipalKind::User => p.id == user,
                PrincipalKind::Group => user_groups.contains(&p.id),
            }),
        }
    }

    /// Every user and group id the policy names, with the field that names it, so the
    /// caller can check they exist in the tenant.
    pub fn referenced_principals(&self) -> Vec<(String, PrincipalKind, Uuid)> {
        let mut refs = Vec::new();
        for (i, p) in self.requestors.principals.iter().enumerate() {
            refs.push((format!("requestors.principals[{i}].id"), p.kind, p.id));
        }
        let approver = |refs: &mut Vec<_>, path: String, a: &ApproverRef| {
            let kind = match a.kind {
                ApproverKind::User => PrincipalKind::User,
                ApproverKind::Group => PrincipalKind::Group,
                _ => return,
            };
            if let Some(id) = a.id {
                refs.push((path, kind, id));
            }
        };
        for (s, stage) in self.approval.stages.iter().enumerate() {
            for (i, a) in stage.approvers.iter().enumerate() {
                approver(
                    &mut refs,
                    format!("approval.stages[{s}].approvers[{i}].id"),
                    a,
                );
            }
            for (i, a) in stage.fallback_approvers.iter().enumerate() {
                approver(
                    &mut refs,
                    format!("approval.stages[{s}].fallbackApprovers[{i}].id"),
                    a,
                );
            }
            if let Some(e) = &stage.escalation {
                for (i, a) in e.approvers.iter().enumerate() {
                    approver(
                        &mut refs,
                        format!("approval.stages[{s}].escalation.approvers[{i}].id"),
                        a,
                    );
                }
            }
        }
        if let Some(review) = &self.review {
            let lists = [
                ("reviewers", &review.reviewers),
                ("fallbackReviewers", &review.fallback_reviewers),
            ];
            for (name, list) in lists {
                for (i, r) in list.iter().enumerate() {
                    let kind = match r.kind {
                        ReviewerKind::User => PrincipalKind::User,
                        ReviewerKind::Group => PrincipalKind::Group,
                        _ => continue,
                    };
                    if let Some(id) = r.id {
                        refs.push((format!("review.{name}[{i}].id"), kind, id));
                    }
                }
            }
        }
        refs
    }

    /// Groups whose members decide under this policy: approvers, fallback and
    /// escalation approvers of every stage, reviewers and fallback reviewers (not
    /// requestors, who only ask).
    pub fn decider_groups(&self) -> Vec<Uuid> {
        let approvers = self.approval.stages.iter().flat_map(|s| {
            s.approvers
                .iter()
                .chain(&s.fallback_approvers)
                .chain(s.escalation.iter().flat_map(|e| &e.approvers))
        });
        let reviewers = self
            .review
            .iter()
            .flat_map(|r| r.reviewers.iter().chain(&r.fallback_reviewers));
        approvers
            .filter(|a| a.kind == ApproverKind::Group)
            .filter_map(|a| a.id)
            .chain(
                reviewers
                    .filter(|r| r.kind == ReviewerKind::Group)
                    .filter_map(|r| r.id),
            )
            .collect()
    }

    /// Gives questions without an id a new one (ids are kept across PUTs).
    pub fn assign_question_ids(&mut self) {
        for q in &mut self.questions {
            if q.id.is_none() {
                q.id = Some(Uuid::now_v7());
            }
        }
    }

    /// Checks every limit of DOMAIN.md §5. `previous` is the stored version on an
    /// update: an `onDate` that was already accepted stays acceptable unchanged.
    pub fn validate(&self, now: DateTime<Utc>, previous: Option<&PolicySettings>) -> FieldErrors {
        let mut e = FieldErrors::new();
        if self.description.chars().count() > 4000 {
            e.add("description", "at most 4000 characters are allowed");
        }
        if self.requestors.scope == RequestorScope::Specific
            && self.requestors.principals.is_empty()
        {
            e.add(
                "requestors.principals",
                "name at least one user or group who may request (or choose another scope)",
            );
        }
        if self.requestors.scope != RequestorScope::Specific
            && !self.requestors.principals.is_empty()
        {
            e.add(
                "requestors.principals",
                "principals are only used with the scope 'specific'",
            );
        }
        let stages = &self.approval.stages;
        if stages.len() > MAX_STAGES {
            e.add(
                "approval.stages",
                format!(
                    "at most {MAX_STAGES} approval stages are allowed (there are {})",
                    stages.len()
                ),
            );
        }
        for (s, stage) in stages.iter().enumerate() {
            let at = |f: &str| format!("approval.stages[{s}].{f}");
            if stage.approvers.is_empty() {
                e.add(at("approvers"), "each stage needs at least one approver");
            }
            check_approvers(&mut e, &at("approvers"), &stage.approvers);
            check_approvers(&mut e, &at("fallbackApprovers"), &stage.fallback_approvers);
            if !(1..=14).contains(&stage.timeout_days) {
                e.add(at("timeoutDays"), "a stage times out after 1 to 14 days");
            }
            if let Some(esc) = &stage.escalation {
                if esc.after_days < 1 || esc.after_days >= stage.timeout_days {
                    e.add(
                        at("escalation.afterDays"),
                        format!(
                            "escalation must come after at least 1 day and before the stage times out ({} days)",
                            stage.timeout_days
                        ),
                    );
                }
                if esc.approvers.is_empty() {
                    e.add(
                        at("escalation.approvers"),
                        "name the alternate approvers to add on escalation",
                    );
                }
                check_approvers(&mut e, &at("escalation.approvers"), &esc.approvers);
            }
        }
        if self.questions.len() > MAX_QUESTIONS {
            e.add(
                "questions",
                format!("at most {MAX_QUESTIONS} questions are allowed"),
            );
        }
        for (i, q) in self.questions.iter().enumerate() {
            let text = q.text.trim();
            if text.is_empty() {
                e.add(format!("questions[{i}].text"), "a question needs its text");
            } else if text.chars().count() > 500 {
                e.add(
                    format!("questions[{i}].text"),
                    "a question has at most 500 characters",
                );
            }
            match q.kind {
                QuestionKind::Choice => {
                    if q.options.iter().filter(|o| !o.trim().is_empty()).count() < 2 {
                        e.add(
                            format!("questions[{i}].options"),
                            "a choice question needs at least two options",
                        );
                    }
                    if q.options.iter().any(|o| o.trim().is_empty()) {
                        e.add(format!("questions[{i}].options"), "options cannot be empty");
                    }
                }
                _ if !q.options.is_empty() => {
                    e.add(
                        format!("questions[{i}].options"),
                        "only choice questions have options",
                    );
                }
                _ => {}
            }
        }
        for (i, a) in self.questions.iter().enumerate() {
            if let Some(id) = a.id
                && self.questions[..i].iter().any(|b| b.id == Some(id))
            {
                e.add(
                    format!("questions[{i}].id"),
                    "two questions cannot share an id",
                );
            }
        }
        match &self.expiration {
            Expiration::Never => {}
            Expiration::AfterDays { days } if !(1..=3660).contains(days) => {
                e.add("expiration.days", "access can last 1 to 3660 days");
            }
            Expiration::AfterHours { hours } if !(1..=8760).contains(hours) => {
                e.add("expiration.hours", "access can last 1 to 8760 hours");
            }
            Expiration::OnDate { date } => {
                let unchanged = previous.is_some_and(|p| p.expiration == self.expiration);
                if *date <= now && !unchanged {
                    e.add("expiration.date", "the end date must be in the future");
                }
            }
            _ => {}
        }
        if self.extension.allowed && self.expiration == Expiration::Never {
            e.add(
                "extension.allowed",
                "access that never expires cannot be extended",
            );
        }
        if let Some(r) = &self.review {
            if !(1..=r.recurrence.min_days()).contains(&r.duration_days) {
                e.add(
                    "review.durationDays",
                    format!(
                        "a review lasts 1 to {} days with this recurrence",
                        r.recurrence.min_days()
                    ),
                );
            }
            if r.reviewers.is_empty() {
                e.add("review.reviewers", "name at least one reviewer");
            }
            check_reviewers(&mut e, "review.reviewers", &r.reviewers);
            check_reviewers(&mut e, "review.fallbackReviewers", &r.fallback_reviewers);
        }
        e
    }
}

fn check_approvers(e: &mut FieldErrors, path: &str, list: &[ApproverRef]) {
    for (i, a) in list.iter().enumerate() {
        let needs_id = matches!(a.kind, ApproverKind::User | ApproverKind::Group);
        if needs_id && a.id.is_none() {
            e.add(
                format!("{path}[{i}].id"),
                "user and group approvers need an id",
            );
        }
        if !needs_id && a.id.is_some() {
            e.add(
                format!("{path}[{i}].id"),
                "only user and group approvers take an id",
            );
        }
    }
}

fn check_reviewers(e: &mut FieldErrors, path: &str, list: &[ReviewerRef]) {
    for (i, r) in list.iter().enumerate() {
        let needs_id = matches!(r.kind, ReviewerKind::User | ReviewerKind::Group);
        if needs_id && r.id.is_none() {
            e.add(
                format!("{path}[{i}].id"),
                "user and group reviewers need an id",
            );
        }
        if !needs_id && r.id.is_some() {
            e.add(
                format!("{path}[{i}].id"),
                "only user and group reviewers take an id",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
