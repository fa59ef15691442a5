//! The policy editor's draft: what its one form holds, as typed (each people list as
//! `Entry` values, numbers and dates as text), read from a saved policy or a posted
//! form, and changed by the form's draft buttons (add a stage, pick an approver…)
//! without saving anything.

use uuid::Uuid;

use crate::domain::extension::ExtensionStage;
use crate::domain::policy::{
    ApproverKind, ApproverRef, Expiration, IfNoResponse, PrincipalKind, PrincipalRef, QuestionKind,
    Recurrence, RequestorScope, ReviewerKind, ReviewerRef,
};
use crate::model::packages::Policy;
use crate::services::views::Names;
use crate::services::views::packages::{describe_approver, describe_reviewer};
use crate::web::session::FormData;
use crate::web::view::input_time;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) kind: String,
    pub(super) id: Option<Uuid>,
}

impl Entry {
    pub(super) fn parse(raw: &str) -> Option<Self> {
        let (kind, id) = match raw.split_once(':') {
            Some((k, id)) => (k, Some(Uuid::parse_str(id).ok()?)),
            None => (raw, None),
        };
        let known = matches!(
            kind,
            "manager" | "secondLevelManager" | "resourceOwners" | "self" | "user" | "group"
        );
        known.then(|| Self {
            kind: kind.to_string(),
            id,
        })
    }

    pub(super) fn encode(&self) -> String {
        match self.id {
            Some(id) => format!("{}:{id}", self.kind),
            None => self.kind.clone(),
        }
    }

    pub(super) fn approver(&self) -> Option<ApproverRef> {
        let kind = match self.kind.as_str() {
            "manager" => ApproverKind::Manager,
            "secondLevelManager" => ApproverKind::SecondLevelManager,
            "resourceOwners" => ApproverKind::ResourceOwners,
            "user" => ApproverKind::User,
            "group" => ApproverKind::Group,
            _ => return None,
        };
        Some(ApproverRef { kind, id: self.id })
    }

    pub(super) fn reviewer(&self) -> Option<ReviewerRef> {
        let kind = match self.kind.as_str() {
            "self" => ReviewerKind::Myself,
            "manager" => ReviewerKind::Manager,
            "user" => ReviewerKind::User,
            "group" => ReviewerKind::Group,
            _ => return None,
        };
        Some(ReviewerRef { kind, id: self.id })
    }

    pub(super) fn principal(&self) -> Option<PrincipalRef> {
        let kind = match self.kind.as_str() {
            "user" => PrincipalKind::User,
            "group" => PrincipalKind::Group,
            _ => return None,
        };
        self.id.map(|id| PrincipalRef { kind, id })
    }

    fn from_approver(a: &ApproverRef) -> Self {
        let kind = match a.kind {
            ApproverKind::Manager => "manager",
            ApproverKind::SecondLevelManager => "secondLevelManager",
            ApproverKind::ResourceOwners => "resourceOwners",
            ApproverKind::User => "user",
            ApproverKind::Group => "group",
        };
        Self {
            kind: kind.into(),
            id: a.id,
        }
    }

    fn from_reviewer(r: &ReviewerRef) -> Self {
        let kind = match r.kind {
            ReviewerKind::Myself => "self",
            ReviewerKind::Manager => "manager",
            ReviewerKind::User => "user",
            ReviewerKind::Group => "group",
        };
        Self {
            kind: kind.into(),
            id: r.id,
        }
    }

    /// The entry in words, as an approver (a stage's lists, the requestors).
    pub(super) fn label(&self, names: &Names) -> String {
        match (self.kind.as_str(), self.id) {
            ("self", _) => describe_reviewer(names, ReviewerKind::Myself, None),
            ("manager", _) => "Manager of the requestor".into(),
            (_, id) => self
                .approver()
                .map(|a| describe_approver(names, a.kind, id))
                .unwrap_or_default(),
        }
    }

