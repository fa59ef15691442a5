//! The generated tenant: users in managed blocks, packages, assignments, API tokens
//! and browser sessions, written with set-based SQL.

use anyhow::Context;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{Args, BLOCK, TENANT};

/// What the generated tenant holds that scenarios need.
pub(crate) struct Data {
    pub(crate) tenant: Uuid,
    /// (user id, token) of requesting users, `clients` × users_per_client of them.
    pub(crate) requesters: Vec<(i64, String)>,
    /// token of each block manager, by block.
    pub(crate) managers: std::collections::HashMap<i64, String>,
    pub(crate) user_ids: Vec<Uuid>,
    pub(crate) package_ids: Vec<Uuid>,
    /// Browser session cookies of requesters (for the HTML pages).
    pub(crate) sessions: Vec<String>,
}

/// Builds the tenant with set-based SQL.
pub(crate) async fn generate(pool: &PgPool, args: &Args) -> anyhow::Result<Data> {
    let now = chrono::Utc::now();
    let input = portico::services::tenants::NewTenant {
        slug: portico::domain::values::Slug::parse(TENANT).map_err(|e| anyhow::anyhow!(e))?,
        display_name: portico::domain::values::DisplayName::parse("Bench")
            .map_err(|e| anyhow::anyhow!(e))?,
        admin_email: portico::domain::values::EmailAddress::parse("admin@bench.test")
            .map_err(|e| anyhow::anyhow!(e))?,
    };
    let (tenant, _) = portico::services::tenants::create(pool, input, now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let t = tenant.id.0;
    let mut conn = pool.acquire().await?;
    // Bulk load: the rows are consistent by construction, so foreign-key triggers are
    // skipped for this session (it needs a superuser) and commits are not waited for.
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await?;
    sqlx::query("set synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "create or replace function pg_temp.uuid7(ms bigint) returns uuid language sql as $$
           select (lpad(to_hex(ms), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid $$",
    )
    .execute(&mut *conn)
    .await?;
    let base_ms: i64 = now.timestamp_millis() - 10_000_000;
    let catalog: Uuid = sqlx::query_scalar("select id from catalogs where tenant_id = $1")
        .bind(t)
        .fetch_one(&mut *conn)
        .await?;
    // Users, each block of BLOCK managed by its first user.
    sqlx::query(
        "create temp table bench_users as
         select i, pg_temp.uuid7($2 + i) as id from generate_series(0, $1 - 1) i",
    )
    .bind(args.users)
    .bind(base_ms)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into users (tenant_id, id, email, display_name, department, job_title, manager_id, kind, active, created_at, updated_at)
         select $1, u.id, 'user' || u.i || '@bench.test', 'User ' || u.i, 'Dept ' || (u.i % 50), 'Engineer',
                null, 'member', true, now(), now()
         from bench_users u order by u.i",
    )
    .bind(t)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update users set manager_id = m.id from bench_users u, bench_users m
         where users.tenant_id = $1 and users.id = u.id and u.i % $2 <> 0 and m.i = u.i - u.i % $2",
    )
    .bind(t)
    .bind(BLOCK)
    .execute(&mut *conn)
    .await?;
    // Packages: one group each; even packages need no approval, odd ones the manager's.
    sqlx::query(
        "create temp table bench_packages as
         select i, pg_temp.uuid7($2 + i) as id, pg_temp.uuid7($2 + i) as group_id, pg_temp.uuid7($2 + i) as resource_id,
                pg_temp.uuid7($2 + i) as member_role, pg_temp.uuid7($2 + i) as owner_role, pg_temp.uuid7($2 + i) as policy_id
         from generate_series(0, $1 - 1) i",
    )
    .bind(args.packages)
    .bind(base_ms + args.users)
    .execute(&mut *conn)
    .await?;
    let words = "'Windows 11 Testing','Finance Reports','Sales CRM','Design Tools','Build Servers','HR Portal','Data Lake','Support Desk'";
    let statements = [
        "insert into groups (tenant_id, id, display_name, description, created_at, updated_at)
         select $1, group_id, 'Group ' || i, '', now(), now() from bench_packages".to_string(),
        "insert into resources (tenant_id, id, catalog_id, kind, group_id, display_name, description, added_by_tenant_admin, created_at, updated_at)
         select $1, resource_id, $2, 'group', group_id, 'Group ' || i, '', true, now(), now() from bench_packages".to_string(),
        "insert into resource_roles (tenant_id, id, resource_id, display_name, group_relation, created_at)
         select $1, member_role, resource_id, 'Member', 'member', now() from bench_packages
         union all select $1, owner_role, resource_id, 'Owner', 'owner', now() from bench_packages".to_string(),
        format!("insert into access_packages (tenant_id, id, catalog_id, display_name, description, hidden, created_at, updated_at)
         select $1, id, $2, (array[{words}])[1 + i % 8] || ' ' || i, 'Access package number ' || i || ' for benchmarking.', false, now(), now()
         from bench_packages"),
        "insert into access_package_roles (tenant_id, package_id, resource_role_id, created_at)
         select $1, id, member_role, now() from bench_packages".to_string(),
        "insert into policies (tenant_id, id, package_id, display_name, settings, created_at, updated_at)
         select $1, policy_id, id, 'Employees', case when i % 2 = 0 then $2::jsonb else $3::jsonb end, now(), now() from bench_packages".to_string(),
    ];
    let direct = json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterDays", "days": 365}});
    let staged = json!({"requestors": {"scope": "allMembers"}, "expiration": {"type": "afterDays", "days": 365},
                        "approval": {"stages": [{"approvers": [{"type": "manager"}], "timeoutDays": 14}]}});
    for sql in statements {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(t);
        if sql.contains("$3::jsonb") {
            q = q.bind(&direct).bind(&staged);
        } else if sql.contains("$2") {
            q = q.bind(catalog);
        }
        q.execute(&mut *conn)
            .await
            .with_context(|| sql.chars().take(40).collect::<String>())?;
    }
    // Assignments: user u holds packages (u + k × step) mod P for k < per_user.
    let per_user = (args.assignments / args.users).max(1);
    let step = (args.packages / (per_user + 1)).max(1);
    sqlx::query(
        "create temp table bench_assignments as
         select u.i as ui, u.id as user_id, k, p.id as package_id, p.policy_id, p.group_id, p.member_role,
                pg_temp.uuid7($4 + u.i * $1 + k) as id, pg_temp.uuid7($4 + u.i * $1 + k) as request_id
         from bench_users u cross join generate_series(0, $1 - 1) k
         join bench_packages p on p.i = (u.i + k * $2) % $3
         where u.i * $1 + k < $5",
    )
    .bind(per_user)
    .bind(step)
    .bind(args.packages)
    .bind(base_ms + args.users + args.packages)
    .bind(args.assignments)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into assignment_requests (tenant_id, id, request_type, state, package_id, policy_id, requestor_id, target_user_id,
             assignment_id, answers, schedule_start, created_at, updated_at, completed_at)
         select $1, request_id, 'adminAdd', 'delivered', package_id, policy_id, null, user_id, id, '[]', now(), now(), now(), now()
         from bench_assignments;
         ",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("requests")?;
    // The log of that history, one event per assignment (its request's creation), so the
    // audit log is as long as the tenant's history, for the planner too.
    sqlx::query(
        "insert into audit_events (tenant_id, id, at, actor_type, actor_id, action, target_type, target_id, details, target_name)
         select $1, request_id, now(), 'system', null, 'assignmentRequest.created', 'assignmentRequest', request_id,
                jsonb_build_object('requestType', 'adminAdd', 'assignmentId', id, 'state', 'delivered'), null
         from bench_assignments",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("audit events")?;
    // The history of the approval packages' assignments: the stage their manager (or, for
    // a manager, they themselves) approved, so the stage tables hold what a tenant's
    // would and the planner's statistics see it from the start.
    sqlx::query(
        "insert into request_stages (tenant_id, request_id, stage_index, state, decision_rule, approver_ids,
             require_justification, opened_at, due_at, completed_at)
         select $1, a.request_id, 0, 'approved', 'anyOne', array[coalesce(u.manager_id, a.user_id)], false,
                now() - interval '1 day', now() + interval '13 days', now()
         from bench_assignments a
         join bench_packages p on p.id = a.package_id
         join users u on u.tenant_id = $1 and u.id = a.user_id
         where p.i % 2 = 1",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("stages")?;
    sqlx::query(
        "insert into stage_decisions (tenant_id, request_id, stage_index, approver_id, decision, justification, decided_at)
         select tenant_id, request_id, 0, approver_ids[1], 'approve', null, completed_at
         from request_stages where tenant_id = $1",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("decisions")?;
    sqlx::query(
        "insert into assignments (tenant_id, id, package_id, policy_id, target_user_id, state, start_at, end_at, request_id, created_at, updated_at)
         select $1, id, package_id, policy_id, user_id, 'delivered', now(), now() + interval '365 days', request_id, now(), now()
         from bench_assignments",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("assignments")?;

    sqlx::query(
        "insert into assignment_grants (tenant_id, assignment_id, resource_role_id, state, updated_at)
         select $1, id, member_role, 'delivered', now() from bench_assignments",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("grants")?;
    sqlx::query(
        "insert into group_memberships (tenant_id, group_id, user_id, assignment_id, created_at)
         select $1, group_id, user_id, id, now() from bench_assignments",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .context("memberships")?;

    // Tokens: requesters are non-managers of the first blocks; their managers too.
    let per_client = 8usize;
    let wanted = args.clients * per_client;
    let mut requesters = Vec::new();
    let mut managers = std::collections::HashMap::new();
    let mut token_rows: Vec<(Uuid, Vec<u8>)> = Vec::new();
    let user_ids: Vec<Uuid> = sqlx::query_scalar("select id from bench_users order by i")
        .fetch_all(&mut *conn)
        .await?;
    let mut i: i64 = 0;
    while requesters.len() < wanted && i < args.users {
        let token = format!("ptc_bench{}", Uuid::new_v4().simple());
        let hash = portico::services::tokens::hash(&token);
        let uid = user_ids[usize::try_from(i)?];
        token_rows.push((uid, hash));
        if i % BLOCK == 0 {
            managers.insert(i / BLOCK, token);
        } else {
            requesters.push((i, token));
        }
        i += 1;
    }
    let (ids, hashes): (Vec<Uuid>, Vec<Vec<u8>>) = token_rows.into_iter().unzip();
    sqlx::query(
        "insert into api_tokens (tenant_id, id, user_id, name, token_hash, created_at)
         select $1, gen_random_uuid(), u, 'bench', h, now() from unnest($2::uuid[], $3::bytea[]) as x(u, h)",
    )
    .bind(t)
    .bind(&ids)
    .bind(&hashes)
    .execute(&mut *conn)
    .await?;
    let package_ids: Vec<Uuid> = sqlx::query_scalar("select id from bench_packages order by i")
        .fetch_all(&mut *conn)
        .await?;
    // Browser sessions for the portal pages: one per requester.
    let mut sessions = Vec::new();
    let (mut session_users, mut session_hashes) = (Vec::new(), Vec::new());
    for (i, _) in &requesters {
        let token = Uuid::new_v4().simple().to_string();
        session_hashes.push(portico::services::links::hash(&token));
        session_users.push(user_ids[usize::try_from(*i)?]);
        sessions.push(token);
    }
    sqlx::query(
        "insert into sessions (tenant_id, id, user_id, token_hash, csrf_token, method, created_at, last_seen_at, expires_at)
         select $1, gen_random_uuid(), u, h, md5(random()::text), 'dev', now(), now(), now() + interval '1 day'
         from unnest($2::uuid[], $3::bytea[]) as x(u, h)",
    )
    .bind(t)
    .bind(&session_users)
    .bind(&session_hashes)
    .execute(&mut *conn)
    .await?;
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await?;
    Ok(Data {
        sessions,
        tenant: t,
        requesters,
        managers,
        user_ids,
        package_ids,
    })
}
