//! The audit log with its filters (target, after).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::IntoResponse;
use uuid::Uuid;

use crate::domain::audit::ActorType;
use crate::services::{self};
use crate::state::AppState;
use crate::web::session::{AdminCaller, PageResult, Params};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, Pager, invalid, parse_when, when};

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    target_href: String,
    details: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    shell: Shell,
    base: String,
    target: String,
    after: String,
    errors: Errors,
    rows: Vec<EventRow>,
    pager: Pager,
}

pub(super) async fn audit_log(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> PageResult {
    let page = q.page()?;
    let base = who.url("/admin/audit");
    let target_raw = q.get("target").unwrap_or_default();
    let after_raw = q.get("after").unwrap_or_default();
    let mut errors = Errors::none();
    let target = if target_raw.is_empty() {
        None
    } else {
        match Uuid::parse_str(&target_raw) {
            Ok(t) => Some(t),
            Err(_) => {
                errors.add("target", "enter the id of an object (a UUID)");
                None
            }
        }
    };
    let after = parse_when(&after_raw).unwrap_or_else(|m| {
        errors.add("after", m);
        None
    });
    let mut query = Vec::new();
    if target.is_some() {
        query.push(format!("target={target_raw}"));
    }
    if after.is_some() {
        query.push(format!(
            "after={}",
            url::form_urlencoded::byte_serialize(after_raw.as_bytes()).collect::<String>()
        ));
    }
    let filtered = if query.is_empty() {
        base.clone()
    } else {
        format!("{base}?{}", query.join("&"))
    };
    let p =
        services::views::audit::audit_page(state.pool(), &who.caller, target, after, page).await?;
    let rows = p
        .events
        .items
        .iter()
        .map(|e| EventRow {
            at: when(e.at),
            actor: match (e.actor_type, e.actor_id) {
                (ActorType::System, _) => "Portico".to_string(),
                (ActorType::Directory, _) => "Identity provider (SCIM)".to_string(),
                (ActorType::Token, Some(id)) => format!("{} (API token)", p.names.user(id)),
                (ActorType::User, Some(id)) => p.names.user(id),
                (kind, None) => kind.to_string(),
            },
            action: e.action.to_string(),
            target: match e.target_id {
                Some(t) => format!("{} {t}", e.target_type),
                None => e.target_type.to_string(),
            },
            target_href: e
                .target_id
                .map(|t| format!("{base}?target={t}"))
                .unwrap_or_default(),
            details: serde_json::to_string_pretty(&e.details).unwrap_or_default(),
        })
        .collect();
    let view = AuditPage {
        shell: who.shell("Audit log", Section::Audit),
        pager: Pager::new(&filtered, &page, p.events.next),
        target: target_raw,
        after: after_raw,
        rows,
        base,
        errors: errors.clone(),
    };
    Ok(if errors.is_empty() {
        view.into_response()
    } else {
        invalid(view)
    })
}
