//! Turns an outbox email row (recipient + `Notice`) into an `Email`: loads what the
//! message names (always within the row's tenant) into the `Mail` model, has
//! `email::render` render it, and builds the portal links from `PORTICO_BASE_URL`.

use crate::config::Settings;
use crate::db::requests::{DecisionRow, RequestRow, StageRow};
use crate::db::{self, Conn, DbError};
use crate::domain::assignment::GrantState;
use crate::domain::assignment::{AssignmentState, RemovalReason};
use crate::domain::ids::{AccessReviewId, AssignmentId, RequestId, TenantId, UserId};
use crate::domain::request::{RequestState, StageState};
use crate::email::Email;
use crate::email::render::{AnswerLine, DecisionLine, GrantLine, Links, Mail, render_parts, when};
use crate::services::notify::{AskReason, Notice};

/// Why a row could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The database did not answer: try again later.
    #[error("loading the email's data: {0}")]
    Transient(#[from] DbError),
    /// The row can never be rendered (what it names is gone, or a template failed).
    #[error("{0}")]
    Permanent(String),
}

/// What to do with a row.
#[derive(Debug)]
pub enum Rendered {
    Send(Box<Email>),
    /// Nothing to send any more (recipient deactivated, stage already decided); the
    /// reason is logged.
    Skip(String),
}

fn permanent(what: impl Into<String>) -> RenderError {
    RenderError::Permanent(what.into())
}

/// Loads, renders and addresses the email of one outbox row.
#[tracing::instrument(skip_all)]
pub async fn render(
    conn: &mut Conn,
    settings: &Settings,
    tenant_id: TenantId,
    to: UserId,
    notice: &Notice,
    message_id: String,
) -> Result<Rendered, RenderError> {
    let tenant = db::tenants::get(conn, tenant_id)
        .await
        .map_err(|e| match e {
            DbError::NotFound => permanent("the tenant no longer exists"),
            other => RenderError::Transient(other),
        })?;
    let Some(recipient) = db::users::get(conn, tenant_id, to).await? else {
        return Err(permanent(format!("there is no user {to} in the tenant")));
    };
    if !recipient.active {
        return Ok(Rendered::Skip("the recipient is deactivated".into()));
    }
    // The recipient reads the email's times in their zone (else the tenant's).
    let zone = crate::time_text::zone_of(recipient.time_zone.as_deref(), &tenant.time_zone);
    crate::time_text::scoped(
        zone,
        compose(conn, settings, tenant, recipient, notice, message_id),
    )
    .await
}

