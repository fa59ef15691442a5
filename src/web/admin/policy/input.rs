//! The draft read into domain values: `PolicySettings` for the packages service
//! (which validates them as the API does), or the problems of fields that are not even
//! numbers, dates or known choices, reported at the API's field paths.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::draft::{Draft, Entry};
use crate::domain::extension::{ExtensionStage, StageExtension};
use crate::domain::policy::{
    Approval, DecisionRule, Escalation, Expiration, Extension, IfNoResponse, PolicySettings,
    Question, QuestionKind, Recurrence, RequestorScope, Requestors, ReviewSettings, Stage,
};
use crate::domain::values::DisplayName;
use crate::services::packages::PolicyInput;
use crate::web::view::{Errors, parse_when};

/// The problem of a stage whose decision rule is neither "anyOne" nor "all".
pub(super) const UNKNOWN_DECISION_RULE: &str =
    "choose whether any one approver decides or every approver must approve";

impl Draft {
    /// The settings the draft describes, or its problems (reported at the API's field
    /// paths): values that are not even numbers or dates, and with them every rule the
    /// values that did parse break, so one round shows them all. `previous` is the
    /// saved policy's settings, when it exists.
    pub(super) fn to_input(
        &self,
        now: DateTime<Utc>,
        previous: Option<&PolicySettings>,
    ) -> Result<PolicyInput, Errors> {
        let mut errors = Errors::none();
        let scope = match self.scope.as_str() {
            "none" => RequestorScope::None,
            "specific" => RequestorScope::Specific,
            "allUsers" => RequestorScope::AllUsers,
            _ => RequestorScope::AllMembers,
        };
        let principals = if scope == RequestorScope::Specific {
            self.principals
                .iter()
                .filter_map(Entry::principal)
                .collect()
        } else {
            Vec::new()
        };
        let mut stages = Vec::new();
        for (i, s) in self.stages.iter().enumerate() {
            let at = |f: &str| format!("approval.stages[{i}].{f}");
            let timeout_days = number(
                &mut errors,
                &s.timeout,
                &at("timeoutDays"),
                "the timeout in days",
            );
            let escalation = if s.escalate {
                Some(Escalation {
                    after_days: number(
                        &mut errors,
                        &s.escalation_after,
                        &at("escalation.afterDays"),
                        "the days before escalation",
                    ),
                    approvers: s.escalation.iter().filter_map(Entry::approver).collect(),
                })
            } else {
                None
            };
            // No rule is assumed: a missing or unknown one is the person's to choose.
            let decision = DecisionRule::parse(&s.decision).unwrap_or_else(|| {
                errors.add(&at("decision"), UNKNOWN_DECISION_RULE);
                DecisionRule::All
            });
            stages.push(Stage {
                approvers: s.approvers.iter().filter_map(Entry::approver).collect(),
                fallback_approvers: s.fallback.iter().filter_map(Entry::approver).collect(),
                decision,
                timeout_days,
                require_justification: s.justification,
                escalation,
            });
        }
        let questions = self
            .questions
            .iter()
            .map(|q| {
                let kind = match q.kind.as_str() {
                    "longText" => QuestionKind::LongText,
                    "choice" => QuestionKind::Choice,
                    _ => QuestionKind::ShortText,
                };
                Question {
                    id: Uuid::parse_str(q.id.trim()).ok(),
                    text: q.text.trim().to_string(),
                    kind,
                    options: if kind == QuestionKind::Choice {
                        q.options
                            .lines()
                            .map(str::trim)
                            .filter(|o| !o.is_empty())
                            .map(str::to_string)
                            .collect()
                    } else {
                        Vec::new()
                    },
                    required: q.required,
                }
            })
            .collect();
        let expiration = match self.expiration.as_str() {
            "afterDays" => Expiration::AfterDays {
                days: number(
                    &mut errors,
                    &self.days,
                    "expiration.days",
                    "the number of days",
                ),
            },
            "afterHours" => Expiration::AfterHours {
                hours: number(
                    &mut errors,
                    &self.hours,
                    "expiration.hours",
                    "the number of hours",
                ),
            },
            "onDate" => match parse_when(&self.date) {
                Ok(Some(date)) => Expiration::OnDate { date },
                Ok(None) => {
                    errors.add("expiration.date", "enter the date when access ends");
                    Expiration::Never
                }
                Err(m) => {
                    errors.add("expiration.date", m);
                    Expiration::Never
                }
            },
            _ => Expiration::Never,
        };
        let review = if self.review {
            let start_date = match parse_when(&self.review_start) {
                Ok(Some(t)) => Some(t),
                Ok(None) => {
                    errors.add("review.startDate", "enter when the first review starts");
                    None
                }
                Err(m) => {
                    errors.add("review.startDate", m);
                    None
                }
            };
            let recurrence = match self.recurrence.as_str() {
                "weekly" => Recurrence::Weekly,
                "monthly" => Recurrence::Monthly,
                "semiAnnual" => Recurrence::SemiAnnual,
                "annual" => Recurrence::Annual,
                _ => Recurrence::Quarterly,
            };
            let duration_days = number(
                &mut errors,
                &self.review_duration,
                "review.durationDays",
                "the review's length in days",
            );
            start_date.map(|start_date| ReviewSettings {
                start_date,
                recurrence,
                duration_days,
                reviewers: self.reviewers.iter().filter_map(Entry::reviewer).collect(),
                fallback_reviewers: self
                    .review_fallback
                    .iter()
                    .filter_map(Entry::reviewer)
                    .collect(),
                if_no_response: match self.if_no_response.as_str() {
                    "remove" => IfNoResponse::Remove,
                    "recommendation" => IfNoResponse::Recommendation,
                    _ => IfNoResponse::Keep,
                },
                auto_apply: self.auto_apply,
                require_justification: self.review_justification,
            })
        } else {
            None
        };
        let mut custom_extensions = Vec::new();
        for (i, (stage, id)) in self.extensions.iter().enumerate() {
            match (ExtensionStage::parse(stage), id.parse::<Uuid>()) {
                (Some(stage), Ok(extension_id)) => custom_extensions.push(StageExtension {
                    stage,
                    extension_id,
                }),
                _ => errors.add(
                    &format!("customExtensions[{i}].extensionId"),
                    "choose one of the catalog's custom extensions",
                ),
            }
        }
        let input = PolicyInput {
            expected_version: self.version,
            display_name: Some(self.display_name.clone()),
            settings: PolicySettings {
                description: self.description.trim().to_string(),
                requestors: Requestors {
                    scope,
                    principals,
                    remove_when_out_of_scope: self.remove_when_out_of_scope,
                },
                requests_enabled: self.requests_enabled,
                require_justification: self.require_justification,
                approval: Approval { stages },
                questions,
                expiration,
                allow_custom_schedule: self.custom_schedule,
                extension: Extension {
                    allowed: self.extension_allowed,
                    require_approval: self.extension_approval,
                },
                review,
                custom_extensions,
            },
        };
        if errors.is_empty() {
            return Ok(input);
        }
        // Every problem in one round: the rules of the values that did parse are
        // checked too, each reported where nothing is reported yet.
        errors.merge(input.settings.validate(now, previous));
        if let Err(e) = DisplayName::parse(&self.display_name) {
            errors.add("displayName", e.to_string());
        }
        Err(errors)
    }

