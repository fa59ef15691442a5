//! The approval engine: opening stages (approvers resolved when a stage opens, then
//! fallbacks, then tenant admins; never the target user), approvers' decisions on the
//! open stage (exactly one outcome under concurrent decisions), and the replacement
//! of an approver who was deactivated. Escalation and timeouts call `resolve` and
//! `ask_approvers` from the scheduler's lifecycle jobs.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::deliver::follow;
use super::query::{as_approver, visible};
use super::transition::{
    apply_stage_change, carry_out, facts, row_facts, set_state, stage_facts, step, step_with,
};
use super::{RequestView, StageView, not_found, views};
use crate::db::groups::Relation;
use crate::db::links::ApprovalLink;
use crate::db::requests::{DecisionRow, RequestRow, StageRow};
use crate::db::users::User;
use crate::db::{self, Conn};
use crate::domain::authz::Role;
use crate::domain::ids::{PackageId, RequestId, TenantId, UserId};
use crate::domain::lifecycle::{self, Event};
use crate::domain::policy::{ApproverKind, ApproverRef, PolicySettings};
use crate::domain::request::{Decision, StageState, select_approvers};
use crate::services::audit::Trail;
use crate::services::notify::{self, AskReason, Notice};
use crate::services::{Actor, Caller, ServiceResult};
use crate::services::{chat, links};

