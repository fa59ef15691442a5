//! The admin portal at `/t/{slug}/admin`: catalogs and their resources and roles,
//! access packages with the policy editor, assignments, requests, the directory and
//! the audit log. Every handler extracts an `AdminCaller` (a signed-in person with an
//! admin role), calls one service and renders one askama template; what each person
//! sees and may change follows their roles (DOMAIN.md §3), checked by the services.
//! Every form works without JavaScript; htmx (`hx-boost`, live search) only makes it
//! smoother.

mod assignments;
mod catalogs;
mod directory;
mod packages;
mod policy;
mod requests;

use std::collections::BTreeMap;
use std::str::FromStr;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use uuid::Uuid;

use super::session::{AdminCaller, FormData, PageError, PageResult};
use super::shell::{Section, Shell};
use crate::domain::authz::Action;
use crate::domain::{DomainError, FieldErrors};
use crate::paging::PageRequest;
use crate::services::ServiceError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin", get(overview))
        .route("/t/{slug}/admin/", get(overview))
        .merge(catalogs::router())
        .merge(packages::router())
        .merge(policy::router())
        .merge(assignments::router())
        .merge(requests::router())
        .merge(directory::router())
}

// ---------------------------------------------------------------------------------
// Shared helpers of the admin pages

/// Field errors of a form, for the templates.
#[derive(Clone, Debug, Default)]
pub struct Errors(BTreeMap<String, String>);

impl Errors {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// A field path as words: `approval.stages[0].timeoutDays` → "Approval stage 1 timeout days".
    pub fn label(&self, field: &str) -> String {
        field_label(field)
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }
}

impl From<FieldErrors> for Errors {
    fn from(e: FieldErrors) -> Self {
        Self(e.0)
    }
}

/// Turns a field path into words a person reads.
pub fn field_label(field: &str) -> String {
    // Answers are keyed by question id; the message names the question.
    if field.starts_with("answers.") {
        return "Answer".into();
    }
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' | '_' => out.push(' '),
            '[' => {
                let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                let n = digits
                    .parse::<usize>()
                    .map_or(digits.clone(), |n| (n + 1).to_string());
                // "stages[0]" reads "stage 1".
                if out.ends_with('s') {
                    out.pop();
                }
                out.push(' ');
                out.push_str(&n);
            }
            c if c.is_uppercase() => {
                out.push(' ');
                out.extend(c.to_lowercase());
            }
            c => out.push(c),
        }
    }
    let mut words = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(first) = words.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    words
}

/// A coloured status label.
#[derive(Clone, Debug)]
pub struct Badge {
    pub label: String,
    pub tone: &'static str,
}

impl Badge {
    /// The badge of a request, assignment, grant or stage state (by its `as_str`
    /// name), or of another status word.
    pub fn state(state: impl AsRef<str>) -> Self {
        let state = state.as_ref();
        let tone = match state {
            "delivered" | "approved" | "approve" | "active" | "enabled" => "ok",
            "pendingApproval" | "pending" | "submitted" | "scheduled" | "delivering"
            | "partiallyDelivered" => "warn",
            "denied" | "deny" | "deliveryFailed" | "failed" | "disabled" | "deactivated" => "bad",
            _ => "neutral",
        };
        Self {
            label: state_label(state),
            tone,
        }
    }

    pub fn neutral(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            tone: "neutral",
        }
    }
}

/// `pendingApproval` → "Pending approval".
pub fn state_label(state: impl AsRef<str>) -> String {
    field_label(state.as_ref())
}

/// Links to the first and the next page of a list.
#[derive(Clone, Debug, Default)]
pub struct Pager {
    pub first: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `base` is the list's URL with its filters (and `?` or `&` ready for more).
    pub fn new(base: &str, page: &PageRequest, next: Option<Uuid>) -> Self {
        let sep = if base.contains('?') { '&' } else { '?' };
        Self {
            first: page.before.map(|_| base.to_string()),
            next: next.map(|n| format!("{base}{sep}cursor={n}")),
        }
    }
}