    /// The entry in words, as a reviewer of access: a manager reviews each holder.
    pub(super) fn reviewer_label(&self, names: &Names) -> String {
        match self.kind.as_str() {
            "manager" => describe_reviewer(names, ReviewerKind::Manager, None),
            _ => self.label(names),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct StageDraft {
    pub(super) approvers: Vec<Entry>,
    pub(super) fallback: Vec<Entry>,
    pub(super) decision: String,
    pub(super) timeout: String,
    pub(super) justification: bool,
    pub(super) escalate: bool,
    pub(super) escalation_after: String,
    pub(super) escalation: Vec<Entry>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct QuestionDraft {
    pub(super) id: String,
    pub(super) text: String,
    pub(super) kind: String,
    pub(super) required: bool,
    pub(super) options: String,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Draft {
    pub(super) display_name: String,
    pub(super) description: String,
    pub(super) scope: String,
    pub(super) principals: Vec<Entry>,
    pub(super) remove_when_out_of_scope: bool,
    /// The version of the saved policy the form was opened on.
    pub(super) version: Option<i64>,
    pub(super) requests_enabled: bool,
    pub(super) require_justification: bool,
    pub(super) stages: Vec<StageDraft>,
    pub(super) questions: Vec<QuestionDraft>,
    pub(super) expiration: String,
    pub(super) days: String,
    pub(super) hours: String,
    pub(super) date: String,
    pub(super) custom_schedule: bool,
    pub(super) extension_allowed: bool,
    pub(super) extension_approval: bool,
    pub(super) review: bool,
    pub(super) review_start: String,
    pub(super) recurrence: String,
    pub(super) review_duration: String,
    pub(super) reviewers: Vec<Entry>,
    pub(super) review_fallback: Vec<Entry>,
    pub(super) if_no_response: String,
    pub(super) auto_apply: bool,
    pub(super) review_justification: bool,
    /// The custom extension chosen for each stage of a request's life: (stage,
    /// extension id as typed; empty for none).
    pub(super) extensions: Vec<(String, String)>,
    /// Search terms typed into the pickers, by list key.
    pub(super) searches: Vec<(String, String)>,
}

fn entries(form: &FormData, key: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for e in form.all(key).into_iter().filter_map(Entry::parse) {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

pub(super) const MAX_DRAFT_STAGES: usize = 3;
pub(super) const MAX_DRAFT_QUESTIONS: usize = 20;

impl Draft {
    /// The extension id chosen for `stage` ("" for none).
    pub(super) fn extension_at(&self, stage: ExtensionStage) -> &str {
        self.extensions
            .iter()
            .find(|(s, _)| s == stage.as_str())
            .map_or("", |(_, id)| id.as_str())
    }

    pub(super) fn new_policy() -> Self {
        Self {
            display_name: "Initial policy".into(),
            scope: "allMembers".into(),
            requests_enabled: true,
            expiration: "never".into(),
            days: "365".into(),
            hours: "8".into(),
            recurrence: "quarterly".into(),
            review_duration: "14".into(),
            if_no_response: "keep".into(),
            ..Self::default()
        }
    }

    pub(super) fn from_policy(p: &Policy) -> Self {
        let s = &p.settings.0;
        let mut d = Self::new_policy();
        d.display_name = p.display_name.clone();
        d.description = s.description.clone();
        d.scope = match s.requestors.scope {
            RequestorScope::None => "none",
            RequestorScope::Specific => "specific",
            RequestorScope::AllMembers => "allMembers",
            RequestorScope::AllUsers => "allUsers",
        }
        .into();
        d.principals = s
            .requestors
            .principals
            .iter()
            .map(|p| Entry {
                kind: match p.kind {
                    PrincipalKind::User => "user".into(),
                    PrincipalKind::Group => "group".into(),
                },
                id: Some(p.id),
            })
            .collect();
        d.requests_enabled = s.requests_enabled;
        d.require_justification = s.require_justification;
        d.remove_when_out_of_scope = s.requestors.remove_when_out_of_scope;
        d.version = Some(p.version);
        d.stages = s
            .approval
            .stages
            .iter()
            .map(|st| StageDraft {
                approvers: st.approvers.iter().map(Entry::from_approver).collect(),
                fallback: st
                    .fallback_approvers
                    .iter()
                    .map(Entry::from_approver)
                    .collect(),
                decision: st.decision.as_str().into(),
                timeout: st.timeout_days.to_string(),
                justification: st.require_justification,
                escalate: st.escalation.is_some(),
                escalation_after: st
                    .escalation
                    .as_ref()
                    .map_or_else(String::new, |e| e.after_days.to_string()),
                escalation: st
                    .escalation
                    .as_ref()
                    .map(|e| e.approvers.iter().map(Entry::from_approver).collect())
                    .unwrap_or_default(),
            })
            .collect();
        d.questions = s
            .questions
            .iter()
            .map(|q| QuestionDraft {
                id: q.id.map(|i| i.to_string()).unwrap_or_default(),
                text: q.text.clone(),
                kind: match q.kind {
                    QuestionKind::ShortText => "shortText",
                    QuestionKind::LongText => "longText",
                    QuestionKind::Choice => "choice",
                }
                .into(),
                required: q.required,
                options: q.options.join("\n"),
            })
            .collect();
        match &s.expiration {
            Expiration::Never => d.expiration = "never".into(),
            Expiration::AfterDays { days } => {
                d.expiration = "afterDays".into();
                d.days = days.to_string();
            }
            Expiration::AfterHours { hours } => {
                d.expiration = "afterHours".into();
                d.hours = hours.to_string();
            }
            Expiration::OnDate { date } => {
                d.expiration = "onDate".into();
                d.date = input_time(Some(*date));
            }
        }
        d.extensions = s
            .custom_extensions
            .iter()
            .map(|e| (e.stage.as_str().to_string(), e.extension_id.to_string()))
            .collect();
        d.custom_schedule = s.allow_custom_schedule;
        d.extension_allowed = s.extension.allowed;
        d.extension_approval = s.extension.require_approval;
        if let Some(r) = &s.review {
            d.review = true;
            d.review_start = input_time(Some(r.start_date));
            d.recurrence = recurrence_key(r.recurrence).into();
            d.review_duration = r.duration_days.to_string();
            d.reviewers = r.reviewers.iter().map(Entry::from_reviewer).collect();
            d.review_fallback = r
                .fallback_reviewers
                .iter()
                .map(Entry::from_reviewer)
                .collect();
            d.if_no_response = match r.if_no_response {
                IfNoResponse::Keep => "keep",
                IfNoResponse::Remove => "remove",
                IfNoResponse::Recommendation => "recommendation",
            }
            .into();
            d.auto_apply = r.auto_apply;
            d.review_justification = r.require_justification;
        }
        d
    }

    pub(super) fn from_form(f: &FormData) -> Self {
        let count = |name: &str, max: usize| {
            f.get(name)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
                .min(max)
        };
        let stages = (0..count("stageCount", MAX_DRAFT_STAGES))
            .map(|i| {
                let k = |s: &str| format!("s{i}.{s}");
                StageDraft {
                    approvers: entries(f, &k("approvers")),
                    fallback: entries(f, &k("fallback")),
                    decision: f.text(&k("decision")),
                    timeout: f.text(&k("timeoutDays")),
                    justification: f.checked(&k("requireJustification")),
                    escalate: f.checked(&k("escalate")),
                    escalation_after: f.text(&k("escalation.afterDays")),
                    escalation: entries(f, &k("escalation")),
                }
            })
            .collect();
        let questions = (0..count("questionCount", MAX_DRAFT_QUESTIONS))
            .map(|i| {
                let k = |s: &str| format!("q{i}.{s}");
                QuestionDraft {
                    id: f.text(&k("id")),
                    text: f.text(&k("text")),
                    kind: f.text(&k("kind")),
                    required: f.checked(&k("required")),
                    options: f.text(&k("options")),
                }
            })
            .collect();
        let searches =
            f.0.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("find:")
                        .map(|key| (key.to_string(), v.trim().to_string()))
                })
                .collect();
        Self {
            display_name: f.text("displayName"),
            description: f.text("description"),
            scope: f.text("scope"),
            principals: entries(f, "requestors"),
            requests_enabled: f.checked("requestsEnabled"),
            require_justification: f.checked("requireJustification"),
            remove_when_out_of_scope: f.checked("removeWhenOutOfScope"),
            version: f.get("version").and_then(|v| v.parse().ok()),
            stages,
            questions,
            expiration: f.text("expiration"),
            days: f.text("expiration.days"),
            hours: f.text("expiration.hours"),
            date: f.text("expiration.date"),
            custom_schedule: f.checked("allowCustomSchedule"),
            extension_allowed: f.checked("extension.allowed"),
            extension_approval: f.checked("extension.requireApproval"),
            review: f.checked("review.enabled"),
            review_start: f.text("review.startDate"),
            recurrence: f.text("review.recurrence"),
            review_duration: f.text("review.durationDays"),
            reviewers: entries(f, "review.reviewers"),
            review_fallback: entries(f, "review.fallback"),
            if_no_response: f.text("review.ifNoResponse"),
            auto_apply: f.checked("review.autoApply"),
            review_justification: f.checked("review.requireJustification"),
            extensions: ExtensionStage::ALL
                .iter()
                .map(|st| (st.as_str().to_string(), f.text(&format!("ext.{st}"))))
                .filter(|(_, id)| !id.is_empty())
                .collect(),
            searches,
        }
    }

    fn list_mut(&mut self, key: &str) -> Option<&mut Vec<Entry>> {
        match key {
            "requestors" => Some(&mut self.principals),
            "review.reviewers" => Some(&mut self.reviewers),
            "review.fallback" => Some(&mut self.review_fallback),
            _ => {
                let (stage, list) = key.strip_prefix('s')?.split_once('.')?;
                let stage = self.stages.get_mut(stage.parse::<usize>().ok()?)?;
                match list {
                    "approvers" => Some(&mut stage.approvers),
                    "fallback" => Some(&mut stage.fallback),
                    "escalation" => Some(&mut stage.escalation),
                    _ => None,
                }
            }
        }
    }

    pub(super) fn search(&self, key: &str) -> String {
        self.searches
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Applies a draft-changing button; `false` for an unknown one.
    pub(super) fn apply(&mut self, op: &str) -> bool {
        let parts: Vec<&str> = op.split(':').collect();
        match parts.as_slice() {
            ["refresh"] => true,
            ["add-stage"] => {
                if self.stages.len() < MAX_DRAFT_STAGES {
                    self.stages.push(StageDraft {
                        decision: "anyOne".into(),
                        timeout: "14".into(),
                        escalation_after: "7".into(),
                        ..StageDraft::default()
                    });
                }
                true
            }
            ["remove-stage", i] => {
                if let Ok(i) = i.parse::<usize>()
                    && i < self.stages.len()
                {
                    self.stages.remove(i);
                }
                true
            }
            ["add-question"] => {
                if self.questions.len() < MAX_DRAFT_QUESTIONS {
                    self.questions.push(QuestionDraft {
                        kind: "shortText".into(),
                        ..QuestionDraft::default()
                    });
                }
                true
            }
            ["remove-question", i] => {
                if let Ok(i) = i.parse::<usize>()
                    && i < self.questions.len()
                {
                    self.questions.remove(i);
                }
                true
            }
            ["add", list, kind] => {
                if let Some(entry) = Entry::parse(kind)
                    && let Some(l) = self.list_mut(list)
                    && !l.contains(&entry)
                {
                    l.push(entry);
                }
                true
            }
            ["pick", list, kind, id] => {
                if let Some(entry) = Entry::parse(&format!("{kind}:{id}"))
                    && let Some(l) = self.list_mut(list)
                    && !l.contains(&entry)
                {
                    l.push(entry);
                }
                // The search has done its job.
                let key = (*list).to_string();
                self.searches.retain(|(k, _)| *k != key);
                true
            }
            ["unpick", list, i] => {
                if let Ok(i) = i.parse::<usize>()
                    && let Some(l) = self.list_mut(list)
                    && i < l.len()
                {
                    l.remove(i);
                }
                true
            }
            ["find", _] => true,
            _ => false,
        }
    }
}

fn recurrence_key(r: Recurrence) -> &'static str {
    match r {
        Recurrence::Weekly => "weekly",
        Recurrence::Monthly => "monthly",
        Recurrence::Quarterly => "quarterly",
        Recurrence::SemiAnnual => "semiAnnual",
        Recurrence::Annual => "annual",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manager_approves_for_the_requestor_and_reviews_each_holder() {
        let manager = Entry {
            kind: "manager".into(),
            id: None,
        };
        let names = Names::default();
        assert_eq!(manager.label(&names), "Manager of the requestor");
        assert_eq!(manager.reviewer_label(&names), "Manager of each holder");
    }

    #[test]
    fn buttons_change_the_draft() {
        let mut d = Draft::new_policy();
        assert!(d.apply("add-stage"));
        assert!(d.apply("add:s0.approvers:manager"));
        let id = Uuid::now_v7();
        assert!(d.apply(&format!("pick:s0.approvers:user:{id}")));
        assert_eq!(d.stages[0].approvers.len(), 2);
        assert!(d.apply("unpick:s0.approvers:0"));
        assert_eq!(d.stages[0].approvers[0].id, Some(id));
        assert!(d.apply("add-question"));
        assert_eq!(d.questions.len(), 1);
        assert!(d.apply("remove-stage:0"));
        assert!(d.stages.is_empty());
        assert!(!d.apply("drop-tables"));
    }
}
