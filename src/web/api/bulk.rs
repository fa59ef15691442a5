//! Bulk work on assignments: `POST /accessPackages/{id}/assignments/bulk` (assign a
//! package to many people: email addresses, a CSV or a group's direct members),
//! `POST /assignments/bulkRemove` and `POST /assignments/bulkExtend`. All or nothing:
//! 200 with every row's result, or 422 with each bad row's error under
//! `rows[<index>].<field>` and nothing written.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiJson, ApiPath};
use crate::domain::ids::{AssignmentId, GroupId, PackageId, PolicyId};
use crate::domain::request::RequestState;
use crate::services;
use crate::services::bulk::{BulkAssignment, BulkOutcome, People};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(bulk_assign))
        .routes(routes!(bulk_remove))
        .routes(routes!(bulk_extend))
}

/// Exactly one of `emails`, `csv` and `groupId` names the people (at most 10,000).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkAssignBody {
    /// The policy to assign under; may be left out when the package has one policy.
    pub policy_id: Option<Uuid>,
    /// Email addresses; an entry may hold several, separated by new lines, commas or
    /// semicolons.
    pub emails: Option<Vec<String>>,
    /// A CSV whose header names an `email` column, with optional `end` and
    /// `justification` columns (a row's own value wins over the body's).
    pub csv: Option<String>,
    /// Every direct member of this group.
    pub group_id: Option<Uuid>,
    pub start_date_time: Option<DateTime<Utc>>,
    pub end_date_time: Option<DateTime<Utc>>,
    pub justification: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkRemoveBody {
    /// 1 to 10,000 assignment ids.
    pub ids: Vec<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkExtendBody {
    /// 1 to 10,000 assignment ids.
    pub ids: Vec<Uuid>,
    /// The new end of each; no later than each assignment's policy allows.
    pub end_date_time: DateTime<Utc>,
}

/// The result of one row.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkRow {
    /// The line of the input (from 1).
    pub row: usize,
    pub email: String,
    pub request_id: Option<Uuid>,
    pub request_state: Option<RequestState>,
    pub assignment_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkResult {
    /// How many rows were carried out (all of them).
    pub done: usize,
    pub rows: Vec<BulkRow>,
}

/// 200 with every row when all were done; otherwise 422 naming each bad row.
fn answer(outcome: BulkOutcome) -> Result<Json<BulkResult>, AppError> {
    if !outcome.done {
        return Err(AppError::validation(outcome.field_errors()));
    }
    let rows: Vec<BulkRow> = outcome
        .rows
        .into_iter()
        .map(|r| BulkRow {
            row: r.row,
            email: r.email,
            request_id: r.request.as_ref().map(|q| q.id.0),
            request_state: r.request.as_ref().map(|q| q.state),
            assignment_id: r
                .request
                .as_ref()
                .and_then(|q| q.assignment_id)
                .or(r.assignment_id)
                .map(|a| a.0),
        })
        .collect();
    Ok(Json(BulkResult {
        done: rows.len(),
        rows,
    }))
}

/// Assign the package to many people at once (`adminAdd` requests), all or nothing.
#[utoipa::path(post, path = "/accessPackages/{id}/assignments/bulk", tag = "assignments",
    params(("id" = Uuid, Path)), request_body = BulkAssignBody,
    responses((status = 200, body = BulkResult), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn bulk_assign(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<PackageId>,
    ApiJson(body): ApiJson<BulkAssignBody>,
) -> Result<Json<BulkResult>, AppError> {
    let people = match (body.emails, body.csv, body.group_id) {
        (Some(emails), None, None) => People::Emails(emails.join("\n")),
        (None, Some(csv), None) => People::Csv(csv),
        (None, None, Some(group)) => People::Group(GroupId(group)),
        _ => {
            return Err(AppError::field(
                "emails",
                "name the people with exactly one of emails, csv and groupId",
            ));
        }
    };
    let input = BulkAssignment {
        policy_id: body.policy_id.map(PolicyId),
        start: body.start_date_time,
        end: body.end_date_time,
        justification: body.justification,
        people,
    };
    answer(services::bulk::assign(state.pool(), &caller, id, input, state.now()).await?)
}

/// Remove many assignments at once (`adminRemove` requests), all or nothing.
#[utoipa::path(post, path = "/assignments/bulkRemove", tag = "assignments", request_body = BulkRemoveBody,
    responses((status = 200, body = BulkResult), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn bulk_remove(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<BulkRemoveBody>,
) -> Result<Json<BulkResult>, AppError> {
    let ids = body.ids.into_iter().map(AssignmentId).collect();
    answer(services::bulk::remove(state.pool(), &caller, ids, state.now()).await?)
}

/// Extend many assignments at once (`adminUpdate` requests) within each one's policy,
/// all or nothing.
#[utoipa::path(post, path = "/assignments/bulkExtend", tag = "assignments", request_body = BulkExtendBody,
    responses((status = 200, body = BulkResult), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn bulk_extend(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<BulkExtendBody>,
) -> Result<Json<BulkResult>, AppError> {
    let ids = body.ids.into_iter().map(AssignmentId).collect();
    answer(
        services::bulk::extend(state.pool(), &caller, ids, body.end_date_time, state.now()).await?,
    )
}