    /// The principals of the draft's lists, for resolving their names.
    pub(super) fn settings_for_names(&self) -> PolicySettings {
        let to_approvers = |l: &[Entry]| l.iter().filter_map(Entry::approver).collect();
        PolicySettings {
            description: String::new(),
            requestors: Requestors {
                scope: RequestorScope::Specific,
                principals: self
                    .principals
                    .iter()
                    .filter_map(Entry::principal)
                    .collect(),
                remove_when_out_of_scope: false,
            },
            requests_enabled: true,
            require_justification: false,
            approval: Approval {
                stages: self
                    .stages
                    .iter()
                    .map(|s| Stage {
                        approvers: to_approvers(&s.approvers),
                        fallback_approvers: to_approvers(&s.fallback),
                        decision: DecisionRule::AnyOne,
                        timeout_days: 14,
                        require_justification: false,
                        escalation: Some(Escalation {
                            after_days: 1,
                            approvers: to_approvers(&s.escalation),
                        }),
                    })
                    .collect(),
            },
            questions: Vec::new(),
            expiration: Expiration::Never,
            allow_custom_schedule: false,
            extension: Extension::default(),
            review: Some(ReviewSettings {
                start_date: chrono::DateTime::<chrono::Utc>::MIN_UTC,
                recurrence: Recurrence::Annual,
                duration_days: 1,
                reviewers: self.reviewers.iter().filter_map(Entry::reviewer).collect(),
                fallback_reviewers: self
                    .review_fallback
                    .iter()
                    .filter_map(Entry::reviewer)
                    .collect(),
                if_no_response: IfNoResponse::Keep,
                auto_apply: false,
                require_justification: false,
            }),
            custom_extensions: Vec::new(),
        }
    }
}

