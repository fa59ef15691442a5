//! The admin portal at `/t/{slug}/admin`: catalogs and their resources and roles,
//! access packages with the policy editor, assignments, requests, access reviews, the
//! directory, the audit log, the tenant's settings and roles, and failed deliveries. Every handler extracts an `AdminCaller` (a signed-in person with an
//! admin role), calls one service and renders one askama template; what each person
//! sees and may change follows their roles (DOMAIN.md §3), checked by the services.
//! Every form works without JavaScript; htmx (`hx-boost`, live search) only makes it
//! smoother.

mod assignments;
mod bulk;
mod catalogs;
mod chat;
mod config;
mod confirm;
mod directory;
mod outbox;
mod packages;
mod policy;
mod reports;
mod requests;
mod reviews;
mod sign_in;
mod tenant;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;

use super::session::{AdminCaller, PageResult};
use super::shell::{Section, Shell};
use crate::domain::authz::Action;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{slug}/admin", get(overview))
        .route("/t/{slug}/admin/", get(overview))
        .merge(catalogs::router())
        .merge(packages::router())
        .merge(policy::router())
        .merge(assignments::router())
        .merge(bulk::router())
        .merge(requests::router())
        .merge(reviews::router())
        .merge(directory::router())
        .merge(outbox::router())
        .merge(reports::router())
        .merge(tenant::router())
        .merge(sign_in::router())
        .merge(chat::router())
        .merge(config::router())
}

// ---------------------------------------------------------------------------------
// Overview

struct Card {
    title: &'static str,
    href: String,
    text: &'static str,
}

/// One count of what needs attention, with where to act on it.
struct Attention {
    count: i64,
    text: String,
    href: String,
    /// Shown as a warning when the count is not zero.
    warn: bool,
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    shell: Shell,
    name: String,
    cards: Vec<Card>,
    attention: Vec<Attention>,
    slug: String,
    can_create_catalog: bool,
}

async fn overview(State(state): State<AppState>, who: AdminCaller) -> PageResult {
    let roles = &who.caller.roles;
    let counts =
        crate::services::views::overview::attention(state.pool(), &who.caller, state.now()).await?;
    let mut attention = Vec::new();
    if roles.is_tenant_admin() || roles.catalogs().next().is_some() {
        let days = crate::services::views::overview::OLD_REQUEST_DAYS;
        attention.push(Attention {
            count: counts.old_requests,
            text: format!(
                "{} waiting for approval for more than {days} days",
                plural(counts.old_requests, "request", "requests")
            ),
            href: who.url("/admin/requests?state=pendingApproval"),
            warn: true,
        });
        attention.push(Attention {
            count: counts.ending_this_week,
            text: format!(
                "{} ending in the next seven days",
                plural(counts.ending_this_week, "assignment", "assignments")
            ),
            href: who.url("/admin/reports"),
            warn: false,
        });
        let done = if counts.review_items == 0 {
            String::new()
        } else {
            format!(
                ": {} of {} items decided ({}%)",
                counts.review_items_decided,
                counts.review_items,
                counts.review_items_decided * 100 / counts.review_items
            )
        };
        attention.push(Attention {
            count: counts.reviews_in_progress,
            text: format!(
                "{} in progress{done}",
                plural(
                    counts.reviews_in_progress,
                    "access review",
                    "access reviews"
                )
            ),
            href: who.url("/admin/reviews"),
            warn: false,
        });
    }
    if roles.is_tenant_admin() {
        attention.push(Attention {
            count: counts.failed_deliveries,
            text: format!(
                "{} failed for good",
                plural(counts.failed_deliveries, "delivery", "deliveries")
            ),
            href: who.url("/admin/outbox?state=failed"),
            warn: true,
        });
        attention.push(Attention {
            count: counts.connectors_in_error,
            text: format!(
                "{} with a failed call",
                plural(counts.connectors_in_error, "connector", "connectors")
            ),
            href: who.url("/admin/outbox?state=failed"),
            warn: true,
        });
    }
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
        cards.push(Card {
            title: "Access reviews",
            href: who.url("/admin/reviews"),
            text: "Reviews of who holds each package: progress by reviewer, results, reminders.",
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
        cards.push(Card {
            title: "Sign-in and directory",
            href: who.url("/admin/sign-in"),
            text: "Sign-in with your identity provider, and the SCIM tokens it uses to push your directory.",
        });
        cards.push(Card {
            title: "Slack and Teams",
            href: who.url("/admin/chat"),
            text: "Approvers decide in Slack direct messages or from Teams cards: the Slack app and the Teams webhook.",
        });
    }
    if roles.is_tenant_admin() {
        cards.push(Card {
            title: "Tenant settings",
            href: who.url("/admin/settings"),
            text: "The organisation's name, the Reply-To of emails, sign-in for emailed approval links.",
        });
        cards.push(Card {
            title: "Tenant roles",
            href: who.url("/admin/roles"),
            text: "Who is a tenant admin or a catalog creator: grant and revoke.",
        });
        cards.push(Card {
            title: "Deliveries",
            href: who.url("/admin/outbox"),
            text: "Emails and connector calls that failed for good, with their errors; reprocess them.",
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
        attention,
    }
    .into_response())
}
