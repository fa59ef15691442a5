//! The audit log with its filters (actor, action, target type, target, period), its CSV
//! download (the same filters), and each event's actor and target by name.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::domain::audit::ActorType;
use crate::services::audit::FilterInput;
use crate::services::reports::Format;
use crate::services::{self, ServiceError};
use crate::state::AppState;
use crate::web::api::reports::{ChunkBody, headers};
use crate::web::session::{AdminCaller, PageError, PageResult, Params};
use crate::web::shell::{Section, Shell};
use crate::web::view::{Errors, Pager, form_errors, invalid, parse_when, when};

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    target_href: String,
    details: String,
}

/// The filter form as typed.
#[derive(Default)]
struct Typed {
    actor: String,
    action: String,
    target_type: String,
    target: String,
    from: String,
    to: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    shell: Shell,
    base: String,
    typed: Typed,
    actions: Vec<&'static str>,
    target_types: Vec<&'static str>,
    csv_href: String,
    errors: Errors,
    rows: Vec<EventRow>,
    pager: Pager,
}

/// Reads the form: what was typed, the filter, and the problems of the fields this side
/// can check (the rest are the service's).
fn read_filter(q: &Params) -> (Typed, FilterInput, Errors, Vec<(&'static str, String)>) {
    let get = |name: &str| q.get(name).unwrap_or_default().trim().to_string();
    let typed = Typed {
        actor: get("actor"),
        action: get("action"),
        target_type: get("targetType"),
        target: get("target"),
        from: get("from"),
        to: get("to"),
    };
    let mut errors = Errors::none();
    let target = if typed.target.is_empty() {
        None
    } else {
        match Uuid::parse_str(&typed.target) {
            Ok(t) => Some(t),
            Err(_) => {
                errors.add("target", "enter the id of an object (a UUID)");
                None
            }
        }
    };
    let mut time = |field: &str, raw: &str| {
        parse_when(raw).unwrap_or_else(|m| {
            errors.add(field, m);
            None
        })
    };
    let from = time("from", &typed.from);
    let to = time("to", &typed.to);
    let after = time("after", &get("after"));
    let mut query = Vec::new();
    for (name, value) in [
        ("actor", &typed.actor),
        ("action", &typed.action),
        ("targetType", &typed.target_type),
        ("target", &typed.target),
        ("from", &typed.from),
        ("to", &typed.to),
    ] {
        if !value.is_empty() {
            query.push((name, value.clone()));
        }
    }
    let opt = |s: &String| (!s.is_empty()).then(|| s.clone());
    let input = FilterInput {
        actor: opt(&typed.actor),
        action: opt(&typed.action),
        target_type: opt(&typed.target_type),
        target,
        from,
        to,
        after,
    };
    (typed, input, errors, query)
}

fn query_string(query: &[(&str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        s.append_pair(k, v);
    }
    s.finish()
}

pub(super) async fn audit_log(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> PageResult {
    let page = q.page()?;
    let base = who.url("/admin/audit");
    let (typed, input, mut errors, query) = read_filter(&q);
    let qs = query_string(&query);
    let filtered = if qs.is_empty() {
        base.clone()
    } else {
        format!("{base}?{qs}")
    };
    let events = if errors.is_empty() {
        match services::views::audit::audit_page(state.pool(), &who.caller, &input, page).await {
            Ok(p) => Some(p),
            Err(e) => {
                errors = form_errors(e)?;
                None
            }
        }
    } else {
        None
    };
    let (rows, next) = match events {
        Some(p) => (
            p.events
                .items
                .iter()
                .map(|e| row(&base, e))
                .collect::<Vec<_>>(),
            p.events.next,
        ),
        None => (Vec::new(), None),
    };
    let view = AuditPage {
        shell: who.shell("Audit log", Section::Audit),
        pager: Pager::new(&filtered, &page, next),
        csv_href: if qs.is_empty() {
            format!("{base}.csv")
        } else {
            format!("{base}.csv?{qs}")
        },
        actions: services::audit::actions().collect(),
        target_types: services::audit::target_types().collect(),
        typed,
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

fn row(base: &str, e: &services::views::audit::Event) -> EventRow {
    let person = || {
        e.actor_name
            .clone()
            .unwrap_or_else(|| "a deleted person".into())
    };
    EventRow {
        at: when(e.at),
        actor: match e.actor_type {
            ActorType::System => "Portico".to_string(),
            ActorType::Directory => "Identity provider (SCIM)".to_string(),
            ActorType::Token => format!("{} (API token)", person()),
            ActorType::User => person(),
        },
        action: e.action.to_string(),
        target: match (&e.target_name, e.target_id) {
            (Some(name), _) => format!("{} {name}", e.target_type),
            (None, Some(t)) => format!("{} {t}", e.target_type),
            (None, None) => e.target_type.to_string(),
        },
        target_href: e
            .target_id
            .map(|t| format!("{base}?target={t}"))
            .unwrap_or_default(),
        details: serde_json::to_string_pretty(&e.details).unwrap_or_default(),
    }
}

/// The filtered log as a CSV download, streamed; bad filters re-render the page.
pub(super) async fn audit_csv(
    State(state): State<AppState>,
    who: AdminCaller,
    q: Params,
) -> Result<Response, PageError> {
    let (_, input, errors, _) = read_filter(&q);
    if !errors.is_empty() {
        return audit_log(State(state), who, q).await;
    }
    match services::audit::export(state.pool(), &who.caller, &input, Format::Csv).await {
        Ok(stream) => Ok((
            headers(Format::Csv, "audit"),
            Body::new(ChunkBody(stream.chunks)),
        )
            .into_response()),
        Err(ServiceError::Domain(crate::domain::DomainError::Validation(_))) => {
            audit_log(State(state), who, q).await
        }
        Err(e) => Err(e.into()),
    }
}
