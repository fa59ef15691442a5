//! Emailed approval links (DOMAIN.md §12). A token names its tenant, request, stage
//! and approver; everything here acts only within the link's own tenant. Opening a
//! link only reads; deciding is a separate call that locks the request, checks the
//! link is still open (unused, unexpired, stage pending, approver still an active
//! approver of it), marks it used and decides through `requests::decide_locked`, all
//! in one transaction: a used token, a decided stage or a lost race decides nothing.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::audit::{self, Entry};
use super::requests::{self, RequestView};
use super::views::Names;
use super::{Actor, ServiceError, ServiceResult, links};
use crate::db::links::ApprovalLink;
use crate::db::requests::RequestRow;
use crate::db::tenants::Tenant;
use crate::db::{self, Conn};
use crate::domain::DomainError;
use crate::domain::audit::{AuditAction, Target};
use crate::domain::ids::UserId;
use crate::domain::policy::DecisionRule;
use crate::domain::request::{Answer, Decision, RequestState, StageState};
use crate::time_text::when;

/// Tokens are 43 characters; anything much longer is not worth a lookup.
const MAX_TOKEN_LEN: usize = 128;

/// One decision recorded on the link's stage.
#[derive(Clone, Debug)]
pub struct DecisionInfo {
    pub approver: String,
    pub decision: Decision,
    pub justification: Option<String>,
    pub at: DateTime<Utc>,
}

/// Where the link stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    /// Its approver may decide.
    Open,
    /// Used, or its stage decided (by anyone), or the request ended otherwise: the
    /// sentence says who decided what and when.
    Decided(String),
    /// Past its expiry (the stage's due time), or the request timed out.
    Expired,
    /// The approver can no longer decide this stage.
    NotAnApprover,
}

/// What a link page shows.
#[derive(Clone, Debug)]
pub struct LinkView {
    pub tenant: Tenant,
    pub link: ApprovalLink,
    pub approver: String,
    pub package: String,
    pub requestor: String,
    pub target: String,
    pub justification: Option<String>,
    pub answers: Vec<Answer>,
    pub stage_number: i32,
    pub stage_count: usize,
    pub due_at: DateTime<Utc>,
    pub require_justification: bool,
    pub request_state: RequestState,
    /// Decisions on the link's stage, oldest first.
    pub decisions: Vec<DecisionInfo>,
    pub status: LinkStatus,
}

/// Why a decision through a link did not happen.
#[derive(Debug)]
pub enum LinkError {
    /// No such token (404).
    Unknown,
    /// Not open any more; the view's status says why (409, 410 or 403).
    Closed(Box<LinkView>),
    /// The tenant requires approvers to sign in to decide (403).
    SignInRequired(Box<LinkView>),
    /// The justification is missing or too long (422); the message is for the field.
    Invalid(Box<LinkView>, String),
    Service(ServiceError),
}

impl From<ServiceError> for LinkError {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

impl From<db::DbError> for LinkError {
    fn from(e: db::DbError) -> Self {
        Self::Service(e.into())
    }
}

async fn find(conn: &mut Conn, token: &str) -> ServiceResult<Option<ApprovalLink>> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    Ok(db::links::by_hash(conn, &links::hash(token)).await?)
}

