//! The demo's dev mailbox: `portico demo` without `PORTICO_SMTP_URL` keeps every email
//! in the database instead of sending it, and shows them at `/dev/mail/{key}`.

use std::sync::Arc;

use sqlx::PgPool;
use uuid::Uuid;

use super::{Email, Mailer, SendFuture};
use crate::clock::Clock;
use crate::db::dev_mail::DevMessage;
use crate::db::{self, DbResult, Page, PageRequest};

pub struct DevMailbox {
    pool: PgPool,
    clock: Arc<dyn Clock>,
}

impl DevMailbox {
    pub fn new(pool: PgPool, clock: Arc<dyn Clock>) -> Self {
        Self { pool, clock }
    }
}

impl Mailer for DevMailbox {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            db::dev_mail::insert(
                &mut conn,
                &DevMessage {
                    id: Uuid::now_v7(),
                    tenant_slug: Some(email.tenant.clone()),
                    message_id: email.message_id.clone(),
                    from_name: email.from_name.clone(),
                    to_address: email.to.clone(),
                    reply_to: email.reply_to.clone(),
                    subject: email.subject.clone(),
                    text_body: email.text.clone(),
                    html_body: email.html.clone(),
                    created_at: self.clock.now(),
                },
            )
            .await?;
            tracing::info!(to = %email.to, subject = %email.subject, "email kept in the dev mailbox");
            Ok(())
        })
    }
}

/// The kept messages of `tenant`, newest first.
pub async fn list(pool: &PgPool, tenant: &str, page: PageRequest) -> DbResult<Page<DevMessage>> {
    let mut conn = pool.acquire().await?;
    db::dev_mail::list(&mut conn, tenant, page).await
}

/// One kept message of `tenant`.
pub async fn get(pool: &PgPool, tenant: &str, id: Uuid) -> DbResult<Option<DevMessage>> {
    let mut conn = pool.acquire().await?;
    db::dev_mail::get(&mut conn, tenant, id).await
}
