//! `/reports`: what auditors ask for, as CSV (`?format=csv` or `Accept: text/csv`) or
//! JSON. The assignments report is streamed as it is read, whatever its size.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use http_body::Frame;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiPath, ApiQuery};
use crate::domain::assignment::AssignmentState;
use crate::domain::ids::{CatalogId, PackageId, UserId};
use crate::services;
use crate::services::reports::Format;
use crate::services::reports::{AssignmentFilter, Source};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(assignments_report))
        .routes(routes!(conflicts_report))
        .routes(routes!(reviews_report))
        .routes(routes!(person_access_report))
}

/// One row of the assignments report (every value a string, or null).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentReportRow {
    pub assignment_id: String,
    pub catalog: String,
    pub access_package: String,
    pub user_email: String,
    pub user_display_name: String,
    pub state: String,
    pub start_date_time: String,
    pub end_date_time: Option<String>,
    pub created_at: String,
    pub request_id: String,
    pub request_type: Option<String>,
    /// The email of who asked (the person, or the admin who assigned).
    pub requested_by: Option<String>,
    /// The emails of the approvers who approved, in the order they did, `; ` between.
    pub approved_by: Option<String>,
    pub decided_at: Option<String>,
    pub removal_reason: Option<String>,
    pub ended_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AssignmentReport {
    pub items: Vec<AssignmentReportRow>,
}

/// One thing a person can access, and why.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessReportRow {
    /// `assignment`, `groupMembership` or `role`.
    pub kind: String,
    pub name: String,
    /// Where it comes from: the request, `direct`, `directory`, an assignment, a group.
    pub via: String,
    pub state: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub request_id: Option<String>,
    pub requested_by: Option<String>,
    pub approved_by: Option<String>,
    pub decided_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccessReport {
    pub items: Vec<AccessReportRow>,
}

#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Csv,
    Json,
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AssignmentReportQuery {
    pub catalog_id: Option<Uuid>,
    pub access_package_id: Option<Uuid>,
    pub target_user_id: Option<Uuid>,
    pub state: Option<AssignmentState>,
    /// Only assignments whose end is before this time.
    pub ending_before: Option<DateTime<Utc>>,
    /// `csv` or `json`; without it, `Accept: text/csv` asks for CSV.
    pub format: Option<ReportFormat>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `csv` or `json`; without it, `Accept: text/csv` asks for CSV.
    pub format: Option<ReportFormat>,
}

pub(crate) fn format_of(asked: Option<ReportFormat>, headers: &HeaderMap) -> Format {
    match asked {
        Some(ReportFormat::Csv) => Format::Csv,
        Some(ReportFormat::Json) => Format::Json,
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if accept.contains("text/csv") {
                Format::Csv
            } else {
                Format::Json
            }
        }
    }
}

/// The chunks of a report as a response body; a failed read ends the body with an
/// error, so the answer is cut off and never looks complete.
pub(crate) struct ChunkBody(pub(crate) mpsc::Receiver<Result<Vec<u8>, String>>);

impl http_body::Body for ChunkBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|chunk| {
            chunk.map(|c| {
                c.map(|bytes| Frame::data(Bytes::from(bytes)))
                    .map_err(std::io::Error::other)
            })
        })
    }
}

pub(crate) fn headers(format: Format, stem: &str) -> [(header::HeaderName, HeaderValue); 3] {
    let today = Utc::now().format("%Y-%m-%d");
    let disposition = format!(
        "attachment; filename=\"{stem}-{today}.{}\"",
        format.extension()
    );
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition)
                .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// Every assignment the caller may see, filtered, with who asked and who approved.