/// A whole number typed into a field, or the problem recorded at `path`.
fn number(errors: &mut Errors, raw: &str, path: &str, what: &str) -> i64 {
    match raw.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            errors.add(path, format!("enter {what} as a whole number"));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::ApproverKind;
    use crate::web::session::FormData;

    fn form(pairs: &[(&str, &str)]) -> FormData {
        FormData(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_two_stage_draft_becomes_policy_settings() {
        let user = Uuid::now_v7();
        let who = format!("user:{user}");
        let f = form(&[
            ("displayName", "Initial policy"),
            ("scope", "allMembers"),
            ("requestsEnabled", "true"),
            ("stageCount", "2"),
            ("s0.approvers", "manager"),
            ("s0.decision", "anyOne"),
            ("s0.timeoutDays", "14"),
            ("s1.approvers", &who),
            ("s1.decision", "all"),
            ("s1.timeoutDays", "7"),
            ("expiration", "afterDays"),
            ("expiration.days", "30"),
        ]);
        let input = Draft::from_form(&f).to_input(now(), None).expect("valid");
        let stages = &input.settings.approval.stages;
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].approvers[0].kind, ApproverKind::Manager);
        assert_eq!(stages[1].approvers[0].id, Some(user));
        assert_eq!(stages[1].decision, DecisionRule::All);
        assert_eq!(
            input.settings.expiration,
            Expiration::AfterDays { days: 30 }
        );
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn one_round_reports_what_does_not_parse_and_every_rule_the_rest_breaks() {
        let f = form(&[
            ("displayName", ""),
            ("scope", "specific"),
            ("stageCount", "1"),
            ("s0.approvers", "manager"),
            ("s0.decision", "anyOne"),
            ("s0.timeoutDays", "soon"),
            ("expiration", "afterDays"),
            ("expiration.days", "99999"),
        ]);
        let errors = Draft::from_form(&f)
            .to_input(now(), None)
            .expect_err("invalid");
        for field in [
            "approval.stages[0].timeoutDays",
            "displayName",
            "requestors.principals",
            "expiration.days",
        ] {
            assert!(errors.has(field), "{field}: {errors:?}");
        }
        assert_eq!(
            errors
                .get("approval.stages[0].timeoutDays")
                .map(String::as_str),
            Some("enter the timeout in days as a whole number"),
            "the parse problem is the one shown at its field"
        );
    }

    #[test]
    fn numbers_that_are_not_numbers_are_reported_at_their_paths() {
        let f = form(&[
            ("stageCount", "1"),
            ("s0.approvers", "manager"),
            ("s0.timeoutDays", "two weeks"),
        ]);
        let errors = Draft::from_form(&f)
            .to_input(now(), None)
            .expect_err("invalid");
        assert!(errors.has("approval.stages[0].timeoutDays"));
    }

    #[test]
    fn an_unknown_or_missing_decision_rule_is_a_problem_at_its_field() {
        for decision in [Some("mostly"), Some(""), None] {
            let mut pairs = vec![
                ("stageCount", "1"),
                ("s0.approvers", "manager"),
                ("s0.timeoutDays", "14"),
            ];
            if let Some(d) = decision {
                pairs.push(("s0.decision", d));
            }
            let errors = Draft::from_form(&form(&pairs))
                .to_input(now(), None)
                .expect_err("no rule is assumed");
            assert_eq!(
                errors
                    .get("approval.stages[0].decision")
                    .map(String::as_str),
                Some(UNKNOWN_DECISION_RULE),
                "{decision:?}"
            );
        }
    }
}
