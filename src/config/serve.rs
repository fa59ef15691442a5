//! What `serve` needs beyond what the settings parser accepts.

use super::{Settings, SettingsError, bad};

impl Settings {
    /// `serve` refuses to start without what production needs.
    pub fn require_for_serve(&self) -> Result<(), SettingsError> {
        if self.base_url.is_none() {
            return Err(bad(
                "PORTICO_BASE_URL",
                "is required by 'serve' (the address people use to reach Portico, for links in emails)",
            ));
        }
        if self.smtp_url.is_none() {
            return Err(bad(
                "PORTICO_SMTP_URL",
                "is required by 'serve' (smtp://host:port, smtps://user:pass@host, or 'log')",
            ));
        }
        if self.secret_key.is_none() {
            return Err(bad(
                "PORTICO_SECRET_KEY",
                "is required by 'serve' (any string of at least 32 characters)",
            ));
        }
        // Logged emails carry working sign-in and approval links to whoever reads the
        // logs; a server keeps them out unless its operator says otherwise.
        if self.smtp_url.as_ref().is_some_and(|u| u.expose() == "log") && !self.allow_mail_log {
            return Err(bad(
                "PORTICO_ALLOW_MAIL_LOG",
                "PORTICO_SMTP_URL=log writes emails to the log; 'serve' needs an SMTP server, or PORTICO_ALLOW_MAIL_LOG=true to accept that",
            ));
        }
        Ok(())
    }
}
