//! `/auditEvents`: the tenant's append-only audit log, filtered by actor, action,
//! target and time; `/reports/audit`: the same log as a streamed CSV or JSON report.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::reports::{ChunkBody, ReportFormat, format_of, headers};
use super::{ApiQuery, List, Pagination};
use crate::model::audit::AuditEvent as Row;
use crate::services;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_events))
        .routes(routes!(audit_report))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(rename = "type")]
    #[schema(value_type = crate::domain::audit::ActorType)]
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
    /// The person's name and email when the event was written (null for Portico itself
    /// and the identity provider).
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    #[schema(value_type = crate::domain::audit::TargetType)]
    pub target_type: String,
    pub target_id: Option<Uuid>,
    /// The target's name when the event was written (kept after it is deleted).
    pub target_name: Option<String>,
    pub details: serde_json::Value,
    pub correlation_id: Option<Uuid>,
}

impl From<Row> for AuditEvent {
    fn from(e: Row) -> Self {
        Self {
            id: e.id.0,
            at: e.at,
            actor: Actor {
                kind: e.actor_type.to_string(),
                user_id: e.actor_id,
                token_id: e.actor_token_id,
                name: e.actor_name,
            },
            action: e.action.to_string(),
            target_type: e.target_type.to_string(),
            target_id: e.target_id,
            target_name: e.target_name,
            details: e.details,
            correlation_id: e.correlation_id,
        }
    }
}

crate::list_schema!(AuditEventList, AuditEvent);

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only events of this person (email or user id), in person or through a token.
    pub actor: Option<String>,
    /// Only events of this action, e.g. `accessPackage.deleted`.
    pub action: Option<String>,
    /// Only events about this kind of object.
    #[param(value_type = Option<crate::domain::audit::TargetType>)]
    pub target_type: Option<String>,
    /// Only events about this object.
    pub target_id: Option<Uuid>,
    /// Only events at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only events after this time (RFC 3339).
    pub after: Option<DateTime<Utc>>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// A filter named in the query has a value: `?targetType=` is a mistake, not "any".
fn no_blank(filters: [(&str, &Option<String>); 3]) -> Result<(), AppError> {
    for (name, value) in filters {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(
                services::ServiceError::from(crate::domain::DomainError::field(
                    name,
                    "give a value, or leave this filter out",
                ))
                .into(),
            );
        }
    }
    Ok(())
}

fn input(q: &AuditQuery) -> services::audit::FilterInput {
    services::audit::FilterInput {
        actor: q.actor.clone(),
        action: q.action.clone(),
        target_type: q.target_type.clone(),
        target: q.target_id,
        from: q.from,
        to: q.to,
        after: q.after,
    }
}

/// The audit log, newest first (tenant admins).
#[utoipa::path(get, path = "/auditEvents", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditEventList), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
async fn list_audit_events(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<List<AuditEvent>, AppError> {
    let page = Pagination {
        limit: q.limit.clone(),
        cursor: q.cursor.clone(),
    }
    .page()?;
    no_blank([
        ("actor", &q.actor),
        ("action", &q.action),
        ("targetType", &q.target_type),
    ])?;
    let events = services::audit::list(state.pool(), &caller, &input(&q), page).await?;
    Ok(List::from_page(events, AuditEvent::from))
}

/// One event of the audit report (every value a string, or null).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditReportRow {
    pub id: String,
    pub at: String,
    pub actor_type: String,
    /// The person's name and email when the event was written.
    pub actor: Option<String>,
    pub actor_id: Option<String>,
    pub actor_token_id: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// The target's name when the event was written.
    pub target: Option<String>,
    /// The event's details as JSON text.
    pub details: String,
    pub correlation_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditReport {
    pub items: Vec<AuditReportRow>,
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AuditReportQuery {
    /// Only events of this person (email or user id).
    pub actor: Option<String>,
    /// Only events of this action.
    pub action: Option<String>,
    #[param(value_type = Option<crate::domain::audit::TargetType>)]
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    /// Only events at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// `csv` or `json`; without it, `Accept: text/csv` asks for CSV.
    pub format: Option<ReportFormat>,
}

/// The audit log matching the filters, oldest first, streamed whatever its size, with
/// the names of actors and targets (tenant admins).
#[utoipa::path(get, path = "/reports/audit", tag = "reports", params(AuditReportQuery),
    responses(
        (status = 200, description = "The report, streamed", content(
            (AuditReport = "application/json"),
            (String = "text/csv"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn audit_report(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    request_headers: HeaderMap,
    ApiQuery(q): ApiQuery<AuditReportQuery>,
) -> Result<Response, AppError> {
    no_blank([
        ("actor", &q.actor),
        ("action", &q.action),
        ("targetType", &q.target_type),
    ])?;
    let format = format_of(q.format, &request_headers);
    let input = services::audit::FilterInput {
        actor: q.actor,
        action: q.action,
        target_type: q.target_type,
        target: q.target_id,
        from: q.from,
        to: q.to,
        after: None,
    };
    let stream = services::audit::export(state.pool(), &caller, &input, format).await?;
    Ok((
        headers(stream.format, "audit"),
        Body::new(ChunkBody(stream.chunks)),
    )
        .into_response())
}
