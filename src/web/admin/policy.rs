//! The policy editor, in Entra's steps: Requests (who can request), Approval (0–3
//! stages with approvers picked from the directory), Requestor information
//! (questions), Lifecycle (expiration, custom schedule, extension), Access reviews,
//! then Review + create. One form carries the whole draft; its buttons either change
//! the draft (add a stage, pick an approver, search the directory), which re-renders
//! it without saving, or save it, which validates on the server
//! (`PolicySettings::validate` through the packages service) and shows each problem
//! next to its field with status 422. Without JavaScript every step is a form
//! round-trip; htmx swaps in search results as one types.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use uuid::Uuid;

use super::{Errors, form_errors, input_time, invalid, parse_id, parse_when};
use crate::db::packages::Policy;
use crate::domain::ids::{PackageId, PolicyId};
use crate::domain::policy::{
    Approval, ApproverKind, ApproverRef, DecisionRule, Escalation, Expiration, Extension,
    IfNoResponse, PolicySettings, PrincipalKind, PrincipalRef, Question, QuestionKind, Recurrence,
    RequestorScope, Requestors, ReviewSettings, ReviewerKind, ReviewerRef, Stage,
};
use crate::services::packages::PolicyInput;
use crate::services::views::Names;
use crate::services::views::directory::PrincipalHit;
use crate::services::views::packages::{describe_approver, describe_reviewer};
use crate::services::{self};
use crate::state::AppState;
use crate::web::session::{AdminCaller, FormData, PageResult, Posted, redirect_with_flash};
use crate::web::shell::{Section, Shell};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/t/{slug}/admin/packages/{id}/policies/new",
            get(new_policy).post(post_new_policy),
        )
        .route(
            "/t/{slug}/admin/packages/{id}/policies/{pid}",
            get(edit_policy).post(post_policy),
        )
}

// ---------------------------------------------------------------------------------
// The draft: what the form holds, as typed

/// One entry of a people list: `manager`, `self`, `user:<id>`, `group:<id>`…
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    kind: String,
    id: Option<Uuid>,
}

