//! The demo's dev mailbox: messages kept instead of sent (`portico demo` without
//! `PORTICO_SMTP_URL`). Not tenant-owned; only mounted in demo mode.

use uuid::Uuid;

use super::{Conn, DbResult, Page, PageRequest};
pub use crate::model::dev_mail::DevMessage;

const COLUMNS: &str = "id, tenant_slug, message_id, from_name, to_address, reply_to, subject, text_body, html_body, created_at";

pub async fn insert(conn: &mut Conn, m: &DevMessage) -> DbResult<()> {
    sqlx::query(
        "insert into dev_mail_messages (id, message_id, from_name, to_address, reply_to, subject, text_body, html_body, created_at, tenant_slug)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(m.id)
    .bind(&m.message_id)
    .bind(&m.from_name)
    .bind(&m.to_address)
    .bind(&m.reply_to)
    .bind(&m.subject)
    .bind(&m.text_body)
    .bind(&m.html_body)
    .bind(m.created_at)
    .bind(&m.tenant_slug)
    .execute(conn)
    .await?;
    Ok(())
}

/// The messages of one tenant, newest first.
pub async fn list(conn: &mut Conn, tenant: &str, page: PageRequest) -> DbResult<Page<DevMessage>> {
    let rows: Vec<DevMessage> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from dev_mail_messages where tenant_slug = $3 and id < $1 order by id desc limit $2"
    )))
    .bind(page.before_bound())
    .bind(page.fetch_limit())
    .bind(tenant)
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page, |m| m.id))
}

/// One message of `tenant`.
pub async fn get(conn: &mut Conn, tenant: &str, id: Uuid) -> DbResult<Option<DevMessage>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from dev_mail_messages where id = $1 and tenant_slug = $2"
    )))
    .bind(id)
    .bind(tenant)
    .fetch_optional(conn)
    .await?)
}
