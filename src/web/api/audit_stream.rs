//! `/tenant/auditStream`: the tenant's audit log streamed to its SIEM. The signing
//! secret is write-only: answers say whether it is set, and show it once when Portico
//! generated it.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiJson;
use crate::services::{self, audit_stream::StreamInput, audit_stream::StreamView};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_audit_stream, put_audit_stream))
}

/// The tenant's audit stream: where its audit events are POSTed (signed batches
/// `{tenant, events}`, in order, at least once) and how delivery goes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditStream {
    pub url: Option<String>,
    pub enabled: bool,
    pub secret_set: bool,
    /// The signing secret, only in the answer that generated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Failed attempts since the last delivery.
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_delivered_at: Option<DateTime<Utc>>,
    pub delivered_events: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The stream's settings; a left-out secret is kept (or, for a new stream, generated
/// and returned once as `secret`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditStreamBody {
    #[schema(example = "https://siem.example.com/portico")]
    pub url: String,
    pub enabled: bool,
    /// At least 24 characters; `whsec_<base64>` is decoded as the HMAC key.
    pub secret: Option<String>,
}

fn answer(v: Option<StreamView>, secret: Option<String>) -> AuditStream {
    match v {
        None => AuditStream {
            url: None,
            enabled: false,
            secret_set: false,
            secret: None,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            last_delivered_at: None,
            delivered_events: 0,
            updated_at: None,
        },
        Some(v) => AuditStream {
            url: Some(v.url),
            enabled: v.enabled,
            secret_set: v.secret_set,
            secret,
            attempts: v.attempts,
            next_attempt_at: Some(v.next_attempt_at),
            last_error: v.last_error,
            last_delivered_at: v.last_delivered_at,
            delivered_events: v.delivered_events,
            updated_at: Some(v.updated_at),
        },
    }
}

/// The tenant's audit stream and how its delivery goes (tenant admins).
#[utoipa::path(get, path = "/tenant/auditStream", tag = "tenant",
    responses((status = 200, body = AuditStream), (status = 403, body = Problem)))]
async fn get_audit_stream(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<AuditStream>, AppError> {
    let view = services::audit_stream::get(state.pool(), &caller).await?;
    Ok(Json(answer(view, None)))
}

/// Sets up or changes the tenant's audit stream (tenant admins); 422 names every bad
/// field.
#[utoipa::path(put, path = "/tenant/auditStream", tag = "tenant", request_body = AuditStreamBody,
    responses((status = 200, body = AuditStream), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn put_audit_stream(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<AuditStreamBody>,
) -> Result<Json<AuditStream>, AppError> {
    let saved = services::audit_stream::put(
        state.pool(),
        state.keys(),
        state.http(),
        &caller,
        StreamInput {
            url: body.url,
            enabled: body.enabled,
            secret: body.secret,
        },
        state.now(),
    )
    .await?;
    Ok(Json(answer(Some(saved.stream), saved.generated_secret)))
}