impl Entry {
    fn parse(raw: &str) -> Option<Self> {
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

    fn encode(&self) -> String {
        match self.id {
            Some(id) => format!("{}:{id}", self.kind),
            None => self.kind.clone(),
        }
    }

    fn approver(&self) -> Option<ApproverRef> {
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

    fn reviewer(&self) -> Option<ReviewerRef> {
        let kind = match self.kind.as_str() {
            "self" => ReviewerKind::Myself,
            "manager" => ReviewerKind::Manager,
            "user" => ReviewerKind::User,
            "group" => ReviewerKind::Group,
            _ => return None,
        };
        Some(ReviewerRef { kind, id: self.id })
    }

    fn principal(&self) -> Option<PrincipalRef> {
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

    fn label(&self, names: &Names) -> String {
        match (self.kind.as_str(), self.id) {
            ("self", _) => describe_reviewer(names, ReviewerKind::Myself, None),
            ("manager", _) => "Manager of the requestor".into(),
            (_, id) => self
                .approver()
                .map(|a| describe_approver(names, a.kind, id))
                .unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct StageDraft {
    approvers: Vec<Entry>,
    fallback: Vec<Entry>,
    decision: String,
    timeout: String,
    justification: bool,
    escalate: bool,
    escalation_after: String,
    escalation: Vec<Entry>,
}

#[derive(Clone, Debug, Default)]
struct QuestionDraft {
    id: String,
    text: String,
    kind: String,
    required: bool,
    options: String,
}

#[derive(Clone, Debug, Default)]
struct Draft {
    display_name: String,
    description: String,
    scope: String,
    principals: Vec<Entry>,
    requests_enabled: bool,
    require_justification: bool,
    stages: Vec<StageDraft>,
    questions: Vec<QuestionDraft>,
    expiration: String,
    days: String,
    hours: String,
    date: String,
    custom_schedule: bool,
    extension_allowed: bool,
    extension_approval: bool,
    review: bool,
    review_start: String,
    recurrence: String,
    review_duration: String,
    reviewers: Vec<Entry>,
    review_fallback: Vec<Entry>,
    if_no_response: String,
    auto_apply: bool,
    review_justification: bool,
    /// Search terms typed into the pickers, by list key.
    searches: Vec<(String, String)>,
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

const MAX_DRAFT_STAGES: usize = 3;
const MAX_DRAFT_QUESTIONS: usize = 20;

impl Draft {
    fn new_policy() -> Self {
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

    fn from_policy(p: &Policy) -> Self {
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
                d.date = input_time(&Some(*date));
            }
        }
        d.custom_schedule = s.allow_custom_schedule;
        d.extension_allowed = s.extension.allowed;
        d.extension_approval = s.extension.require_approval;
        if let Some(r) = &s.review {
            d.review = true;
            d.review_start = input_time(&Some(r.start_date));
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

    fn from_form(f: &FormData) -> Self {
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

    fn search(&self, key: &str) -> String {
        self.searches
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Applies a draft-changing button; `false` for an unknown one.
    fn apply(&mut self, op: &str) -> bool {
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

    /// The settings the draft describes, or the problems of values that are not even
    /// numbers or dates (reported at the API's field paths).
    fn to_input(&self) -> Result<PolicyInput, Errors> {
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
            stages.push(Stage {
                approvers: s.approvers.iter().filter_map(Entry::approver).collect(),
                fallback_approvers: s.fallback.iter().filter_map(Entry::approver).collect(),
                decision: DecisionRule::parse(&s.decision).unwrap_or_else(|| {
                    errors.add(
                        &at("decision"),
                        "choose whether the first decision or every approver's counts",
                    );
                    DecisionRule::All
                }),
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
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PolicyInput {
            display_name: Some(self.display_name.clone()),
            settings: PolicySettings {
                description: self.description.trim().to_string(),
                requestors: Requestors { scope, principals },
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
            },
        })
    }

    /// The principals of the draft's lists, for resolving their names.
    fn settings_for_names(&self) -> PolicySettings {
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

fn recurrence_key(r: Recurrence) -> &'static str {
    match r {
        Recurrence::Weekly => "weekly",
        Recurrence::Monthly => "monthly",
        Recurrence::Quarterly => "quarterly",
        Recurrence::SemiAnnual => "semiAnnual",
        Recurrence::Annual => "annual",
    }
}

// ---------------------------------------------------------------------------------
// The page

struct EntryView {
    value: String,
    label: String,
    remove: String,
}

struct Hit {
    op: String,
    label: String,
    detail: String,
}

/// A people list with its picker.
struct ListView {
    key: String,
    dom: String,
    title: String,
    hint: String,
    entries: Vec<EntryView>,
    error: Option<String>,
    error_id: String,
    quick: Vec<(String, String)>,
    search: String,
    searched: bool,
    hits: Vec<Hit>,
    users: bool,
    groups: bool,
}

struct StageView {
    n: usize,
    i: usize,
    approvers: ListView,
    fallback: ListView,
    escalation: ListView,
    decision: String,
    timeout: String,
    timeout_error: Option<String>,
    justification: bool,
    escalate: bool,
    escalation_after: String,
    escalation_error: Option<String>,
    /// Show the stage's further options (they are in use or have problems).
    more: bool,
}

struct QuestionView {
    i: usize,
    n: usize,
    id: String,
    text: String,
    text_error: Option<String>,
    kind: String,
    required: bool,
    options: String,
    options_error: Option<String>,
}

struct SummaryPart {
    title: &'static str,
    lines: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/policy.html")]
struct PolicyPage {
    shell: Shell,
    csrf: String,
    slug: String,
    package_name: String,
    package_href: String,
    action: String,
    heading: String,
    creating: bool,
    errors: Errors,
    d: Draft,
    requestors: ListView,
    stages: Vec<StageView>,
    stages_error: Option<String>,
    can_add_stage: bool,
    questions: Vec<QuestionView>,
    questions_error: Option<String>,
    reviewers: ListView,
    review_fallback: ListView,
    summary: Vec<SummaryPart>,
}

/// Every message at `path` or below it (`path[0].id`, `path.x`), joined.
fn under(errors: &Errors, path: &str) -> Option<String> {
    let found: Vec<String> = errors
        .iter()
        .filter(|(k, _)| {
            *k == path || k.starts_with(&format!("{path}[")) || k.starts_with(&format!("{path}."))
        })
        .map(|(_, v)| v.clone())
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

/// Whether a search was typed into the fallback or escalation picker of stage `i`.
fn draft_search_empty(d: &Draft, i: usize) -> bool {
    d.search(&format!("s{i}.fallback")).is_empty()
        && d.search(&format!("s{i}.escalation")).is_empty()
}

fn exact(errors: &Errors, path: &str) -> Option<String> {
    errors.get(path).cloned()
}

#[allow(clippy::too_many_arguments)]
fn list_view(
    key: &str,
    error_path: &str,
    title: &str,
    hint: &str,
    list: &[Entry],
    quick: &[(&str, &str)],
    users: bool,
    groups: bool,
    draft: &Draft,
    names: &Names,
    hits: &[(String, Vec<PrincipalHit>)],
    errors: &Errors,
) -> ListView {
    let search = draft.search(key);
    let found = hits.iter().find(|(k, _)| k == key).map(|(_, h)| h);
    ListView {
        key: key.to_string(),
        dom: key.replace(['.', '[', ']'], "-"),
        title: title.to_string(),
        hint: hint.to_string(),
        entries: list
            .iter()
            .enumerate()
            .map(|(i, e)| EntryView {
                value: e.encode(),
                label: e.label(names),
                remove: format!("unpick:{key}:{i}"),
            })
            .collect(),
        error: under(errors, error_path),
        error_id: format!("f-{error_path}"),
        quick: quick
            .iter()
            .filter(|(k, _)| !list.iter().any(|e| e.kind == *k && e.id.is_none()))
            .map(|(k, label)| (format!("add:{key}:{k}"), (*label).to_string()))
            .collect(),
        searched: found.is_some(),
        hits: found
            .map(|h| {
                h.iter()
                    .filter(|p| {
                        (users && p.kind == PrincipalKind::User)
                            || (groups && p.kind == PrincipalKind::Group)
                    })
                    .map(|p| {
                        let kind = match p.kind {
                            PrincipalKind::User => "user",
                            PrincipalKind::Group => "group",
                        };
                        Hit {
                            op: format!("pick:{key}:{kind}:{}", p.id),
                            label: p.name.clone(),
                            detail: p.detail.clone(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        search,
        users,
        groups,
    }
}

const APPROVER_QUICK: [(&str, &str); 3] = [
    ("manager", "Manager of the requestor"),
    ("secondLevelManager", "Second-level manager"),
    ("resourceOwners", "Owners of the package's groups"),
];

const REVIEWER_QUICK: [(&str, &str); 2] = [
    ("self", "Self-review"),
    ("manager", "Manager of each holder"),
];

fn summary(d: &Draft, names: &Names) -> Vec<SummaryPart> {
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
                    if s.decision == "all" {
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
        "onDate" => format!("Access ends on {} (UTC).", d.date.replace('T', " ")),
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
            people(&d.reviewers)
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

struct Target {
    package: PackageId,
    policy: Option<PolicyId>,
}

#[allow(clippy::too_many_arguments)]
fn render(
    who: &AdminCaller,
    target: &Target,
    package_name: &str,
    draft: Draft,
    names: &Names,
    hits: &[(String, Vec<PrincipalHit>)],
    errors: Errors,
) -> PolicyPage {
    let d = &draft;
    let package_href = who.url(&format!("/admin/packages/{}", target.package));
    let action = match target.policy {
        Some(p) => format!("{package_href}/policies/{p}"),
        None => format!("{package_href}/policies/new"),
    };
    let stages = d
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let at = |f: &str| format!("approval.stages[{i}].{f}");
            StageView {
                n: i + 1,
                i,
                approvers: list_view(
                    &format!("s{i}.approvers"),
                    &at("approvers"),
                    "Approvers",
                    "Who decides at this stage. The requestor is never their own approver.",
                    &s.approvers,
                    &APPROVER_QUICK,
                    true,
                    true,
                    d,
                    names,
                    hits,
                    &errors,
                ),
                fallback: list_view(
                    &format!("s{i}.fallback"),
                    &at("fallbackApprovers"),
                    "Fallback approvers",
                    "Asked when the approvers resolve to nobody (then the tenant admins).",
                    &s.fallback,
                    &APPROVER_QUICK[..2],
                    true,
                    true,
                    d,
                    names,
                    hits,
                    &errors,
                ),
                escalation: list_view(
                    &format!("s{i}.escalation"),
                    &at("escalation.approvers"),
                    "Alternate approvers",
                    "Added when the stage is still open after the escalation time.",
                    &s.escalation,
                    &APPROVER_QUICK[..2],
                    true,
                    true,
                    d,
                    names,
                    hits,
                    &errors,
                ),
                decision: s.decision.clone(),
                timeout: s.timeout.clone(),
                timeout_error: exact(&errors, &at("timeoutDays")),
                justification: s.justification,
                escalate: s.escalate,
                escalation_after: s.escalation_after.clone(),
                escalation_error: exact(&errors, &at("escalation.afterDays")),
                more: s.justification
                    || s.escalate
                    || !s.fallback.is_empty()
                    || !s.escalation.is_empty()
                    || !draft_search_empty(d, i)
                    || under(&errors, &at("fallbackApprovers")).is_some()
                    || under(&errors, &at("escalation")).is_some(),
            }
        })
        .collect();
    let questions = d
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| QuestionView {
            i,
            n: i + 1,
            id: q.id.clone(),
            text: q.text.clone(),
            text_error: under(&errors, &format!("questions[{i}].text"))
                .or_else(|| exact(&errors, &format!("questions[{i}].id"))),
            kind: q.kind.clone(),
            required: q.required,
            options: q.options.clone(),
            options_error: exact(&errors, &format!("questions[{i}].options")),
        })
        .collect();
    let requestors = list_view(
        "requestors",
        "requestors.principals",
        "Users and groups who can request",
        "Only used with “Specific users and groups”.",
        &d.principals,
        &[],
        true,
        true,
        d,
        names,
        hits,
        &errors,
    );
    let reviewers = list_view(
        "review.reviewers",
        "review.reviewers",
        "Reviewers",
        "",
        &d.reviewers,
        &REVIEWER_QUICK,
        true,
        true,
        d,
        names,
        hits,
        &errors,
    );
    let review_fallback = list_view(
        "review.fallback",
        "review.fallbackReviewers",
        "Fallback reviewers",
        "Asked when the reviewers resolve to nobody (then the tenant admins).",
        &d.review_fallback,
        &[],
        true,
        true,
        d,
        names,
        hits,
        &errors,
    );
    let heading = match target.policy {
        Some(_) => format!("Edit policy “{}”", d.display_name),
        None => "New policy".to_string(),
    };
    PolicyPage {
        shell: who.shell(heading.clone(), Section::Packages),
        csrf: who.csrf.clone(),
        slug: who.slug().to_string(),
        package_name: package_name.to_string(),
        package_href,
        action,
        heading,
        creating: target.policy.is_none(),
        stages_error: exact(&errors, "approval.stages"),
        questions_error: exact(&errors, "questions"),
        can_add_stage: d.stages.len() < MAX_DRAFT_STAGES,
        summary: summary(d, names),
        errors,
        requestors,
        stages,
        questions,
        reviewers,
        review_fallback,
        d: draft,
    }
}

async fn show(state: &AppState, who: &AdminCaller, target: Target) -> PageResult {
    let editor = services::views::packages::policy_editor(
        state.pool(),
        &who.caller,
        target.package,
        target.policy,
        None,
    )
    .await
    .map_err(|e| who.fail(e))?;
    let draft = match &editor.policy {
        Some(p) => Draft::from_policy(p),
        None => Draft::new_policy(),
    };
    Ok(render(
        who,
        &target,
        &editor.package.package.display_name,
        draft,
        &editor.names,
        &[],
        Errors::none(),
    )
    .into_response())
}

async fn new_policy(
    State(state): State<AppState>,
    who: AdminCaller,
    Path((_, id)): Path<(String, String)>,
) -> PageResult {
    let package: PackageId = parse_id(&id).map_err(|e| who.fail(e))?;
    show(
        &state,
        &who,
        Target {
            package,
            policy: None,
        },
    )
    .await
}

async fn edit_policy(
    State(state): State<AppState>,
    who: AdminCaller,
    Path((_, id, pid)): Path<(String, String, String)>,
) -> PageResult {
    let package: PackageId = parse_id(&id).map_err(|e| who.fail(e))?;
    let policy: PolicyId = parse_id(&pid).map_err(|e| who.fail(e))?;
    show(
        &state,
        &who,
        Target {
            package,
            policy: Some(policy),
        },
    )
    .await
}

async fn post_new_policy(
    State(state): State<AppState>,
    Path((_, id)): Path<(String, String)>,
    posted: Posted<AdminCaller>,
) -> PageResult {
    let package: PackageId = parse_id(&id).map_err(|e| posted.who.fail(e))?;
    submit(
        &state,
        posted,
        Target {
            package,
            policy: None,
        },
    )
    .await
}

async fn post_policy(
    State(state): State<AppState>,
    Path((_, id, pid)): Path<(String, String, String)>,
    posted: Posted<AdminCaller>,
) -> PageResult {
    let package: PackageId = parse_id(&id).map_err(|e| posted.who.fail(e))?;
    let policy: PolicyId = parse_id(&pid).map_err(|e| posted.who.fail(e))?;
    submit(
        &state,
        posted,
        Target {
            package,
            policy: Some(policy),
        },
    )
    .await
}

/// Re-renders the draft after a draft-changing button (200), running the searches
/// typed into its pickers.
async fn redraw(
    state: &AppState,
    who: &AdminCaller,
    target: &Target,
    draft: Draft,
    errors: Errors,
    status_invalid: bool,
) -> PageResult {
    let settings = draft.settings_for_names();
    let editor = services::views::packages::policy_editor(
        state.pool(),
        &who.caller,
        target.package,
        target.policy,
        Some(&settings),
    )
    .await
    .map_err(|e| who.fail(e))?;
    let mut hits = Vec::new();
    for (key, term) in &draft.searches {
        if term.is_empty() {
            continue;
        }
        let found = services::views::directory::search_principals(
            state.pool(),
            &who.caller,
            term,
            true,
            true,
        )
        .await
        .map_err(|e| who.fail(e))?;
        hits.push((key.clone(), found));
    }
    let page = render(
        who,
        target,
        &editor.package.package.display_name,
        draft,
        &editor.names,
        &hits,
        errors,
    );
    Ok(if status_invalid {
        invalid(page)
    } else {
        page.into_response()
    })
}

async fn submit(state: &AppState, posted: Posted<AdminCaller>, target: Target) -> PageResult {
    let Posted { who, form } = posted;
    let mut draft = Draft::from_form(&form);
    let op = form.text("op");
    if op != "save" {
        if !draft.apply(&op) {
            return Err(who.fail(crate::web::session::PageError::bad_request(
                "That button is not one of this form's.",
            )));
        }
        return redraw(state, &who, &target, draft, Errors::none(), false).await;
    }
    let input = match draft.to_input() {
        Ok(input) => input,
        Err(errors) => return redraw(state, &who, &target, draft, errors, true).await,
    };
    let saved = match target.policy {
        Some(id) => {
            services::packages::replace_policy(state.pool(), &who.caller, id, input, state.now())
                .await
        }
        None => {
            services::packages::create_policy(
                state.pool(),
                &who.caller,
                target.package,
                input,
                state.now(),
            )
            .await
        }
    };
    match saved {
        Ok(p) => Ok(saved_redirect(state, &who, &target, &p)),
        Err(e) => {
            let errors = form_errors(e).map_err(|e| who.fail(e))?;
            redraw(state, &who, &target, draft, errors, true).await
        }
    }
}

fn saved_redirect(state: &AppState, who: &AdminCaller, target: &Target, p: &Policy) -> Response {
    let verb = if target.policy.is_some() {
        "saved"
    } else {
        "created"
    };
    redirect_with_flash(
        state,
        &who.url(&format!("/admin/packages/{}", target.package)),
        &format!("Policy “{}” {verb}.", p.display_name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let input = Draft::from_form(&f).to_input().expect("valid");
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

    #[test]
    fn numbers_that_are_not_numbers_are_reported_at_their_paths() {
        let f = form(&[
            ("stageCount", "1"),
            ("s0.approvers", "manager"),
            ("s0.timeoutDays", "two weeks"),
        ]);
        let errors = Draft::from_form(&f).to_input().expect_err("invalid");
        assert!(errors.has("approval.stages[0].timeoutDays"));
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
