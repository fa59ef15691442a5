//! The database ceiling of the write scenarios: the same rows written directly, without
//! HTTP, to show how close the server comes to what the database allows.

use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::Args;
use crate::seed::Data;

/// Which writes a ceiling measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ceiling {
    /// A no-approval submission: the delivery's rows.
    Submit,
    /// An approval that completes the last stage: the decision's bookkeeping, then the
    /// same delivery rows.
    Approve,
}

/// The database ceiling: the rows a scenario writes, issued directly (no HTTP, no
/// reads beyond the lock) by `clients` connections for up to 5 seconds.
pub(crate) async fn ceiling(
    pool: &PgPool,
    data: &Data,
    args: &Args,
    kind: Ceiling,
) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(args.seconds.min(5));
    let started = Instant::now();
    let tenant = data.tenant;
    let clients = args.clients;
    let mut handles = Vec::new();
    for c in 0..clients {
        let pool = pool.clone();
        let users = data.user_ids.clone();
        let packages = data.package_ids.clone();
        handles.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut i = c;
            while Instant::now() < deadline {
                let user = users[users.len() - 1 - i % users.len()];
                let package = packages[(i * 7) % packages.len()];
                i += clients;
                let mut tx = pool.begin().await?;
                sqlx::query("select 1 from users where tenant_id = $1 and id = $2 for update")
                    .bind(tenant)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                if kind == Ceiling::Approve {
                    decision_writes(&mut tx, tenant, user).await?;
                }
                delivery_writes(&mut tx, tenant, user, package).await?;
                tx.commit().await?;
                n += 1;
            }
            Ok::<_, anyhow::Error>(n)
        }));
    }
    let mut total = 0u64;
    for h in handles {
        total += h.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Request, assignment, grant, membership, two audit events and an email row.
pub(crate) async fn delivery_writes(
    tx: &mut PgConnection,
    tenant: Uuid,
    user: Uuid,
    package: Uuid,
) -> anyhow::Result<()> {
    let request = Uuid::now_v7();
    let assignment = Uuid::now_v7();
    sqlx::query("insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id, target_user_id, answers, created_at, updated_at)
                 select $1, $2, 'userAdd', 'delivered', $3, p.id, $4, $4, '[]', now(), now() from policies p where p.tenant_id = $1 and p.package_id = $3")
        .bind(tenant).bind(request).bind(package).bind(user).execute(&mut *tx).await?;
    sqlx::query("insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, request_id, created_at, updated_at)
                 select $1, $2, $3, policy_id, $4, 'removed', now(), $5, now(), now() from assignment_requests where tenant_id = $1 and id = $5")
        .bind(tenant).bind(assignment).bind(package).bind(user).bind(request).execute(&mut *tx).await?;
    sqlx::query("insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, updated_at)
                 select $1, $2, resource_role_id, 'delivered', now() from access_package_roles where tenant_id = $1 and package_id = $3")
        .bind(tenant).bind(assignment).bind(package).execute(&mut *tx).await?;
    sqlx::query("insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at)
                 select $1, r.group_id, $3, $2, now() from access_package_roles p join resource_roles rr on rr.tenant_id = p.tenant_id and rr.id = p.resource_role_id
                 join resources r on r.tenant_id = rr.tenant_id and r.id = rr.resource_id where p.tenant_id = $1 and p.package_id = $4")
        .bind(tenant).bind(assignment).bind(user).bind(package).execute(&mut *tx).await?;
    sqlx::query("insert into audit_events (tenant_id, id, at, actor_type, actor_id, action, target_type, target_id, details)
                 values ($1, $2, now(), 'user', $3, 'assignmentRequest.created', 'assignmentRequest', $4, '{}'), ($1, $5, now(), 'system', null, 'assignment.created', 'assignment', $6, '{}')")
        .bind(tenant).bind(Uuid::now_v7()).bind(user).bind(request).bind(Uuid::now_v7()).bind(assignment).execute(&mut *tx).await?;
    sqlx::query("insert into outbox (tenant_id, id, kind, payload, next_attempt_at, created_at, state) values ($1, $2, 'email', '{}', now(), now(), 'done')")
        .bind(tenant).bind(Uuid::now_v7()).execute(&mut *tx).await?;
    Ok(())
}

/// Lock the user's latest request, record decision audit events, touch a row.
pub(crate) async fn decision_writes(
    tx: &mut PgConnection,
    tenant: Uuid,
    user: Uuid,
) -> anyhow::Result<()> {
    sqlx::query("select id from assignment_requests where tenant_id = $1 and target_user_id = $2 order by id desc limit 1 for update")
        .bind(tenant).bind(user).execute(&mut *tx).await?;
    sqlx::query("insert into audit_events (tenant_id, id, at, actor_type, actor_id, action, target_type, target_id, details)
                 values ($1, $2, now(), 'user', $3, 'assignmentRequest.decided', 'assignmentRequest', $3, '{}'),
                        ($1, $4, now(), 'user', $3, 'assignmentRequest.approved', 'assignmentRequest', $3, '{}')")
        .bind(tenant).bind(Uuid::now_v7()).bind(user).bind(Uuid::now_v7()).execute(&mut *tx).await?;
    sqlx::query("update users set updated_at = now() where tenant_id = $1 and id = $2")
        .bind(tenant)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