/// Active users named by approver references, resolved for `target`.
#[tracing::instrument(skip_all)]
pub(crate) async fn resolve(
    conn: &mut Conn,
    tenant: TenantId,
    refs: &[ApproverRef],
    target: &User,
    package: PackageId,
) -> ServiceResult<Vec<Uuid>> {
    let mut ids: Vec<UserId> = Vec::new();
    for r in refs {
        match r.kind {
            ApproverKind::Manager => ids.extend(target.manager_id),
            ApproverKind::SecondLevelManager => {
                if let Some(m) = target.manager_id
                    && let Some(manager) = db::users::get(conn, tenant, m).await?
                {
                    ids.extend(manager.manager_id);
                }
            }
            ApproverKind::User => ids.extend(r.id.map(UserId)),
            ApproverKind::Group => {
                if let Some(g) = r.id {
                    ids.extend(
                        db::groups::users_of(
                            conn,
                            Relation::Member,
                            tenant,
                            &[crate::domain::ids::GroupId(g)],
                        )
                        .await?,
                    );
                }
            }
            ApproverKind::ResourceOwners => {
                let groups = db::packages::groups_of_package(conn, tenant, package).await?;
                ids.extend(db::groups::users_of(conn, Relation::Owner, tenant, &groups).await?);
            }
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let active = db::users::get_many(conn, tenant, &ids).await?;
    // Keep the order of the policy, drop inactive and unknown users.
    Ok(ids
        .into_iter()
        .filter(|id| active.iter().any(|u| u.id == *id && u.active))
        .map(|id| id.0)
        .collect())
}

/// Opens stage `index`: resolves its approvers (fallbacks, then tenant admins; never
/// the target user) and sets its due and escalation times.
#[tracing::instrument(skip_all)]
pub(super) async fn open_stage(
    conn: &mut Conn,
    trail: &mut Trail,
    request: &mut RequestRow,
    settings: &PolicySettings,
    index: usize,
    target: &User,
    now: DateTime<Utc>,
) -> ServiceResult<StageRow> {
    let tenant = request.tenant_id;
    let spec = settings
        .approval
        .stages
        .get(index)
        .ok_or_else(|| anyhow::anyhow!("stage {index} is not in the policy"))?;
    // Fallback approvers and tenant admins are looked up only when the lists before
    // them leave nobody.
    let primary = resolve(conn, tenant, &spec.approvers, target, request.package_id).await?;
    let (mut fallback, mut admins) = (Vec::new(), Vec::new());
    let (mut approvers, mut source) = select_approvers(&primary, &fallback, &admins, target.id.0);
    if approvers.is_empty() {
        fallback = resolve(
            conn,
            tenant,
            &spec.fallback_approvers,
            target,
            request.package_id,
        )
        .await?;
        (approvers, source) = select_approvers(&primary, &fallback, &admins, target.id.0);
    }
    if approvers.is_empty() {
        admins = db::roles::active_holders(conn, tenant, Role::TenantAdmin.as_str(), None)
            .await?
            .into_iter()
            .map(|u| u.0)
            .collect();
        (approvers, source) = select_approvers(&primary, &fallback, &admins, target.id.0);
    }
    let due_at = now + Duration::days(spec.timeout_days);
    let opened = Event::StageOpened {
        index,
        rule: spec.decision,
        approvers: approvers.clone(),
        source,
        due_at,
    };
    let t = step(
        conn,
        request,
        settings.approval.stages.len(),
        &[],
        opened,
        now,
    )
    .await?;
    // An `all` stage over the approver cap opens as `anyOne` (the transition says so).
    let rule = t
        .stage
        .as_ref()
        .and_then(|c| c.rule)
        .unwrap_or(spec.decision);
    let stage = StageRow {
        tenant_id: tenant,
        request_id: request.id,
        stage_index: i32::try_from(index).unwrap_or(0),
        state: StageState::Pending,
        decision_rule: rule,
        approver_ids: approvers,
        alternate_ids: Vec::new(),
        require_justification: spec.require_justification,
        opened_at: now,
        due_at,
        escalate_at: spec
            .escalation
            .as_ref()
            .map(|e| now + Duration::days(e.after_days)),
        escalated_at: None,
        completed_at: None,
    };
    set_state(request, &t, now);
    request.updated_at = now;
    db::requests::save(conn, request).await?;
    db::requests::insert_stage(conn, &stage).await?;
    carry_out(conn, trail, request, &t, Actor::System, Some(&stage), now).await?;
    Ok(stage)
}

/// Emails each of `approvers` a personal Approve/Deny link for the stage, and asks them
/// in the tenant's chat (Slack, Teams) when it has one.
#[tracing::instrument(skip_all)]
pub async fn ask_approvers(
    conn: &mut Conn,
    trail: &mut Trail,
    stage: &StageRow,
    approvers: &[Uuid],
    reason: AskReason,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut asked = Vec::with_capacity(approvers.len());
    for approver in approvers {
        let token = links::new_token();
        db::links::insert(
            conn,
            &ApprovalLink {
                tenant_id: stage.tenant_id,
                id: Uuid::now_v7(),
                token_hash: links::hash(&token),
                request_id: stage.request_id,
                stage_index: stage.stage_index,
                approver_id: UserId(*approver),
                expires_at: stage.due_at,
                used_at: None,
                created_at: now,
            },
        )
        .await?;
        let notice = Notice::ApprovalNeeded {
            request_id: stage.request_id,
            stage_index: stage.stage_index,
            token: token.clone(),
            reason,
        };
        notify::queue(trail, stage.tenant_id, UserId(*approver), &notice, now);
        asked.push((UserId(*approver), token));
    }
    chat::queue::ask(conn, stage, &asked, reason, now).await
}

/// An approver's decision on the open stage. Concurrent deciders are serialised by the
/// row lock on the request: exactly one outcome, the others are told who decided.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, id = %id))]
pub async fn decide(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let request = db::requests::lock(&mut tx, tenant, id)
        .await?
        .ok_or_else(not_found)?;
    let current = views(&mut tx, tenant, vec![request])
        .await?
        .pop()
        .ok_or_else(not_found)?;
    let me = caller.user_id().0;
    let approver = current
        .stages
        .iter()
        .any(|s| s.stage.approver_ids.contains(&me));
    if !approver && !visible(&mut tx, caller, &current.request).await? {
        return Err(not_found());
    }
    let mut trail = Trail::default();
    let result = decide_current(
        &mut tx,
        &mut trail,
        current,
        caller.user_id(),
        caller.actor(),
        decision,
        justification,
        now,
    )
    .await?;
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(result)
}

/// The decision of `approver` on a request already locked by the caller's transaction
/// (the API and the emailed links both end here).
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all)]
pub async fn decide_locked(
    tx: &mut Conn,
    trail: &mut Trail,
    request: RequestRow,
    me: UserId,
    actor: Actor,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let tenant = request.tenant_id;
    let current = views(tx, tenant, vec![request])
        .await?
        .pop()
        .ok_or_else(not_found)?;
    decide_current(tx, trail, current, me, actor, decision, justification, now).await
}

