//! The policy in English, as the editor's "Review + create" step shows it: one part a
//! step (requests, approval, questions, lifecycle, reviews), read from the draft as
//! typed, so it follows every change before anything is saved.

use super::draft::{Draft, Entry};
use crate::domain::policy::DecisionRule;
use crate::services::views::Names;

pub(super) struct SummaryPart {
    pub(super) title: &'static str,
    pub(super) lines: Vec<String>,
}

pub(super) fn summary(d: &Draft, names: &Names) -> Vec<SummaryPart> {
    let reviewers = |l: &[Entry]| -> String {
        if l.is_empty() {
            "nobody yet".into()
        } else {
            l.iter()
                .map(|e| e.reviewer_label(names))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let people = |l: &[Entry]| -> String {
        if l.is_empty() {
            "nobody yet".into()
        } else {
            l.iter()
                .map(|e| e.label(names))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut requests = vec![match d.scope.as_str() {
        "none" => "Nobody can request it: administrators assign it directly.".to_string(),
        "specific" => format!(
            "Specific users and groups can request it: {}.",
            people(&d.principals)
        ),
        "allUsers" => "All users, guests included, can request it.".into(),
        _ => "All members of the directory (not guests) can request it.".into(),
    }];
    requests.push(if d.requests_enabled {
        "New requests are enabled.".into()
    } else {
        "New requests are disabled.".into()
    });
    if d.require_justification {
        requests.push("Requestors must give a justification.".into());
    }
    let approval = if d.stages.is_empty() {
        vec!["No approval: requests are delivered at once.".to_string()]
    } else {
        d.stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut line = format!(
                    "Stage {}: {} ({}), times out after {} days",
                    i + 1,
                    people(&s.approvers),
                    if s.decision == DecisionRule::All.as_str() {
                        "all must approve"
                    } else {
                        "first decision counts"
                    },
                    s.timeout
                );
                if !s.fallback.is_empty() {
                    line.push_str(&format!("; fallback: {}", people(&s.fallback)));
                }
                if s.escalate {
                    line.push_str(&format!(
                        "; escalates after {} days to {}",
                        s.escalation_after,
                        people(&s.escalation)
                    ));
                }
                if s.justification {
                    line.push_str("; approvers give a justification");
                }
                line
            })
            .collect()
    };
    let questions = if d.questions.is_empty() {
        vec!["No questions.".to_string()]
    } else {
        d.questions
            .iter()
            .map(|q| {
                format!(
                    "{}{}",
                    if q.text.trim().is_empty() {
                        "(no text yet)"
                    } else {
                        q.text.trim()
                    },
                    if q.required { " (required)" } else { "" }
                )
            })
            .collect()
    };
    let mut lifecycle = vec![match d.expiration.as_str() {
        "afterDays" => format!("Access ends {} days after it starts.", d.days),
        "afterHours" => format!("Access ends {} hours after it starts.", d.hours),
        "onDate" => format!(
            "Access ends on {} ({}).",
            d.date.replace('T', " "),
            crate::time_text::zone_name()
        ),
        _ => "Access never expires.".into(),
    }];
    if d.custom_schedule {
        lifecycle.push("Requestors may choose a start and an earlier end.".into());
    }
    if d.extension_allowed {
        lifecycle.push(if d.extension_approval {
            "Holders may ask for an extension, which needs approval.".into()
        } else {
            "Holders may extend their access.".into()
        });
    }
    let reviews = if d.review {
        vec![format!(
            "Reviewed {} from {} for {} days by {}.",
            d.recurrence,
            d.review_start.replace('T', " "),
            d.review_duration,
            reviewers(&d.reviewers)
        )]
    } else {
        vec!["No access reviews.".to_string()]
    };
    vec![
        SummaryPart {
            title: "Requests",
            lines: requests,
        },
        SummaryPart {
            title: "Approval",
            lines: approval,
        },
        SummaryPart {
            title: "Requestor information",
            lines: questions,
        },
        SummaryPart {
            title: "Lifecycle",
            lines: lifecycle,
        },
        SummaryPart {
            title: "Access reviews",
            lines: reviews,
        },
    ]
}