/// Query parameters (never refused as a whole: each value is checked where used).
pub struct Params(pub FormData);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(FormData::parse(
            parts.uri.query().unwrap_or_default().as_bytes(),
        )))
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.opt(name)
    }

    /// `?cursor=` of a list page (25 items a page).
    pub fn page(&self) -> Result<PageRequest, PageError> {
        let before = match self.0.opt("cursor") {
            None => None,
            Some(c) => Some(Uuid::parse_str(&c).map_err(|_| {
                PageError::bad_request(
                    "This page link is broken (its cursor is not one a list gave).",
                )
            })?),
        };
        Ok(PageRequest { limit: 25, before })
    }
}

/// An id from the path; a malformed one is a 404 like an unknown one.
pub fn parse_id<T: FromStr>(raw: &str) -> Result<T, PageError> {
    raw.parse().map_err(|_| PageError::not_found())
}

/// A time as people read it.
pub fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn when_opt(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map_or_else(|| "—".to_string(), when)
}

/// A `datetime-local` or `date` input (taken as UTC); "" is `None`.
pub fn parse_when(raw: &str) -> Result<Option<DateTime<Utc>>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, f) {
            return Ok(Some(t.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    Err(format!(
        "'{raw}' is not a date and time such as 2027-01-31T17:00 (UTC)"
    ))
}

/// The value of a `datetime-local` input for a time.
pub fn input_time(t: &Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// Splits a service error into the field errors a form shows again (422) and the
/// errors that become an error page.
pub fn form_errors(e: ServiceError) -> Result<Errors, ServiceError> {
    match e {
        ServiceError::Domain(DomainError::Validation(errors)) => Ok(errors.into()),
        other => Err(other),
    }
}

/// A re-rendered form: 422 with its errors.
pub fn invalid(page: impl IntoResponse) -> Response {
    (axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

// ---------------------------------------------------------------------------------
// Overview

struct Card {
    title: &'static str,
    href: String,
    text: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    shell: Shell,
    name: String,
    cards: Vec<Card>,
    slug: String,
    can_create_catalog: bool,
}

async fn overview(who: AdminCaller) -> PageResult {
    let roles = &who.caller.roles;
    let mut cards = vec![
        Card {
            title: "Catalogs",
            href: who.url("/admin/catalogs"),
            text: "Containers of resources and access packages, with their own owners, readers and managers.",
        },
        Card {
            title: "Access packages",
            href: who.url("/admin/packages"),
            text: "Bundles of resource roles with policies: who may request, who approves, how long access lasts.",
        },
    ];
    if roles.is_tenant_admin() || roles.catalogs().next().is_some() {
        cards.push(Card {
            title: "Requests",
            href: who.url("/admin/requests"),
            text: "Every request with its approval stages and decisions.",
        });
    }
    if roles.allows(Action::ManageDirectory) {
        cards.push(Card {
            title: "Users",
            href: who.url("/admin/users"),
            text: "People of the directory: create, import from CSV, set managers, deactivate.",
        });
        cards.push(Card {
            title: "Groups",
            href: who.url("/admin/groups"),
            text: "Groups with their owners and members, and where each membership came from.",
        });
    }
    if roles.allows(Action::ReadAudit) {
        cards.push(Card {
            title: "Audit log",
            href: who.url("/admin/audit"),
            text: "Every change, who made it and when.",
        });
    }
    Ok(OverviewPage {
        shell: who.shell("Admin", Section::Overview),
        name: who.caller.user.display_name.clone(),
        slug: who.slug().to_string(),
        can_create_catalog: roles.allows(Action::CreateCatalog),
        cards,
    }
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_read_as_words() {
        assert_eq!(
            field_label("approval.stages[0].timeoutDays"),
            "Approval stage 1 timeout days"
        );
        assert_eq!(field_label("displayName"), "Display name");
        assert_eq!(state_label("pendingApproval"), "Pending approval");
    }

    #[test]
    fn form_times_are_utc() {
        let t = parse_when("2027-02-01T10:30")
            .expect("parses")
            .expect("some");
        assert_eq!(when(&t), "2027-02-01 10:30 UTC");
        assert_eq!(parse_when(" "), Ok(None));
        assert!(parse_when("tomorrow").is_err());
    }
}
