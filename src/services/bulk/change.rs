//! Removing or extending many assignments in one call (`adminRemove`, `adminUpdate`
//! requests). An extension must stay within each assignment's policy: extension
//! allowed, inside the window before the end, and no later than the policy's duration
//! allows; a row that breaks a cap is refused and then nothing is done.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{BulkOutcome, RowResult, check_size, row_error};
use crate::db;
use crate::db::assignments::AssignmentRow;
use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::ids::{AssignmentId, PolicyId};
use crate::domain::request::{RequestType, extended_end};
use crate::services::audit::Trail;
use crate::services::requests::{self, RequestInput};
use crate::services::{Caller, ServiceError, ServiceResult};
use crate::time_text::when;

/// Removes every assignment of `ids`, or none when any of them is refused.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, rows = ids.len()))]
pub async fn remove(
    pool: &PgPool,
    caller: &Caller,
    ids: Vec<AssignmentId>,
    now: DateTime<Utc>,
) -> ServiceResult<BulkOutcome> {
    change(pool, caller, ids, None, now).await
}

/// Extends every assignment of `ids` to `end`, or none when any of them is refused.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, rows = ids.len()))]
pub async fn extend(
    pool: &PgPool,
    caller: &Caller,
    ids: Vec<AssignmentId>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ServiceResult<BulkOutcome> {
    change(pool, caller, ids, Some(end), now).await
}

/// Whether the caller manages the assignments of any catalog (else the call is 403).
fn manages_any(caller: &Caller) -> bool {
    caller.roles.is_tenant_admin()
        || caller
            .roles
            .catalogs()
            .any(|c| caller.roles.allows(Action::ManageAssignments(c)))
}

async fn change(
    pool: &PgPool,
    caller: &Caller,
    ids: Vec<AssignmentId>,
    extend_to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ServiceResult<BulkOutcome> {
    if !manages_any(caller) {
        return Err(DomainError::forbidden(
            "Only admins and assignment managers may remove or extend assignments.",
        )
        .into());
    }
    check_size(ids.len(), "ids", "assignment")?;
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let mut policies: HashMap<PolicyId, Option<crate::db::packages::Policy>> = HashMap::new();
    let mut seen = HashSet::new();
    let mut trail = Trail::default();
    let mut results = Vec::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        let mut result = RowResult {
            row: i + 1,
            email: id.to_string(),
            assignment_id: Some(id),
            error: None,
            request: None,
        };
        let found: Option<AssignmentRow> = db::assignments::get(&mut tx, tenant, id).await?;
        if !seen.insert(id) {
            result.error = Some((
                "id".into(),
                "this assignment is also on an earlier row".into(),
            ));
        } else if let Some(a) = found {
            if let Some(user) = db::users::get(&mut tx, tenant, a.target_user_id).await? {
                result.email = user.email;
            }
            let mut end = None;
            if let Some(wanted) = extend_to {
                let policy = match policies.get(&a.policy_id) {
                    Some(p) => p.clone(),
                    None => {
                        let p = db::packages::get_policy(&mut tx, tenant, a.policy_id).await?;
                        policies.insert(a.policy_id, p.clone());
                        p
                    }
                };
                let cap = policy
                    .ok_or_else(|| anyhow::anyhow!("policy of assignment {id} vanished"))
                    .map(|p| extended_end(&p.settings.0, a.end_at, None, now))?;
                match cap {
                    Err(e) => result.error = Some(row_error(&e, "id")),
                    Ok(cap) if wanted > cap => {
                        result.error = Some((
                            "end".into(),
                            format!(
                                "the policy allows extending this assignment until {} at the latest",
                                when(cap)
                            ),
                        ));
                    }
                    Ok(_) => end = Some(wanted),
                }
            }
            if result.error.is_none() {
                let request = RequestInput {
                    request_type: if extend_to.is_some() {
                        RequestType::AdminUpdate
                    } else {
                        RequestType::AdminRemove
                    },
                    access_package_id: Some(a.package_id),
                    policy_id: None,
                    target_user_id: Some(a.target_user_id),
                    assignment_id: Some(a.id),
                    justification: None,
                    answers: Vec::new(),
                    start: None,
                    end,
                };
                let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
                let mut row_trail = Trail::default();
                match requests::submit_in(&mut savepoint, &mut row_trail, caller, &request, now)
                    .await
                {
                    Ok(view) => {
                        savepoint.commit().await?;
                        trail.append(row_trail);
                        if trail.pending() >= super::TRAIL_FLUSH {
                            trail.flush(&mut tx).await?;
                        }
                        result.request = Some(view.request);
                    }
                    Err(ServiceError::Domain(e)) => {
                        savepoint.rollback().await?;
                        result.error = Some(row_error(&e, "id"));
                    }
                    Err(e) => return Err(e),
                }
            }
        } else {
            result.error = Some(("id".into(), format!("there is no assignment with id {id}")));
        }
        results.push(result);
    }
    let mut outcome = BulkOutcome::new(results);
    if !outcome.done {
        tx.rollback().await?;
        outcome.rows.iter_mut().for_each(|r| r.request = None);
        return Ok(outcome);
    }
    trail.write(&mut tx).await?;
    tx.commit().await?;
    Ok(outcome)
}
