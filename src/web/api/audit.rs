//! `/auditEvents`: the tenant's append-only audit log.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiQuery, List, Pagination};
use crate::model::audit::AuditEvent as Row;
use crate::services;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(rename = "type")]
    #[schema(value_type = crate::domain::audit::ActorType)]
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
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
            },
            action: e.action.to_string(),
            target_type: e.target_type.to_string(),
            target_id: e.target_id,
            details: e.details,
            correlation_id: e.correlation_id,
        }
    }
}

crate::list_schema!(AuditEventList, AuditEvent);

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AuditQuery {
    /// Only events about this object.
    pub target_id: Option<Uuid>,
    /// Only events after this time (RFC 3339).
    pub after: Option<DateTime<Utc>>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// The audit log, newest first (tenant admins).
#[utoipa::path(get, path = "/auditEvents", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditEventList), (status = 403, body = Problem)))]
async fn list_audit_events(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<List<AuditEvent>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let events = services::audit::list(state.pool(), &caller, q.target_id, q.after, page).await?;
    Ok(List::from_page(events, AuditEvent::from))
}