#[utoipa::path(get, path = "/reports/assignments", tag = "reports", params(AssignmentReportQuery),
    responses(
        (status = 200, description = "The report, streamed", content(
            (AssignmentReport = "application/json"),
            (String = "text/csv"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn assignments_report(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    request_headers: HeaderMap,
    ApiQuery(q): ApiQuery<AssignmentReportQuery>,
) -> Result<Response, AppError> {
    let format = format_of(q.format, &request_headers);
    let filter = AssignmentFilter {
        catalog: q.catalog_id.map(CatalogId),
        package: q.access_package_id.map(PackageId),
        user: q.target_user_id.map(UserId),
        state: q.state,
        ending_before: q.ending_before,
        catalogs: None,
    };
    streamed(
        &state,
        &caller,
        Source::Assignments(filter),
        format,
        "assignments",
    )
    .await
}

async fn streamed(
    state: &AppState,
    caller: &crate::services::Caller,
    source: Source,
    format: Format,
    stem: &str,
) -> Result<Response, AppError> {
    let stream = services::reports::report(state.pool(), caller, source, format).await?;
    Ok((
        headers(stream.format, stem),
        Body::new(ChunkBody(stream.chunks)),
    )
        .into_response())
}

/// One row of the separation-of-duties report.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConflictReportRow {
    pub user_email: String,
    pub user_display_name: String,
    pub catalog: String,
    /// The package that names the other as incompatible.
    pub access_package: String,
    /// `accessPackage` or `group`.
    pub conflict_kind: String,
    pub conflicts_with: String,
    pub assignment_id: String,
    pub since: String,
    /// The assignment of the other package (null for a group).
    pub other_assignment_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConflictReport {
    pub items: Vec<ConflictReportRow>,
}

/// People who hold, now, an access package together with a package or group that
/// package declares incompatible (separation of duties).
#[utoipa::path(get, path = "/reports/conflicts", tag = "reports", params(FormatQuery),
    responses(
        (status = 200, description = "The report, streamed", content(
            (ConflictReport = "application/json"),
            (String = "text/csv"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn conflicts_report(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    request_headers: HeaderMap,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> Result<Response, AppError> {
    let format = format_of(q.format, &request_headers);
    let source = Source::Conflicts { catalogs: None };
    streamed(&state, &caller, source, format, "conflicts").await
}

/// One decision of an access review.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewReportRow {
    pub access_review_id: String,
    pub catalog: String,
    pub access_package: String,
    pub review_start: String,
    pub review_end: String,
    pub review_state: String,
    pub user_email: String,
    pub user_display_name: String,
    /// The reviewers' emails, `; ` between.
    pub reviewers: Option<String>,
    pub recommendation: Option<String>,
    pub decision: Option<String>,
    pub justification: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub applied_result: Option<String>,
    pub assignment_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewReport {
    pub items: Vec<ReviewReportRow>,
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ReviewReportQuery {
    pub access_package_id: Option<Uuid>,
    /// `csv` or `json`; without it, `Accept: text/csv` asks for CSV.
    pub format: Option<ReportFormat>,
}

/// Every item of every access review with its recommendation, decision, who decided
/// and what was applied.
#[utoipa::path(get, path = "/reports/accessReviews", tag = "reports", params(ReviewReportQuery),
    responses(
        (status = 200, description = "The report, streamed", content(
            (ReviewReport = "application/json"),
            (String = "text/csv"))),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn reviews_report(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    request_headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReviewReportQuery>,
) -> Result<Response, AppError> {
    let format = format_of(q.format, &request_headers);
    let source = Source::Reviews {
        package: q.access_package_id.map(PackageId),
        catalogs: None,
    };
    streamed(&state, &caller, source, format, "access-reviews").await
}

/// What one person can access now and why: assignments with their request and
/// approvers, group memberships with each source, roles (tenant admins).
#[utoipa::path(get, path = "/reports/users/{id}/access", tag = "reports",
    params(("id" = Uuid, Path), FormatQuery),
    responses(
        (status = 200, description = "The report", content(
            (AccessReport = "application/json"),
            (String = "text/csv"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn person_access_report(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<UserId>,
    request_headers: HeaderMap,
    ApiQuery(q): ApiQuery<FormatQuery>,
) -> Result<Response, AppError> {
    let format = format_of(q.format, &request_headers);
    let (_, body) = services::reports::person_access(state.pool(), &caller, id, format).await?;
    Ok((headers(format, "access"), body).into_response())
}
