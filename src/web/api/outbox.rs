//! `/outbox`: the tenant's queued and finished deliveries (emails, connector calls),
//! so admins can see what failed for good and why (tenant admins).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiQuery, List, Pagination};
use crate::domain::outbox::{OutboxKind, OutboxState};
use crate::model::outbox::OutboxRow;
use crate::services;
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_outbox))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    pub id: Uuid,
    pub kind: OutboxKind,
    pub state: OutboxState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The user an email is addressed to (null for connector calls).
    pub recipient_id: Option<Uuid>,
}

impl From<OutboxRow> for OutboxItem {
    fn from(r: OutboxRow) -> Self {
        let recipient_id = if r.kind == OutboxKind::Email {
            r.payload
                .get("to")
                .and_then(|v| v.as_str())
                .and_then(|s| Uuid::parse_str(s).ok())
        } else {
            None
        };
        Self {
            id: r.id.0,
            kind: r.kind,
            state: r.state,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            completed_at: r.completed_at,
            recipient_id,
        }
    }
}

crate::list_schema!(OutboxList, OutboxItem);

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct OutboxQuery {
    #[param(value_type = Option<OutboxState>)]
    pub state: Option<String>,
    #[param(value_type = Option<OutboxKind>)]
    pub kind: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// Deliveries of the tenant, newest first (tenant admins); `?state=failed` lists the
/// permanent failures with their last error.
#[utoipa::path(get, path = "/outbox", tag = "outbox", params(OutboxQuery),
    responses((status = 200, body = OutboxList), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_outbox(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> Result<List<OutboxItem>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let rows = services::outbox::list(
        state.pool(),
        &caller,
        q.state.as_deref(),
        q.kind.as_deref(),
        page,
    )
    .await?;
    Ok(List::from_page(rows, OutboxItem::from))
}
