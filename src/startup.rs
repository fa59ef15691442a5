//! `Application::build(settings)`: database (URL or private cluster), migrations,
//! shared state, router and listener; `run_until_stopped` serves until SIGINT/SIGTERM,
//! then finishes open requests, closes the pool and stops the private cluster.

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::net::TcpListener;

use crate::clock::{Clock, SystemClock};
use crate::config::{Secret, Settings};
use crate::connectors::outbound::Outbound;
use crate::crypto::Keys;
use crate::db::{self, embedded::ClusterOptions, embedded::PrivateCluster};
use crate::email::{LogMailer, Mailer};
use crate::rate_limit::ApiRateLimit;
use crate::state::{AppState, Inner};

/// The metrics recorder is process-wide by the `metrics` crate's design; every app in
/// the process renders from the same registry.
fn metrics_handle() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    ],
                )
                .and_then(|b| b.install_recorder())
                .map_err(|e| format!("installing the metrics recorder: {e}"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// Where the data lives: `DATABASE_URL`, or the private cluster (kept running while
/// this value lives).
pub struct Database {
    pub pool: PgPool,
    pub cluster: Option<PrivateCluster>,
    /// Migrated already, by another role than the pool's (which may not).
    pub migrated: bool,
}

impl Database {
    /// For servers: a private cluster is stopped when the server stops.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        Self::open_with(settings, ClusterOptions::default()).await
    }

    /// For one-shot commands: a private cluster that a running server uses stays up.
    pub async fn open_for_command(settings: &Settings) -> anyhow::Result<Self> {
        let options = ClusterOptions {
            adopt: false,
            ..ClusterOptions::default()
        };
        Self::open_with(settings, options).await
    }

    async fn open_with(settings: &Settings, options: ClusterOptions) -> anyhow::Result<Self> {
        match &settings.database_url {
            Some(url) if settings.runtime_database_url.is_some() => {
                Self::open_as_runtime_role(url, settings).await
            }
            Some(url) => {
                let options = PgConnectOptions::from_str(url.expose()).context(
                    "DATABASE_URL: not a PostgreSQL URL such as postgres://user:pass@host/db",
                )?;
                let pool = db::connect(options, 20)
                    .await
                    .context("DATABASE_URL: cannot connect to the database")?;
                Ok(Self {
                    pool,
                    cluster: None,
                    migrated: false,
                })
            }
            None => {
                let data_dir = settings.data_dir.clone();
                let cluster =
                    tokio::task::spawn_blocking(move || PrivateCluster::start(&data_dir, options))
                        .await
                        .context("starting the private PostgreSQL cluster")??;
                db::ensure_database(cluster.connect_options("postgres"), "portico")
                    .await
                    .context("creating the 'portico' database in the private cluster")?;
                let pool = db::connect(cluster.connect_options("portico"), 20)
                    .await
                    .context("connecting to the private cluster")?;
                Ok(Self {
                    pool,
                    cluster: Some(cluster),
                    migrated: false,
                })
            }
        }
    }

    /// Migrates as the owner (`DATABASE_URL`), grants the runtime role its rights, and
    /// serves through the runtime role (`PORTICO_RUNTIME_DATABASE_URL`).
    async fn open_as_runtime_role(owner_url: &Secret, settings: &Settings) -> anyhow::Result<Self> {
        let Some(runtime_url) = &settings.runtime_database_url else {
            anyhow::bail!("PORTICO_RUNTIME_DATABASE_URL: not set");
        };
        let owner_options = PgConnectOptions::from_str(owner_url.expose())
            .context("DATABASE_URL: not a PostgreSQL URL such as postgres://user:pass@host/db")?;
        let runtime_options = PgConnectOptions::from_str(runtime_url.expose()).context(
            "PORTICO_RUNTIME_DATABASE_URL: not a PostgreSQL URL such as postgres://portico_app:pass@host/db",
        )?;
        let owner = db::connect(owner_options, 2)
            .await
            .context("DATABASE_URL: cannot connect to the database")?;
        let prepared = async {
            db::migrate(&owner)
                .await
                .context("applying database migrations")?;
            db::grant_runtime_role(&owner, runtime_options.get_username())
                .await
                .context("granting the runtime role (PORTICO_RUNTIME_DATABASE_URL) its rights; does the role exist?")
        }
        .await;
        owner.close().await;
        prepared?;
        let pool = db::connect(runtime_options, 20)
            .await
            .context("PORTICO_RUNTIME_DATABASE_URL: cannot connect to the database")?;
        Ok(Self {
            pool,
            cluster: None,
            migrated: true,
        })
    }

    /// Closes the pool, then stops the private cluster if there is one.
    pub async fn close(mut self) {
        self.pool.close().await;
        if let Some(mut cluster) = self.cluster.take() {
            let stopped = tokio::task::spawn_blocking(move || cluster.stop()).await;
            match stopped {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "stopping the private cluster"),
                Err(e) => tracing::error!(error = %e, "stopping the private cluster"),
            }
        }
    }
}

