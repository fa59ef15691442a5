//! Assigning a package to many people in one call (`adminAdd` requests): each row is
//! the request a single direct assignment would make, checked by the same rules under
//! its own savepoint; the whole call commits only when every row is good.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::input::{PersonRow, parse_csv, parse_emails};
use super::{BulkOutcome, RowResult, check_size, row_error};
use crate::db;
use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::ids::{GroupId, PackageId, PolicyId};
use crate::domain::request::RequestType;
use crate::services::audit::Trail;
use crate::services::requests::{self, RequestInput};
use crate::services::{Caller, ServiceError, ServiceResult};

/// Who is to be assigned.
#[derive(Clone, Debug)]
pub enum People {
    /// Pasted addresses (one a line; commas and semicolons separate too).
    Emails(String),
    /// A CSV with an `email` column and optional `end` and `justification` columns.
    Csv(String),
    /// Every direct member of a directory group.
    Group(GroupId),
}

/// A bulk assignment: the policy, the schedule and justification of every row (a CSV's
/// own `end` and `justification` cells take precedence), and the people.
#[derive(Clone, Debug)]
pub struct BulkAssignment {
    pub policy_id: Option<PolicyId>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub justification: Option<String>,
    pub people: People,
}

/// Assigns `package` to every person of `input`, or to nobody when any row is refused.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, package = %package))]
pub async fn assign(
    pool: &PgPool,
    caller: &Caller,
    package: PackageId,
    input: BulkAssignment,
    now: DateTime<Utc>,
) -> ServiceResult<BulkOutcome> {
    let tenant = caller.tenant_id();
    let mut tx = pool.begin().await?;
    let pkg = db::packages::get(&mut tx, tenant, package)
        .await?
        .ok_or(DomainError::NotFound("access package"))?;
    caller.require(Action::ManageAssignments(pkg.catalog_id))?;
    // The policy is one for the whole call: a wrong one is the call's error, not each row's.
    let policies = db::packages::policies_of(&mut tx, tenant, package).await?;
    let policy_id = match input.policy_id {
        Some(id) if policies.iter().any(|p| p.id == id) => id,
        Some(_) => {
            return Err(DomainError::field(
                "policyId",
                "this is not a policy of the access package",
            )
            .into());
        }
        None => match policies.as_slice() {
            [] => {
                return Err(DomainError::conflict(
                    "This access package has no policy yet, so it cannot be assigned.",
                )
                .into());
            }
            [one] => one.id,
            _ => {
                return Err(DomainError::field(
                    "policyId",
                    "this access package has several policies; choose one",
                )
                .into());
            }
        },
    };
    let (rows, field) = match &input.people {
        People::Emails(text) => (parse_emails(text), "emails"),
        People::Csv(text) => (parse_csv(text)?, "csv"),
        People::Group(group) => {
            db::groups::get(&mut tx, tenant, *group)
                .await?
                .ok_or_else(|| {
                    DomainError::field("groupId", format!("there is no group with id {group}"))
                })?;
            let emails = db::groups::direct_member_emails(&mut tx, tenant, *group).await?;
            let rows: Vec<PersonRow> = emails
                .into_iter()
                .enumerate()
                .map(|(i, email)| PersonRow {
                    row: i + 1,
                    email,
                    end: None,
                    justification: None,
                    error: None,
                })
                .collect();
            (rows, "groupId")
        }
    };
    check_size(rows.len(), field, "person")?;
    let emails: Vec<String> = rows.iter().map(|r| r.email.clone()).collect();
    let users: HashMap<String, _> = db::users::by_emails(&mut tx, tenant, &emails)
        .await?
        .into_iter()
        .map(|u| (u.email.to_lowercase(), u))
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut trail = Trail::default();
    let mut results = Vec::with_capacity(rows.len());
    for r in rows {
        let mut result = RowResult {
            row: r.row,
            email: r.email.clone(),
            assignment_id: None,
            error: r.error.clone(),
            request: None,
        };
        let key = r.email.to_lowercase();
        if result.error.is_none() {
            if let Some(first) = seen.get(&key) {
                result.error = Some((
                    "email".into(),
                    format!("this address is also on row {first}"),
                ));
            } else {
                seen.insert(key.clone(), r.row);
            }
        }
        let user = users.get(&key);
        if result.error.is_none() && user.is_none() {
            result.error = Some((
                "email".into(),
                format!("there is no user with the email address {}", r.email),
            ));
        }
        if let (None, Some(user)) = (&result.error, user) {
            result.email = user.email.clone();
            let request = RequestInput {
                request_type: RequestType::AdminAdd,
                access_package_id: Some(package),
                policy_id: Some(policy_id),
                target_user_id: Some(user.id),
                assignment_id: None,
                justification: r.justification.or_else(|| input.justification.clone()),
                answers: Vec::new(),
                start: input.start,
                end: r.end.or(input.end),
            };
            let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
            let mut row_trail = Trail::default();
            match requests::submit_in(&mut savepoint, &mut row_trail, caller, &request, now).await {
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
                    result.error = Some(row_error(&e, "email"));
                }
                Err(e) => return Err(e),
            }
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