/// The decision on a locked request whose stages were just read; the answer is built
/// from what this transaction wrote, without reading it back.
#[allow(clippy::too_many_arguments)]
async fn decide_current(
    tx: &mut Conn,
    trail: &mut Trail,
    current: RequestView,
    me: UserId,
    actor: Actor,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    let mut request = current.request.clone();
    let tenant = request.tenant_id;
    let policy = db::packages::get_policy(tx, tenant, request.policy_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("policy of request {} vanished", request.id))?;
    trail.know_policy(&policy);
    let stages: Vec<lifecycle::Stage> = current.stages.iter().map(stage_facts).collect();
    let decided = Event::Decided {
        approver: me.0,
        decision,
        justification,
    };
    let policy_stages = policy.settings.0.approval.stages.len();
    let holds = crate::services::extensions::holds(tx, tenant, &policy.settings.0).await?;
    let t = step_with(tx, &request, policy_stages, holds, &stages, decided, now).await?;
    let (mut stage_row, change) = match (current.stages.last(), &t.stage) {
        (Some(last), Some(change)) => (last.stage.clone(), change.clone()),
        _ => {
            return Err(
                anyhow::anyhow!("request {}: a decision without its stage", request.id).into(),
            );
        }
    };
    let Some((_, _, justification)) = change.decision.clone() else {
        return Err(
            anyhow::anyhow!("request {}: a decision without its record", request.id).into(),
        );
    };
    let row = DecisionRow {
        tenant_id: tenant,
        request_id: request.id,
        stage_index: stage_row.stage_index,
        approver_id: me,
        decision,
        justification,
        decided_at: now,
    };
    db::requests::insert_decision(tx, &row).await?;
    if change.state.is_some() {
        apply_stage_change(&mut stage_row, &change, now);
        db::requests::update_stage(tx, &stage_row).await?;
    }
    if t.changes(request.state) {
        set_state(&mut request, &t, now);
        db::requests::update(tx, &request).await?;
    }
    carry_out(tx, trail, &request, &t, actor, None, now).await?;
    let opened = follow(tx, trail, &mut request, &policy, t.then, actor, true, now).await?;
    let mut stages: Vec<StageView> = current.stages;
    if let Some(last) = stages.last_mut() {
        last.stage = stage_row;
        last.decisions.push(row);
    }
    stages.extend(opened.map(|stage| StageView {
        stage,
        decisions: Vec::new(),
    }));
    Ok(RequestView { request, stages })
}

/// An approver who can no longer decide (deactivated, or removed from the directory)
/// leaves every open stage, with any other inactive approver still listed there. When
/// nobody active is left, the stage's fallback approvers, else the tenant admins, take
/// over; an `all` stage whose remaining approvers have all approved is settled, and
/// the request moves on (next stage, or delivery) as Portico's own doing.
#[tracing::instrument(skip_all)]
pub async fn approver_left(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    for found in db::requests::pending_stages_with_approver(conn, tenant, user).await? {
        let Some(request) = db::requests::lock(conn, tenant, found.request_id).await? else {
            continue;
        };
        let Some(current) = views(conn, tenant, vec![request]).await?.pop() else {
            continue;
        };
        let Some(open) = current
            .stages
            .last()
            .filter(|s| s.stage.state == StageState::Pending)
        else {
            continue;
        };
        let Some(policy) =
            db::packages::get_policy(conn, tenant, current.request.policy_id).await?
        else {
            continue;
        };
        let Some(target) = db::users::get(conn, tenant, current.request.target_user_id).await?
        else {
            continue;
        };
        let listed: Vec<UserId> = open.stage.approver_ids.iter().map(|a| UserId(*a)).collect();
        let active: Vec<Uuid> = db::users::get_many(conn, tenant, &listed)
            .await?
            .into_iter()
            .filter(|u| u.active && u.id != user)
            .map(|u| u.id.0)
            .collect();
        let left: Vec<Uuid> = open
            .stage
            .approver_ids
            .iter()
            .filter(|a| !active.contains(a))
            .copied()
            .collect();
        let added = if active.is_empty() {
            takers(
                conn,
                &current.request,
                &policy.settings.0,
                open,
                &target,
                &left,
            )
            .await?
        } else {
            Vec::new()
        };
        let stages: Vec<lifecycle::Stage> = current.stages.iter().map(stage_facts).collect();
        let policy_stages = policy.settings.0.approval.stages.len();
        let mut request = current.request.clone();
        let event = Event::ApproversLeft { left, added };
        let holds = crate::services::extensions::holds(conn, tenant, &policy.settings.0).await?;
        let t = step_with(conn, &request, policy_stages, holds, &stages, event, now).await?;
        let mut stage = open.stage.clone();
        if let Some(change) = &t.stage {
            apply_stage_change(&mut stage, change, now);
        }
        db::requests::update_stage(conn, &stage).await?;
        if t.changes(request.state) {
            set_state(&mut request, &t, now);
            db::requests::update(conn, &request).await?;
        }
        let mut trail = Trail::default();
        carry_out(
            conn,
            &mut trail,
            &request,
            &t,
            Actor::System,
            Some(&stage),
            now,
        )
        .await?;
        follow(
            conn,
            &mut trail,
            &mut request,
            &policy,
            t.then,
            Actor::System,
            true,
            now,
        )
        .await?;
        trail.write(conn).await?;
    }
    Ok(())
}