/// Renders the email of `notice` for `recipient` (in the current zone).
async fn compose(
    conn: &mut Conn,
    settings: &Settings,
    tenant: db::tenants::Tenant,
    recipient: db::users::User,
    notice: &Notice,
    message_id: String,
) -> Result<Rendered, RenderError> {
    let (tenant_id, to) = (tenant.id, recipient.id);
    let base = settings.public_url();
    let portal = format!("{base}/t/{}", tenant.slug);
    let mut m = Mail {
        tenant: tenant.display_name.clone(),
        recipient: recipient.display_name.clone(),
        links: Links {
            portal: format!("{portal}/"),
            access: format!("{portal}/access"),
            ..Links::default()
        },
        ..Mail::default()
    };
    match notice {
        Notice::RequestSubmitted { request_id }
        | Notice::RequestApproved { request_id }
        | Notice::RequestDenied { request_id }
        | Notice::RequestExpired { request_id }
        | Notice::DeliveryFailed { request_id } => {
            load_request(conn, tenant_id, *request_id, &portal, &mut m).await?;
        }
        Notice::RequestCanceled { request_id, by } => {
            let (request, _, _) =
                load_request(conn, tenant_id, *request_id, &portal, &mut m).await?;
            m.canceled_by = match by {
                Some(u) if *u == to => "You canceled it.".into(),
                Some(u) => format!("{} canceled it.", display_name(conn, tenant_id, *u).await?),
                None if request.request_type.is_update() => {
                    "It was canceled because the access it would extend has ended.".into()
                }
                None => "It was canceled by Portico.".into(),
            };
        }
        Notice::AccessDelivered { request_id } => {
            let (request, _, _) =
                load_request(conn, tenant_id, *request_id, &portal, &mut m).await?;
            if let Some(id) = request.assignment_id {
                load_granted(conn, tenant_id, id, &mut m).await?;
            }
        }
        Notice::StageDecided {
            request_id,
            stage_index,
            by,
        } => {
            let (_, _, decisions) =
                load_request(conn, tenant_id, *request_id, &portal, &mut m).await?;
            let Some(d) = decisions
                .iter()
                .find(|d| d.stage_index == *stage_index && d.approver_id == *by)
            else {
                return Err(permanent(format!(
                    "request {request_id} has no decision of {by} on stage {stage_index}"
                )));
            };
            m.stage_number = stage_index + 1;
            m.decided = Some(DecisionLine {
                stage: stage_index + 1,
                approver: display_name(conn, tenant_id, *by).await?,
                decision: d.decision,
                justification: d.justification.clone(),
                at: when(d.decided_at),
            });
        }
        Notice::ApprovalNeeded {
            request_id,
            stage_index,
            token,
            reason,
        } => {
            let (request, stages, _) =
                load_request(conn, tenant_id, *request_id, &portal, &mut m).await?;
            let Some(stage) = stages.iter().find(|s| s.stage_index == *stage_index) else {
                return Err(permanent(format!(
                    "request {request_id} has no stage {stage_index}"
                )));
            };
            if stage.state != StageState::Pending || request.state != RequestState::PendingApproval
            {
                return Ok(Rendered::Skip(format!(
                    "stage {} of request {request_id} is no longer waiting for a decision",
                    stage_index + 1
                )));
            }
            m.stage_number = stage.stage_index + 1;
            m.due = when(stage.due_at);
            m.reason = match reason {
                AskReason::Opened => "opened",
                AskReason::Escalated => "escalated",
                AskReason::Reminder => "reminder",
            }
            .into();
            m.links.approve = format!("{base}/links/{token}/approve");
            m.links.deny = format!("{base}/links/{token}/deny");
        }
        Notice::AccessExpiring {
            assignment_id,
            days_left,
            can_extend,
        } => {
            load_assignment(conn, tenant_id, *assignment_id, &portal, &mut m).await?;
            m.days_left = *days_left;
            m.can_extend = *can_extend;
        }
        Notice::AccessEnded { assignment_id } => {
            load_assignment(conn, tenant_id, *assignment_id, &portal, &mut m).await?;
        }
        Notice::ReviewStarted { review_id } | Notice::ReviewReminder { review_id } => {
            let id = AccessReviewId(*review_id);
            let Some(review) = db::reviews::get(conn, tenant_id, id).await? else {
                return Err(permanent(format!("there is no access review {review_id}")));
            };
            let package = db::packages::get(conn, tenant_id, review.package_id)
                .await?
                .ok_or_else(|| {
                    permanent(format!("there is no access package {}", review.package_id))
                })?;
            let (people, undecided) =
                db::reviews::count_for_reviewer(conn, tenant_id, id, to).await?;
            m.package = package.display_name;
            m.review_people = people;
            m.review_undecided = undecided;
            m.due = when(review.end_at);
            m.links.review = format!("{portal}/reviews/{review_id}");
        }
        Notice::SignInLink { token } => {
            m.links.sign_in = format!("{portal}/sign-in/{token}");
        }
    }
    let (subject, text, html) = render_parts(notice, &m).map_err(RenderError::Permanent)?;
    Ok(Rendered::Send(Box::new(Email {
        message_id,
        tenant: tenant.slug.clone(),
        from_name: tenant.display_name,
        to: recipient.email,
        reply_to: tenant.reply_to,
        subject,
        text,
        html,
    })))
}

/// Loads the assignment and the request that created it into `m`.
async fn load_assignment(
    conn: &mut Conn,
    tenant: TenantId,
    id: crate::domain::ids::AssignmentId,
    portal: &str,
    m: &mut Mail,
) -> Result<(), RenderError> {
    let Some(a) = db::assignments::get(conn, tenant, id).await? else {
        return Err(permanent(format!("there is no assignment {id}")));
    };
    load_request(conn, tenant, a.request_id, portal, m).await?;
    m.start = Some(when(a.start_at));
    m.end = a.end_at.map(when);
    m.links.extend = format!("{portal}/access/{}/extend", a.id);
    m.ended_because = match (a.state, a.removal_reason) {
        (AssignmentState::Expired, _) => "it reached its end date",
        (_, Some(RemovalReason::Admin)) => "an administrator removed it",
        (_, Some(RemovalReason::User)) => "you asked to remove it",
        (_, Some(RemovalReason::Review)) => "an access review decided it should end",
        (_, Some(RemovalReason::UserDeactivated)) => "your account was deactivated",
        (_, Some(RemovalReason::PolicyChanged)) => "its policy changed",
        (_, Some(RemovalReason::OutOfScope)) => {
            "you are no longer among the people its policy lets request it"
        }
        (_, None) => "it was removed",
    }
    .into();
    Ok(())
}

