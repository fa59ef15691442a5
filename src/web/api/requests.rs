//! `/assignmentRequests` and `/approvals`: requesting access and deciding on it.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{ApiJson, ApiPath, ApiQuery, Created, List, Pagination};
use crate::domain::ids::{AssignmentId, PackageId, PolicyId, RequestId, UserId};
use crate::domain::policy::DecisionRule;
use crate::domain::request::{
    Answer, AnswerInput, Decision as DomainDecision, RequestState, RequestType, StageState,
};
use crate::services;
use crate::services::requests::{ApprovalView, RequestInput, RequestView};
use crate::state::AppState;
use crate::web::auth::ApiCaller;
use crate::web::error::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests, submit_request))
        .routes(routes!(submit_batch))
        .routes(routes!(get_request))
        .routes(routes!(cancel_request))
        .routes(routes!(decide_request))
        .routes(routes!(list_approvals))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRep {
    pub approver_id: Uuid,
    pub decision: DomainDecision,
    pub justification: Option<String>,
    pub decided_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageRep {
    pub index: i32,
    pub state: StageState,
    pub decision_rule: DecisionRule,
    pub approver_ids: Vec<Uuid>,
    /// Of `approverIds`, the alternates an escalation added to an `all` stage: one
    /// alternate's approval stands in for every approver who has not decided.
    pub alternate_approver_ids: Vec<Uuid>,
    pub decisions: Vec<DecisionRep>,
    pub require_justification: bool,
    pub opened_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub escalate_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// null means now.
    pub start_date_time: Option<DateTime<Utc>>,
    /// null means as the policy says.
    pub end_date_time: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnswerRep {
    pub question_id: Uuid,
    pub question: String,
    pub value: String,
}

impl From<Answer> for AnswerRep {
    fn from(a: Answer) -> Self {
        Self {
            question_id: a.question_id,
            question: a.question,
            value: a.value,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub id: Uuid,
    pub request_type: RequestType,
    pub state: RequestState,
    pub access_package_id: Uuid,
    pub policy_id: Uuid,
    pub requestor_id: Option<Uuid>,
    pub target_user_id: Uuid,
    pub justification: Option<String>,
    pub answers: Vec<AnswerRep>,
    pub schedule: Schedule,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub assignment_id: Option<Uuid>,
    pub stages: Vec<StageRep>,
}

impl From<RequestView> for Request {
    fn from(v: RequestView) -> Self {
        let r = v.request;
        Self {
            id: r.id.0,
            request_type: r.request_type,
            state: r.state,
            access_package_id: r.package_id.0,
            policy_id: r.policy_id.0,
            requestor_id: r.requestor_id.map(|u| u.0),
            target_user_id: r.target_user_id.0,
            justification: r.justification,
            answers: r.answers.0.into_iter().map(AnswerRep::from).collect(),
            schedule: Schedule {
                start_date_time: r.schedule_start,
                end_date_time: r.schedule_end,
            },
            created_at: r.created_at,
            completed_at: r.completed_at,
            assignment_id: r.assignment_id.map(|a| a.0),
            stages: v
                .stages
                .into_iter()
                .map(|s| StageRep {
                    index: s.stage.stage_index,
                    state: s.stage.state,
                    decision_rule: s.stage.decision_rule,
                    approver_ids: s.stage.approver_ids,
                    alternate_approver_ids: s.stage.alternate_ids,
                    decisions: s
                        .decisions
                        .into_iter()
                        .map(|d| DecisionRep {
                            approver_id: d.approver_id.0,
                            decision: d.decision,
                            justification: d.justification,
                            decided_at: d.decided_at,
                        })
                        .collect(),
                    require_justification: s.stage.require_justification,
                    opened_at: s.stage.opened_at,
                    due_at: s.stage.due_at,
                    escalate_at: s.stage.escalate_at,
                    completed_at: s.stage.completed_at,
                })
                .collect(),
        }
    }
}

crate::list_schema!(RequestList, Request);

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnswerBody {
    pub question_id: Uuid,
    pub value: String,
}

/// The request types a caller may submit (the system types are the scheduler's).
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SubmittableRequestType {
    UserAdd,
    UserUpdate,
    UserRemove,
    AdminAdd,
    AdminUpdate,
    AdminRemove,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestBody {
    /// User types act for the caller; admin types for `targetUserId`.
    #[schema(value_type = SubmittableRequestType)]
    pub request_type: RequestType,
    pub access_package_id: Option<Uuid>,
    /// Optional when exactly one policy applies.
    pub policy_id: Option<Uuid>,
    /// For admin request types.
    pub target_user_id: Option<Uuid>,
    /// For update and remove types.
    pub assignment_id: Option<Uuid>,
    pub justification: Option<String>,
    #[serde(default)]
    pub answers: Vec<AnswerBody>,
    pub schedule: Option<Schedule>,
}

impl From<RequestBody> for RequestInput {
    fn from(body: RequestBody) -> Self {
        let schedule = body.schedule.unwrap_or_default();
        Self {
            request_type: body.request_type,
            access_package_id: body.access_package_id.map(PackageId),
            policy_id: body.policy_id.map(PolicyId),
            target_user_id: body.target_user_id.map(UserId),
            assignment_id: body.assignment_id.map(AssignmentId),
            justification: body.justification,
            answers: body
                .answers
                .into_iter()
                .map(|a| AnswerInput {
                    question_id: a.question_id,
                    value: a.value,
                })
                .collect(),
            start: schedule.start_date_time,
            end: schedule.end_date_time,
        }
    }
}

/// Most requests one batch may hold.
pub const MAX_BATCH: usize = 1_000;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchBody {
    /// 1 to 1,000 requests, each as `POST /assignmentRequests` takes it.
    #[schema(min_items = 1, max_items = 1000)]
    pub items: Vec<RequestBody>,
}

/// What became of one request of a batch: 201 with the request, or the error it got.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem {
    /// Its position in the batch (from 0).
    pub index: usize,
    pub status: u16,
    pub request: Option<Request>,
    pub problem: Option<Problem>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    pub created: usize,
    pub failed: usize,
    pub items: Vec<BatchItem>,
}

/// Submit up to 1,000 requests at once (e.g. assign a package to many people). Each is
/// submitted on its own, exactly as `POST /assignmentRequests` would (its own
/// transaction, rules and audit), so one refused request leaves the others done; the
/// answer gives each one's status.
#[utoipa::path(post, path = "/assignmentRequests/batch", tag = "requests", request_body = BatchBody,
    responses((status = 200, body = BatchResult), (status = 422, body = Problem)))]
async fn submit_batch(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Json<BatchResult>, AppError> {
    if body.items.is_empty() || body.items.len() > MAX_BATCH {
        return Err(AppError::field(
            "items",
            format!(
                "a batch holds 1 to {MAX_BATCH} requests; this one has {}",
                body.items.len()
            ),
        ));
    }
    let mut items = Vec::with_capacity(body.items.len());
    for (index, item) in body.items.into_iter().enumerate() {
        let submitted =
            services::requests::submit(state.pool(), &caller, item.into(), state.now()).await;
        items.push(match submitted {
            Ok(view) => BatchItem {
                index,
                status: 201,
                request: Some(view.into()),
                problem: None,
            },
            Err(e) => {
                let e = AppError::from(e);
                let problem = Problem::from_error(&e);
                if problem.status_code().is_server_error() {
                    tracing::error!(error = %e, index, "a request of a batch failed");
                }
                BatchItem {
                    index,
                    status: problem.status,
                    request: None,
                    problem: Some(problem),
                }
            }
        });
    }
    let created = items.iter().filter(|i| i.status == 201).count();
    Ok(Json(BatchResult {
        created,
        failed: items.len() - created,
        items,
    }))
}

/// Submit a request: userAdd/userUpdate/userRemove for yourself, admin types for others.
#[utoipa::path(post, path = "/assignmentRequests", tag = "requests", request_body = RequestBody,
    responses((status = 201, body = Request), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn submit_request(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<Created<Request>, AppError> {
    let input = RequestInput::from(body);
    let view = services::requests::submit(state.pool(), &caller, input, state.now()).await?;
    Ok(Created(view.into()))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RequestQuery {
    /// Only requests where the caller is the requestor or the target.
    pub mine: Option<bool>,
    pub access_package_id: Option<Uuid>,
    pub target_user_id: Option<Uuid>,
    #[param(value_type = Option<RequestState>)]
    pub state: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// Requests the caller may see, newest first.
#[utoipa::path(get, path = "/assignmentRequests", tag = "requests", params(RequestQuery),
    responses((status = 200, body = RequestList), (status = 422, body = Problem)))]
async fn list_requests(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<RequestQuery>,
) -> Result<List<Request>, AppError> {
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let query = services::requests::ListQuery {
        mine: q.mine.unwrap_or(false),
        package: q.access_package_id.map(PackageId),
        target: q.target_user_id.map(UserId),
        state: q.state.as_deref(),
    };
    let page = services::requests::list(state.pool(), &caller, query, page).await?;
    Ok(List::from_page(page, Request::from))
}

#[utoipa::path(get, path = "/assignmentRequests/{id}", tag = "requests", params(("id" = Uuid, Path)),
    responses((status = 200, body = Request), (status = 404, body = Problem)))]
async fn get_request(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<RequestId>,
) -> Result<Json<Request>, AppError> {
    Ok(Json(
        services::requests::get(state.pool(), &caller, id)
            .await?
            .into(),
    ))
}

/// Cancel a request that is still submitted, pending approval or scheduled.
#[utoipa::path(post, path = "/assignmentRequests/{id}/cancel", tag = "requests", params(("id" = Uuid, Path)),
    responses((status = 403, body = Problem), (status = 200, body = Request), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_request(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<RequestId>,
) -> Result<Json<Request>, AppError> {
    Ok(Json(
        services::requests::cancel(state.pool(), &caller, id, state.now())
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionBody {
    pub decision: DomainDecision,
    pub justification: Option<String>,
}

/// Decide the open stage (its approvers only); 409 names who decided first.
#[utoipa::path(post, path = "/assignmentRequests/{id}/decision", tag = "requests", params(("id" = Uuid, Path)),
    request_body = DecisionBody,
    responses((status = 200, body = Request), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn decide_request(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiPath(id): ApiPath<RequestId>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Request>, AppError> {
    let view = services::requests::decide(
        state.pool(),
        &caller,
        id,
        body.decision,
        body.justification,
        state.now(),
    )
    .await?;
    Ok(Json(view.into()))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub request_id: Uuid,
    pub stage_index: i32,
    pub request: Request,
}

impl From<ApprovalView> for Approval {
    fn from(v: ApprovalView) -> Self {
        Self {
            request_id: v.request.request.id.0,
            stage_index: v.stage_index,
            request: v.request.into(),
        }
    }
}

crate::list_schema!(ApprovalList, Approval);

/// Which stages `/approvals` lists.
#[allow(dead_code)]
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalFilter {
    Pending,
    Decided,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalQuery {
    /// pending (default) or decided.
    #[param(value_type = Option<ApprovalFilter>)]
    pub state: Option<String>,
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// Stages the caller must decide (pending) or has decided.
#[utoipa::path(get, path = "/approvals", tag = "requests", params(ApprovalQuery),
    responses((status = 200, body = ApprovalList), (status = 422, body = Problem)))]
async fn list_approvals(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ApiQuery(q): ApiQuery<ApprovalQuery>,
) -> Result<List<Approval>, AppError> {
    let decided = match q.state.as_deref() {
        None | Some("pending") => false,
        Some("decided") => true,
        Some(other) => {
            return Err(AppError::field(
                "state",
                format!("'{other}' is not pending or decided"),
            ));
        }
    };
    let page = Pagination {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let page = services::requests::approvals(state.pool(), &caller, decided, page).await?;
    Ok(List::from_page(page, Approval::from))
}