/// The page of a link: `None` when the token is unknown. Reads only.
#[tracing::instrument(skip_all)]
pub async fn open(
    pool: &PgPool,
    token: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Option<LinkView>> {
    let mut conn = pool.acquire().await?;
    let Some(link) = find(&mut conn, token).await? else {
        return Ok(None);
    };
    let Some(request) = db::requests::get(&mut conn, link.tenant_id, link.request_id).await? else {
        return Ok(None);
    };
    Ok(Some(view(&mut conn, link, &request, now).await?))
}

/// Decides through a link: see the module header for the checks.
#[tracing::instrument(skip_all)]
pub async fn decide(
    pool: &PgPool,
    token: &str,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> Result<LinkView, LinkError> {
    let mut tx = pool.begin().await.map_err(ServiceError::from)?;
    let Some(link) = find(&mut tx, token).await? else {
        return Err(LinkError::Unknown);
    };
    // Concurrent deciders (through links or the API) queue on this lock.
    let Some(request) = db::requests::lock(&mut tx, link.tenant_id, link.request_id).await? else {
        return Err(LinkError::Unknown);
    };
    // Read the link again under the lock: a concurrent use of it has committed by now.
    let link = db::links::by_hash(&mut tx, &link.token_hash)
        .await?
        .ok_or(LinkError::Unknown)?;
    let before = view(&mut tx, link.clone(), &request, now).await?;
    if before.status != LinkStatus::Open {
        return Err(LinkError::Closed(Box::new(before)));
    }
    if before.tenant.approval_links_require_sign_in {
        return Err(LinkError::SignInRequired(Box::new(before)));
    }
    if !db::links::mark_used(&mut tx, link.tenant_id, link.id, now).await? {
        let again = view(&mut tx, link.clone(), &request, now).await?;
        return Err(LinkError::Closed(Box::new(again)));
    }
    let actor = Actor::User {
        id: link.approver_id,
        token: None,
    };
    let mut trail = audit::Trail::default();
    let decided = requests::decide_locked(
        &mut tx,
        &mut trail,
        request,
        link.approver_id,
        actor,
        decision,
        justification,
        now,
    )
    .await;
    let after: RequestView = match decided {
        Ok(v) => v,
        Err(ServiceError::Domain(DomainError::Validation(errors))) => {
            let message = errors
                .0
                .get("justification")
                .cloned()
                .unwrap_or_else(|| errors.0.values().cloned().collect::<Vec<_>>().join("; "));
            // Dropping the transaction rolls back the use of the link.
            return Err(LinkError::Invalid(Box::new(before), message));
        }
        Err(ServiceError::Domain(DomainError::Conflict(message))) => {
            let mut closed = before;
            closed.status = LinkStatus::Decided(message);
            return Err(LinkError::Closed(Box::new(closed)));
        }
        Err(ServiceError::Domain(DomainError::Forbidden(_))) => {
            let mut closed = before;
            closed.status = LinkStatus::NotAnApprover;
            return Err(LinkError::Closed(Box::new(closed)));
        }
        Err(e) => return Err(LinkError::Service(e)),
    };
    trail.add(
        link.tenant_id,
        actor,
        Entry {
            action: AuditAction::ApprovalLinkUsed,
            target: Target::ApprovalLink(link.id),
            details: json!({"requestId": link.request_id, "stage": link.stage_index, "decision": decision.as_str()}),
        },
        now,
    );
    trail.write(&mut tx).await?;
    let done = view(&mut tx, link, &after.request, now).await?;
    tx.commit().await.map_err(ServiceError::from)?;
    Ok(done)
}

/// What a link of `approver` on stage `stage_index` would show, without a link: chat
/// messages say what the link pages say. `None` when the tenant has no such stage.
#[tracing::instrument(skip_all)]
pub(crate) async fn stage_view(
    conn: &mut Conn,
    tenant: crate::domain::ids::TenantId,
    request_id: crate::domain::ids::RequestId,
    stage_index: i32,
    approver: UserId,
    now: DateTime<Utc>,
) -> ServiceResult<Option<LinkView>> {
    let Some(request) = db::requests::get(conn, tenant, request_id).await? else {
        return Ok(None);
    };
    let (stages, _) = db::requests::stages_and_decisions(conn, tenant, &[request.id]).await?;
    if !stages.iter().any(|s| s.stage_index == stage_index) {
        return Ok(None);
    }
    let link = ApprovalLink {
        tenant_id: tenant,
        id: uuid::Uuid::nil(),
        token_hash: Vec::new(),
        request_id,
        stage_index,
        approver_id: approver,
        // Without a link, only the stage's own state says it expired.
        expires_at: DateTime::<Utc>::MAX_UTC,
        used_at: None,
        created_at: now,
    };
    Ok(Some(view(conn, link, &request, now).await?))
}

/// Loads what the page shows and works out the link's status.
async fn view(
    conn: &mut Conn,
    link: ApprovalLink,
    request: &RequestRow,
    now: DateTime<Utc>,
) -> ServiceResult<LinkView> {
    let tenant_id = link.tenant_id;
    let mut people: Vec<UserId> = vec![request.target_user_id, link.approver_id];
    people.extend(request.requestor_id);
    let facts = db::links::page_facts(conn, tenant_id, request, &people)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the tenant of approval link {} vanished", link.id))?;
    let tenant = facts.tenant.0;
    // Link pages and chat messages show times in the tenant's zone.
    let zone = crate::time_text::zone_of(None, &tenant.time_zone);
    let when = |t| crate::time_text::in_zone(zone, || when(t));
    let package = facts.package_name.unwrap_or_default();
    let stages = facts.stages.0;
    let stage = stages
        .iter()
        .find(|s| s.stage_index == link.stage_index)
        .ok_or_else(|| anyhow::anyhow!("the stage of approval link {} vanished", link.id))?;
    let decisions: Vec<_> = facts
        .decisions
        .0
        .into_iter()
        .filter(|d| d.stage_index == link.stage_index)
        .collect();
    let users = facts.users.0;
    let names = Names::of_users(&users);
    let name = |id: UserId| names.user(id.0);
    let approver_active = users.iter().any(|u| u.id == link.approver_id && u.active);
    let stage_count = facts
        .policy
        .map(|p| p.0.settings.0.approval.stages.len())
        .unwrap_or_default()
        .max(stages.len());
    let infos: Vec<DecisionInfo> = decisions
        .iter()
        .map(|d| DecisionInfo {
            approver: name(d.approver_id),
            decision: d.decision,
            justification: d.justification.clone(),
            at: d.decided_at,
        })
        .collect();
    let verb = |d: Decision| match d {
        Decision::Approve => "approved",
        Decision::Deny => "denied",
    };
    let mine = decisions.iter().find(|d| d.approver_id == link.approver_id);
    let rule = stage.decision_rule;
    let status = if let Some(d) = mine {
        let what = verb(d.decision);
        let rest = if stage.state == StageState::Pending {
            " The other approvers' decisions are awaited."
        } else {
            ""
        };
        LinkStatus::Decided(format!(
            "You already {what} this request on {}.{rest}",
            when(d.decided_at)
        ))
    } else if link.used_at.is_some() {
        LinkStatus::Decided("This link has already been used.".into())
    } else if matches!(stage.state, StageState::Approved | StageState::Denied) {
        let decisive = match stage.state {
            StageState::Denied => infos.iter().find(|d| d.decision == Decision::Deny),
            _ if rule == DecisionRule::AnyOne => {
                infos.iter().find(|d| d.decision == Decision::Approve)
            }
            _ => infos.last(),
        };
        LinkStatus::Decided(match decisive {
            Some(d) => format!(
                "This stage was already {} by {} on {}.",
                verb(d.decision),
                d.approver,
                when(d.at)
            ),
            None => format!("This stage was already {}.", stage.state),
        })
    } else if stage.state == StageState::Expired
        || request.state == RequestState::Expired
        || link.expires_at <= now
    {
        LinkStatus::Expired
    } else if stage.state != StageState::Pending || request.state != RequestState::PendingApproval {
        let at = request
            .completed_at
            .or(stage.completed_at)
            .map(|t| format!(" on {}", when(t)))
            .unwrap_or_default();
        LinkStatus::Decided(format!(
            "This request was {}{at} and no longer needs a decision.",
            match request.state {
                RequestState::Canceled => "canceled",
                RequestState::Denied => "denied",
                _ => "already decided",
            }
        ))
    } else if !approver_active || !stage.approver_ids.contains(&link.approver_id.0) {
        LinkStatus::NotAnApprover
    } else {
        LinkStatus::Open
    };
    Ok(LinkView {
        approver: name(link.approver_id),
        package,
        requestor: request
            .requestor_id
            .map(name)
            .unwrap_or_else(|| "Portico".into()),
        target: name(request.target_user_id),
        justification: request.justification.clone(),
        answers: request.answers.0.clone(),
        stage_number: stage.stage_index + 1,
        stage_count,
        due_at: stage.due_at,
        require_justification: stage.require_justification,
        request_state: request.state,
        decisions: infos,
        status,
        tenant,
        link,
    })
}
