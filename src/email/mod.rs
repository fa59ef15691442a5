//! Outgoing email. `Mailer` is the seam: SMTP in production, the log when
//! `PORTICO_SMTP_URL=log`, a dev mailbox in demo, and a recorder in tests (which read
//! what was sent and follow its links, as a person would).

pub mod dev_mailbox;
pub mod render;
pub mod smtp;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::config::Settings;

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// Stable across retries, so receivers can drop duplicates.
    pub message_id: String,
    /// The slug of the tenant the email is sent for.
    pub tenant: String,
    pub from_name: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

pub trait Mailer: Send + Sync + 'static {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a>;
}

/// Writes each email to the log instead of sending it.
#[derive(Debug, Default)]
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a> {
        Box::pin(async move {
            tracing::info!(to = %email.to, subject = %email.subject, message_id = %email.message_id,
                body = %email.text, "email (PORTICO_SMTP_URL=log)");
            Ok(())
        })
    }
}

/// Keeps every message in memory (tests, and the demo's dev mailbox).
#[derive(Debug, Default, Clone)]
pub struct RecordingMailer {
    sent: Arc<Mutex<Vec<Email>>>,
}

impl RecordingMailer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far, oldest first.
    pub fn sent(&self) -> Vec<Email> {
        match self.sent.lock() {
            Ok(sent) => sent.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Mailer for RecordingMailer {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a> {
        Box::pin(async move {
            match self.sent.lock() {
                Ok(mut sent) => sent.push(email.clone()),
                Err(poisoned) => poisoned.into_inner().push(email.clone()),
            }
            Ok(())
        })
    }
}

/// The mailer `PORTICO_SMTP_URL` names: `log` writes emails to the log, an SMTP URL
/// sends them. `None` when the variable is not set (the caller decides: `serve`
/// refuses to start, `demo` keeps emails in its dev mailbox).
pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Arc<dyn Mailer>>> {
    match settings.smtp_url.as_ref().map(|s| s.expose()) {
        None => Ok(None),
        Some("log") => Ok(Some(Arc::new(LogMailer))),
        Some(url) => Ok(Some(Arc::new(smtp::SmtpMailer::with_connections(
            url,
            &settings.mail_from,
            settings.smtp_connections,
        )?))),
    }
}
