//! The state every request handler and scheduled job shares: the pool, settings,
//! clock, mailer, outbound client, keys and limits of one running application.
//! Built by `startup`; depends on neither `web` nor `scheduler`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::clock::Clock;
use crate::config::Settings;
use crate::connectors::outbound::Outbound;
use crate::crypto::Keys;
use crate::email::Mailer;
use crate::rate_limit::ApiRateLimit;
use crate::services::oidc::Providers;

/// Shared, cheap to clone; holds no global state, so tests build many apps per process.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    pub(crate) settings: Settings,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) http: Outbound,
    pub(crate) providers: Providers,
    pub(crate) api_limit: ApiRateLimit,
    pub(crate) keys: Keys,
    pub(crate) demo_tenant: Option<String>,
    /// `/dev/mail/{random key of this run}` in demo mode.
    pub(crate) dev_mail_path: Option<String>,
}

impl AppState {
    pub(crate) fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }

    pub fn mailer(&self) -> &Arc<dyn Mailer> {
        &self.0.mailer
    }

    /// The client for every outbound call (webhook connectors and later ones): public
    /// addresses only, no redirects, bounded time.
    pub fn http(&self) -> &Outbound {
        &self.0.http
    }

    /// Identity providers' discovery documents and keys, cached for sign-ins.
    pub fn providers(&self) -> &Providers {
        &self.0.providers
    }

    /// The per-token API rate limit of this process.
    pub fn api_limit(&self) -> &ApiRateLimit {
        &self.0.api_limit
    }

    /// Keys derived from `PORTICO_SECRET_KEY` (CSRF signatures, sealed secrets).
    pub fn keys(&self) -> &Keys {
        &self.0.keys
    }

    pub fn metrics(&self) -> &PrometheusHandle {
        &self.0.metrics
    }

    /// In demo mode, where the dev mailbox is (a path with a key made for this run).
    pub fn dev_mail_path(&self) -> Option<String> {
        self.0.dev_mail_path.clone()
    }

    /// In demo mode, the slug of the demo tenant.
    pub fn demo_tenant(&self) -> Option<&str> {
        self.0.demo_tenant.as_deref()
    }
}
