//! Emailed approval links: hashed single-use tokens bound to one approver and stage.

use chrono::{DateTime, Utc};

use sqlx::types::Json;

use super::packages::Policy;
use super::{Conn, DbResult};
use crate::domain::ids::{TenantId, UserId};
pub use crate::model::links::ApprovalLink;
use crate::model::requests::{DecisionRow, RequestRow, StageRow};
use crate::model::tenants::Tenant;
use crate::model::users::User;

pub async fn insert(conn: &mut Conn, l: &ApprovalLink) -> DbResult<()> {
    sqlx::query(
        "insert into approval_links (tenant_id, id, token_hash, request_id, stage_index, approver_id, expires_at, used_at, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(l.tenant_id)
    .bind(l.id)
    .bind(&l.token_hash)
    .bind(l.request_id)
    .bind(l.stage_index)
    .bind(l.approver_id)
    .bind(l.expires_at)
    .bind(l.used_at)
    .bind(l.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The link with this token hash, in any tenant (the token names its tenant).
pub async fn by_hash(conn: &mut Conn, hash: &[u8]) -> DbResult<Option<ApprovalLink>> {
    Ok(sqlx::query_as(
        "select tenant_id, id, token_hash, request_id, stage_index, approver_id, expires_at, used_at, created_at
         from approval_links where token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

pub async fn mark_used(
    conn: &mut Conn,
    tenant: TenantId,
    id: uuid::Uuid,
    at: DateTime<Utc>,
) -> DbResult<bool> {
    let done = sqlx::query("update approval_links set used_at = $3 where tenant_id = $1 and id = $2 and used_at is null")
        .bind(tenant)
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every unused link of a user at once (deactivation).
pub async fn expire_all_of_user(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    at: DateTime<Utc>,
) -> DbResult<u64> {
    let done = sqlx::query(
        "update approval_links set expires_at = least(expires_at, $3) where tenant_id = $1 and approver_id = $2 and used_at is null",
    )
    .bind(tenant)
    .bind(user)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Everything a link's page shows besides the link and its request, read in one
/// statement: the tenant, the package's name, the request's stages and decisions (in
/// stage, then decision order), the people it names (`people` and every decider) and
/// the policy.
#[derive(Debug, sqlx::FromRow)]
pub struct PageFacts {
    pub tenant: Json<Tenant>,
    pub package_name: Option<String>,
    pub stages: Json<Vec<StageRow>>,
    pub decisions: Json<Vec<DecisionRow>>,
    pub users: Json<Vec<User>>,
    pub policy: Option<Json<Policy>>,
}

/// [`PageFacts`] of a request, or `None` when its tenant does not exist.
pub async fn page_facts(
    conn: &mut Conn,
    tenant: TenantId,
    request: &RequestRow,
    people: &[UserId],
) -> DbResult<Option<PageFacts>> {
    Ok(sqlx::query_as(
        "select to_jsonb(t) as tenant,
                (select p.display_name from access_packages p where p.tenant_id = $1 and p.id = $3) as package_name,
                coalesce((select jsonb_agg(to_jsonb(s) order by s.stage_index) from request_stages s
                          where s.tenant_id = $1 and s.request_id = $2), '[]'::jsonb) as stages,
                coalesce((select jsonb_agg(to_jsonb(d) order by d.stage_index, d.decided_at, d.approver_id)
                          from stage_decisions d where d.tenant_id = $1 and d.request_id = $2), '[]'::jsonb) as decisions,
                coalesce((select jsonb_agg(to_jsonb(u)) from users u
                          where u.tenant_id = $1
                            and u.id = any($5::uuid[] || array(select d.approver_id from stage_decisions d
                                                               where d.tenant_id = $1 and d.request_id = $2))),
                         '[]'::jsonb) as users,
                (select to_jsonb(po) from policies po where po.tenant_id = $1 and po.id = $4) as policy
         from tenants t where t.id = $1",
    )
    .bind(tenant)
    .bind(request.id)
    .bind(request.package_id)
    .bind(request.policy_id)
    .bind(people)
    .fetch_optional(conn)
    .await?)
}
