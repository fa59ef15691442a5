//! The production mailer: SMTP through lettre, configured by `PORTICO_SMTP_URL`
//! (`smtp://host:port` plain, AUTH with `user:pass@`; `?tls=required` STARTTLS;
//! `smtps://` implicit TLS; rustls, like the HTTP client). Each email is a
//! multipart/alternative of its text and HTML parts, with the `Message-ID` the outbox
//! gave it, so a retried message is recognisably the same one.

use std::time::Duration;

use anyhow::Context;
use lettre::message::header::ContentTransferEncoding;
use lettre::message::{Body, Mailbox, MultiPart, SinglePart, header};
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Email, Mailer, SendFuture};

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The longest line a 7bit body may carry (RFC 5322: 998 characters plus CRLF).
const MAX_LINE: usize = 998;

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds credentials: never print it.
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the mailer from `PORTICO_SMTP_URL` and `PORTICO_MAIL_FROM`, keeping up to
    /// the default number of connections open.
    pub fn from_url(url: &str, from: &str) -> anyhow::Result<Self> {
        Self::with_connections(url, from, crate::config::DEFAULT_SMTP_CONNECTIONS)
    }

    /// As `from_url`, with at most `connections` SMTP connections (kept open and reused).
    pub fn with_connections(url: &str, from: &str, connections: usize) -> anyhow::Result<Self> {
        let pool = PoolConfig::new().max_size(u32::try_from(connections).unwrap_or(u32::MAX));
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| {
                anyhow::anyhow!("PORTICO_SMTP_URL: not a usable SMTP URL ({e}); use smtp://host:port, smtp://user:pass@host:587?tls=required or smtps://user:pass@host")
            })?
            .timeout(Some(TIMEOUT))
            .pool_config(pool)
            .build();
        let from: Address = from
            .parse()
            .with_context(|| format!("PORTICO_MAIL_FROM: '{from}' is not an email address"))?;
        Ok(Self { transport, from })
    }

    /// The message as it goes on the wire.
    pub fn message(&self, email: &Email) -> anyhow::Result<Message> {
        let to: Mailbox = email
            .to
            .parse()
            .with_context(|| format!("'{}' is not an email address", email.to))?;
        let mut builder = Message::builder()
            .from(Mailbox::new(
                Some(email.from_name.clone()),
                self.from.clone(),
            ))
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()));
        if let Some(reply_to) = &email.reply_to {
            let reply_to: Mailbox = reply_to
                .parse()
                .with_context(|| format!("the tenant's Reply-To '{reply_to}' is not valid"))?;
            builder = builder.reply_to(reply_to);
        }
        let body = MultiPart::alternative()
            .singlepart(text_part(&email.text))
            .singlepart(SinglePart::html(email.html.clone()));
        builder.multipart(body).context("building the MIME message")
    }
}

/// The text part. Plain ASCII goes as 7bit with its lines intact (the `Approve: ` and
/// `Deny: ` lines stay whole even in the raw message); anything else lets lettre pick
/// quoted-printable or base64, which mail clients decode back to the same lines.
fn text_part(text: &str) -> SinglePart {
    let seven_bit = text.is_ascii()
        && !text.contains('\0')
        && text
            .lines()
            .all(|l| l.len() <= MAX_LINE && !l.contains('\r'));
    if seven_bit {
        let mut crlf = text.lines().collect::<Vec<_>>().join("\r\n");
        crlf.push_str("\r\n");
        SinglePart::builder()
            .header(header::ContentType::TEXT_PLAIN)
            .body(Body::dangerous_pre_encoded(
                crlf.into_bytes(),
                ContentTransferEncoding::SevenBit,
            ))
    } else {
        SinglePart::plain(text.to_string())
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, email: &'a Email) -> SendFuture<'a> {
        Box::pin(async move {
            let message = self.message(email)?;
            self.transport
                .send(message)
                .await
                .map_err(|e| anyhow::anyhow!("SMTP: {e}"))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> Email {
        Email {
            tenant: "contoso".into(),
            message_id: "<0190-abc@portico>".into(),
            from_name: "Contoso".into(),
            to: "megan@contoso.test".into(),
            reply_to: Some("help@contoso.test".into()),
            subject: "Approval needed".into(),
            text: text.into(),
            html: "<p>Hi</p>".into(),
        }
    }

    // The pooled transport starts its housekeeping task on the Tokio runtime.
    #[tokio::test]
    async fn an_ascii_text_part_keeps_long_link_lines_whole() {
        let mailer =
            SmtpMailer::from_url("smtp://127.0.0.1:2525", "portico@example.com").expect("mailer");
        let url = format!(
            "https://portico.example.com/links/{}/approve",
            "A".repeat(43)
        );
        let raw = mailer
            .message(&email(&format!("Hello\n\nApprove: {url}\n")))
            .expect("message")
            .formatted();
        let raw = String::from_utf8(raw).expect("utf-8");
        assert!(raw.contains(&format!("\r\nApprove: {url}\r\n")), "{raw}");
        assert!(raw.contains("Message-ID: <0190-abc@portico>"), "{raw}");
        assert!(raw.contains("From: Contoso <portico@example.com>"), "{raw}");
        assert!(raw.contains("Reply-To: help@contoso.test"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
    }

    // The pooled transport starts its housekeeping task on the Tokio runtime.
    #[tokio::test]
    async fn plain_starttls_and_implicit_tls_urls_build_a_mailer() {
        for url in [
            "smtp://127.0.0.1:1025",
            "smtp://user:pass@mail.example.com:587?tls=required",
            "smtps://user:pass@mail.example.com",
        ] {
            let mailer = SmtpMailer::from_url(url, "portico@example.com");
            assert!(mailer.is_ok(), "{url}: {:?}", mailer.err());
            // Credentials never reach a log line.
            assert!(!format!("{:?}", mailer.ok()).contains("pass"));
        }
    }

    // The pooled transport starts its housekeeping task on the Tokio runtime.
    #[tokio::test]
    async fn bad_urls_and_addresses_are_refused_with_the_variable_named() {
        let e = SmtpMailer::from_url("http://mail", "portico@example.com").expect_err("url");
        assert!(e.to_string().contains("PORTICO_SMTP_URL"), "{e}");
        let e = SmtpMailer::from_url("smtp://localhost:25", "nobody").expect_err("from");
        assert!(e.to_string().contains("PORTICO_MAIL_FROM"), "{e}");
    }
}