/// What tests and commands may substitute.
pub struct Dependencies {
    pub clock: Arc<dyn Clock>,
    pub mailer: Arc<dyn Mailer>,
    pub demo_tenant: Option<String>,
}

impl Default for Dependencies {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            mailer: Arc::new(LogMailer),
            demo_tenant: None,
        }
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    database: Option<Database>,
}

impl Application {
    /// Opens the database named by the settings, migrates it and binds the listener.
    pub async fn build(settings: Settings, deps: Dependencies) -> anyhow::Result<Self> {
        let database = Database::open(&settings).await?;
        let built = Self::assemble(settings, database.pool.clone(), deps, !database.migrated).await;
        match built {
            Ok(mut app) => {
                app.database = Some(database);
                Ok(app)
            }
            Err(e) => {
                database.close().await;
                Err(e)
            }
        }
    }

    /// Builds on an existing pool (tests: a fresh database per test).
    pub async fn with_pool(
        settings: Settings,
        pool: PgPool,
        deps: Dependencies,
    ) -> anyhow::Result<Self> {
        Self::assemble(settings, pool, deps, true).await
    }

    async fn assemble(
        settings: Settings,
        pool: PgPool,
        deps: Dependencies,
        migrate: bool,
    ) -> anyhow::Result<Self> {
        if migrate {
            db::migrate(&pool)
                .await
                .context("applying database migrations")?;
        }
        let keys = Keys::derive(
            settings
                .secret_key
                .as_ref()
                .context("PORTICO_SECRET_KEY: is required to run the server")?
                .expose(),
        );
        crate::services::catalogs::seal_legacy_secrets(&pool, &keys)
            .await
            .context("sealing connector secrets stored before sealing existed")?;
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("PORTICO_BIND: cannot listen on {}", settings.bind))?;
        let http =
            Outbound::new(settings.webhook_allow_private).context("building the HTTP client")?;
        let api_limit = ApiRateLimit::new(settings.api_rate_per_second, settings.api_burst);
        let state = AppState::new(Inner {
            pool,
            settings,
            clock: deps.clock,
            mailer: deps.mailer,
            metrics: metrics_handle()?,
            providers: crate::services::oidc::Providers::new(http.clone()),
            http,
            api_limit,
            keys,
            dev_mail_path: deps
                .demo_tenant
                .as_ref()
                .map(|_| format!("/dev/mail/{}", crate::services::links::new_token())),
            demo_tenant: deps.demo_tenant,
        });
        Ok(Self {
            listener,
            state,
            database: None,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains requests and releases the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = crate::web::router(self.state.clone());
        let stop = tokio_util::sync::CancellationToken::new();
        let scheduler = self
            .state
            .settings()
            .scheduler_enabled
            .then(|| crate::scheduler::spawn(self.state.clone(), stop.clone()));
        let served = serve(self.listener, router, self.state.settings(), shutdown).await;
        // Let the scheduler finish its current tick so claimed work is recorded.
        stop.cancel();
        if let Some(scheduler) = scheduler
            && let Err(e) = scheduler.await
        {
            tracing::error!(error = %e, "scheduler task ended abnormally");
        }
        if let Some(database) = self.database {
            database.close().await;
        }
        served.context("serving HTTP")
    }
}

/// Accepts HTTP/1.1 connections until `shutdown` completes, then stops accepting, closes
/// idle connections and lets open requests finish (for at most a request timeout plus
/// a header timeout). At most `max_connections` are served at once: beyond that,
/// clients wait in the listen backlog. A connection that takes longer than the header
/// timeout to send a request's headers, or stays idle that long between requests, is
/// closed, so half-sent requests cannot pile up.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use axum::extract::ConnectInfo;
    use hyper::body::Incoming;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::Service;

    let permits = Arc::new(tokio::sync::Semaphore::new(settings.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.context("the connection limit")?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) => continue,
                Err(e) => {
                    // Out of file descriptors, say: wait for some to close, not spin.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        // The peer address feeds the per-client sign-in rate limit.
        let service = hyper::service::service_fn(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(req)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    let grace = settings.request_timeout + settings.header_timeout;
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period were dropped");
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
