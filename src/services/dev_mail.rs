//! The demo's dev mailbox: `portico demo` without `PORTICO_SMTP_URL` keeps every email
//! in the database instead of sending it, and shows them at `/dev/mail/{key}`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::clock::Clock;
use crate::db::{self};
use crate::email::{Email, Mailer, SendFuture};
use crate::paging::{Page, PageRequest};

/// One kept message.
#[derive(Clone, Debug)]
pub struct DevMessage {
    pub id: Uuid,
    pub tenant_slug: Option<String>,
    pub message_id: String,
    pub from_name: String,
    pub to_address: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: DateTime<Utc>,
}

impl From<db::dev_mail::DevMessage> for DevMessage {
    fn from(m: db::dev_mail::DevMessage) -> Self {
        Self {
            id: m.id,
            tenant_slug: m.tenant_slug,
            message_id: m.message_id,
            from_name: m.from_name,
            to_address: m.to_address,
            reply_to: m.reply_to,
            subject: m.subject,
            text_body: m.text_body,
            html_body: m.html_body,
            created_at: m.created_at,
        }
    }
}

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
                &db::dev_mail::DevMessage {
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
#[tracing::instrument(skip_all)]
pub async fn list(
    pool: &PgPool,
    tenant: &str,
    page: PageRequest,
) -> anyhow::Result<Page<DevMessage>> {
    let mut conn = pool.acquire().await.map_err(db::DbError::from)?;
    let page = db::dev_mail::list(&mut conn, tenant, page).await?;
    Ok(page.map(DevMessage::from))
}

/// One kept message of `tenant`.
#[tracing::instrument(skip_all)]
pub async fn get(pool: &PgPool, tenant: &str, id: Uuid) -> anyhow::Result<Option<DevMessage>> {
    let mut conn = pool.acquire().await.map_err(db::DbError::from)?;
    Ok(db::dev_mail::get(&mut conn, tenant, id)
        .await?
        .map(DevMessage::from))
}
