//! Outgoing email. `Mailer` is the seam: SMTP in production, the log when
//! `PORTICO_SMTP_URL=log`, a dev mailbox in demo, and a recorder in tests (which read
//! what was sent and follow its links, as a person would).

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

/// Writes each email to the log instead of sending it, with the tokens of its
/// sign-in and approval links blanked: whoever reads logs must not be able to sign in
/// or decide as the recipient.
#[derive(Debug, Default)]
pub struct LogMailer;

impl Mailer for LogMailer {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a> {
        Box::pin(async move {
            let body = redact_link_tokens(&email.text);
            tracing::info!(to = %email.to, subject = %email.subject, message_id = %email.message_id,
                body = %body, "email (PORTICO_SMTP_URL=log)");
            Ok(())
        })
    }
}

/// Stands in for a link token where a log shows a path or a link.
pub const REDACTED: &str = "[redacted]";

/// `text` with the token after each `/links/` and `/sign-in/` replaced by `[redacted]`
/// (the emailed approval and sign-in links).
pub fn redact_link_tokens(text: &str) -> String {
    const MARKERS: [&str; 2] = ["/links/", "/sign-in/"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = MARKERS
            .iter()
            .filter_map(|m| rest.find(m).map(|at| (at, m.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        let (head, tail) = rest.split_at(at + len);
        out.push_str(head);
        let token_len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(tail.len());
        if token_len > 0 {
            out.push_str(REDACTED);
        }
        rest = &tail[token_len..];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_emails_have_their_link_tokens_redacted() {
        let text = "Approve: https://p.example/links/AbC-12_x/approve\nDeny: https://p.example/links/AbC-12_x/deny\n\
                    Sign in: https://p.example/t/contoso/sign-in/Zz9-_q\nPortal: https://p.example/t/contoso/";
        let redacted = redact_link_tokens(text);
        assert_eq!(
            redacted,
            "Approve: https://p.example/links/[redacted]/approve\nDeny: https://p.example/links/[redacted]/deny\n\
             Sign in: https://p.example/t/contoso/sign-in/[redacted]\nPortal: https://p.example/t/contoso/"
        );
        assert!(!redacted.contains("AbC-12_x") && !redacted.contains("Zz9-_q"));
        assert_eq!(
            redact_link_tokens("no links, only /t/x/sign-in?next=/t/x/"),
            "no links, only /t/x/sign-in?next=/t/x/"
        );
    }
}