/// Who takes over a stage nobody active is left on: its fallback approvers, else the
/// tenant admins; never the target, nor anyone who just left.
async fn takers(
    conn: &mut Conn,
    request: &RequestRow,
    settings: &PolicySettings,
    open: &StageView,
    target: &User,
    left: &[Uuid],
) -> ServiceResult<Vec<Uuid>> {
    let tenant = request.tenant_id;
    let index = usize::try_from(open.stage.stage_index).unwrap_or(usize::MAX);
    let fallback_refs = settings
        .approval
        .stages
        .get(index)
        .map(|s| s.fallback_approvers.clone())
        .unwrap_or_default();
    let fallback: Vec<Uuid> = resolve(conn, tenant, &fallback_refs, target, request.package_id)
        .await?
        .into_iter()
        .filter(|a| !left.contains(a))
        .collect();
    let (chosen, _) = select_approvers(&fallback, &[], &[], target.id.0);
    if !chosen.is_empty() {
        return Ok(chosen);
    }
    let admins: Vec<Uuid> =
        db::roles::active_holders(conn, tenant, Role::TenantAdmin.as_str(), None)
            .await?
            .into_iter()
            .map(|u| u.0)
            .filter(|a| !left.contains(a))
            .collect();
    Ok(select_approvers(&admins, &[], &[], target.id.0).0)
}

/// The caller's decision on a request they approve (the requester portal).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug))]
pub async fn decide_approval(
    pool: &PgPool,
    caller: &Caller,
    id: RequestId,
    decision: Decision,
    justification: Option<String>,
    now: DateTime<Utc>,
) -> ServiceResult<RequestView> {
    {
        let mut conn = pool.acquire().await?;
        as_approver(&mut conn, caller, id).await?;
    }
    decide(pool, caller, id, decision, justification, now).await
}

/// Escalation time of an open stage: `added` (the resolved escalation approvers) join
/// it and are asked. A stage whose request is no longer pending is only marked as
/// escalated, so it is not claimed again.
#[tracing::instrument(skip_all)]
pub async fn escalate_stage(
    conn: &mut Conn,
    request: &RequestRow,
    mut stage: StageRow,
    added: Vec<Uuid>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    stage.escalated_at = Some(now);
    let open = [row_facts(&stage)];
    let event = Event::Escalated { added };
    let Some(t) = scheduled_step(conn, request, &stage, &open, event, now).await? else {
        return Ok(());
    };
    if let Some(change) = &t.stage {
        apply_stage_change(&mut stage, change, now);
    }
    db::requests::update_stage(conn, &stage).await?;
    let mut trail = Trail::default();
    carry_out(
        conn,
        &mut trail,
        request,
        &t,
        Actor::System,
        Some(&stage),
        now,
    )
    .await?;
    trail.write(conn).await
}

/// A scheduler's event on an open stage (escalation, time-out): the transition, or,
/// when the lifecycle refuses it (the request moved on meanwhile), `None` with the
/// stage saved as the scheduler left it, so the job does not come back to it.
async fn scheduled_step(
    conn: &mut Conn,
    request: &RequestRow,
    stage: &StageRow,
    open: &[lifecycle::Stage],
    event: Event,
    now: DateTime<Utc>,
) -> ServiceResult<Option<lifecycle::Transition>> {
    match lifecycle::step(&facts(request, 0), open, event.clone(), now) {
        Ok(t) => Ok(Some(t)),
        Err(refusal) => {
            tracing::warn!(request = %request.id, event = ?event, reason = %refusal.explain(""), "scheduled step skipped");
            db::requests::update_stage(conn, stage).await?;
            Ok(None)
        }
    }
}

/// The open stage reached its due time: it and its request expire, and the requestor
/// is told. A stage whose request is no longer pending only closes.
#[tracing::instrument(skip_all)]
pub async fn time_out_stage(
    conn: &mut Conn,
    mut request: RequestRow,
    mut stage: StageRow,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let open = [row_facts(&stage)];
    stage.state = StageState::Expired;
    stage.completed_at = Some(now);
    let event = Event::StageTimedOut;
    let Some(t) = scheduled_step(conn, &request, &stage, &open, event, now).await? else {
        return Ok(());
    };
    db::requests::update_stage(conn, &stage).await?;
    set_state(&mut request, &t, now);
    db::requests::update(conn, &request).await?;
    let mut trail = Trail::default();
    carry_out(conn, &mut trail, &request, &t, Actor::System, None, now).await?;
    trail.write(conn).await
}
