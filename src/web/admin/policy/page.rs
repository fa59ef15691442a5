//! The policy editor's page: the draft with its people pickers (search hits, quick
//! choices), each field's problem next to it, and the summary.

use askama::Template;
use askama_web::WebTemplate;

use super::Target;
use super::draft::{Draft, Entry, MAX_DRAFT_STAGES};
use super::extensions::{ExtensionChoice, extension_choices};
use super::summary::{SummaryPart, summary};
use crate::domain::ids::ExtensionId;
use crate::domain::policy::PrincipalKind;
use crate::services::views::Names;
use crate::services::views::directory::PrincipalHit;
use crate::web::session::AdminCaller;
use crate::web::shell::{Section, Shell};
use crate::web::view::Errors;

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
    decision_error: Option<String>,
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

#[derive(Template, WebTemplate)]
#[template(path = "admin/policy.html")]
pub(super) struct PolicyPage {
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
    extension_stages: Vec<ExtensionChoice>,
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
                label: if key.starts_with("review") {
                    e.reviewer_label(names)
                } else {
                    e.label(names)
                },
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

/// A field with a problem as the editor labels it, for the summary at the top of the
/// form (`None`: the path read as words will do).
pub(super) fn policy_label(path: &str) -> Option<String> {
    let fixed = match path {
        "displayName" => "Policy name",
        "description" => "Description",
        "requestors.scope" => "Who can request access",
        "requestors.principals" => "Who can request access: specific users and groups",
        "approval.stages" => "Approval stages",
        "expiration" | "expiration.type" => "How long access lasts",
        "expiration.days" => "How long access lasts: days",
        "expiration.hours" => "How long access lasts: hours",
        "expiration.date" => "How long access lasts: end date and time",
        "extension.requireApproval" => "Extensions need approval",
        "review.startDate" => "First review starts",
        "review.durationDays" => "Review duration (days)",
        "review.reviewers" => "Reviewers",
        "review.recurrence" => "How often",
        _ => "",
    };
    if !fixed.is_empty() {
        return Some(fixed.to_string());
    }
    let (list, rest) = path.split_once('[')?;
    let (index, field) = rest.split_once(']')?;
    let n = index.parse::<usize>().ok()? + 1;
    let field = field.trim_start_matches('.');
    match list {
        "approval.stages" => {
            let what = match field {
                "approvers" => "approvers",
                "fallbackApprovers" => "fallback approvers",
                "decision" => "decision",
                "timeoutDays" => "days before the request expires without a decision",
                "escalation" | "escalation.approvers" => "alternate approvers",
                "escalation.afterDays" => "escalate after (days)",
                _ => return None,
            };
            Some(format!("Stage {n}: {what}"))
        }
        "questions" => {
            let what = match field {
                "text" => "question",
                "kind" => "answer format",
                "options" => "choices",
                _ => return None,
            };
            Some(format!("Question {n}: {what}"))
        }
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn render(
    who: &AdminCaller,
    target: &Target,
    package_name: &str,
    draft: Draft,
    names: &Names,
    hits: &[(String, Vec<PrincipalHit>)],
    extensions: &[(ExtensionId, String, bool)],
    errors: Errors,
) -> PolicyPage {
    let extension_stages = extension_choices(&draft, extensions, &errors);
    let errors = errors.labelled(policy_label);
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
                decision_error: exact(&errors, &at("decision")),
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
        shell: who
            .shell(heading.clone(), Section::Packages)
            .history(&who.caller, target.policy.map(|p| p.0)),
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
        extension_stages,
        errors,
        requestors,
        stages,
        questions,
        reviewers,
        review_fallback,
        d: draft,
    }
}
