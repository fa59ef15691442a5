//! Emailed approval links: hashed single-use tokens bound to one approver and stage.

use chrono::{DateTime, Utc};

use super::{Conn, DbResult};
use crate::domain::ids::{TenantId, UserId};
pub use crate::model::links::ApprovalLink;

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