/// A user's display name, or "a former user".
async fn display_name(
    conn: &mut Conn,
    tenant: TenantId,
    id: UserId,
) -> Result<String, RenderError> {
    Ok(db::users::get(conn, tenant, id)
        .await?
        .map_or_else(|| "a former user".into(), |u| u.display_name))
}

/// What the assignment delivered (resource and role names) and its end, into `m`.
async fn load_granted(
    conn: &mut Conn,
    tenant: TenantId,
    id: AssignmentId,
    m: &mut Mail,
) -> Result<(), RenderError> {
    let Some(a) = db::assignments::get(conn, tenant, id).await? else {
        return Err(permanent(format!("there is no assignment {id}")));
    };
    m.end = a.end_at.map(when);
    let roles: Vec<_> = db::assignments::grants_of(conn, tenant, &[id])
        .await?
        .into_iter()
        .filter(|g| g.state == GrantState::Delivered)
        .map(|g| g.resource_role_id)
        .collect();
    let roles = db::catalogs::get_roles(conn, tenant, &roles).await?;
    let resource_ids: Vec<_> = roles.iter().map(|r| r.resource_id).collect();
    let resources = db::catalogs::get_resources(conn, tenant, &resource_ids).await?;
    m.granted = roles
        .into_iter()
        .filter_map(|role| {
            let resource = resources.iter().find(|r| r.id == role.resource_id)?;
            Some(GrantLine {
                resource: resource.display_name.clone(),
                role: role.display_name,
            })
        })
        .collect();
    m.granted
        .sort_by(|a, b| (&a.resource, &a.role).cmp(&(&b.resource, &b.role)));
    Ok(())
}

/// Loads the request, its package, people, answers, stages and decisions into `m`.
async fn load_request(
    conn: &mut Conn,
    tenant: TenantId,
    id: RequestId,
    portal: &str,
    m: &mut Mail,
) -> Result<(RequestRow, Vec<StageRow>, Vec<DecisionRow>), RenderError> {
    let Some(request) = db::requests::get(conn, tenant, id).await? else {
        return Err(permanent(format!("there is no request {id}")));
    };
    let package = db::packages::get(conn, tenant, request.package_id)
        .await?
        .ok_or_else(|| permanent(format!("there is no access package {}", request.package_id)))?;
    let mut people = vec![request.target_user_id];
    people.extend(request.requestor_id);
    let (stages, decisions) = db::requests::stages_and_decisions(conn, tenant, &[id]).await?;
    let last = stages.last().map(|s| s.stage_index);
    let last_decisions: Vec<&DecisionRow> = decisions
        .iter()
        .filter(|d| Some(d.stage_index) == last)
        .collect();
    people.extend(decisions.iter().map(|d| d.approver_id));
    let users = db::users::get_many(conn, tenant, &people).await?;
    let name = |u: UserId| {
        users
            .iter()
            .find(|x| x.id == u)
            .map(|x| x.display_name.clone())
            .unwrap_or_else(|| "a former user".into())
    };
    let policy = db::packages::get_policy(conn, tenant, request.policy_id).await?;
    m.package = package.display_name;
    m.target = name(request.target_user_id);
    m.requestor = request
        .requestor_id
        .map(name)
        .unwrap_or_else(|| "Portico".into());
    m.for_self = request.requestor_id == Some(request.target_user_id);
    m.justification = request.justification.clone();
    m.answers = request
        .answers
        .0
        .iter()
        .map(|a| AnswerLine {
            question: a.question.clone(),
            value: a.value.clone(),
        })
        .collect();
    m.request_state = Some(request.state);
    m.stage_count = policy
        .map(|p| p.settings.0.approval.stages.len())
        .unwrap_or(stages.len())
        .max(stages.len());
    m.start = request.schedule_start.map(when);
    m.end = request.schedule_end.map(when);
    let line = |d: &DecisionRow| DecisionLine {
        stage: d.stage_index + 1,
        approver: name(d.approver_id),
        decision: d.decision,
        justification: d.justification.clone(),
        at: when(d.decided_at),
    };
    // The decisions of the stages before the last (an approval email for stage 2
    // shows what stage 1 decided).
    m.earlier = decisions
        .iter()
        .filter(|d| Some(d.stage_index) != last)
        .map(line)
        .collect();
    m.decisions = last_decisions.iter().map(|d| line(d)).collect();
    m.links.request = format!("{portal}/requests/{id}");
    m.links.approvals = format!("{portal}/approvals/{id}");
    Ok((request, stages, decisions))
}
