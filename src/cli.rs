//! The command line: `serve`, `demo`, `migrate`, `tenant create`, `token create|revoke`.
//! Results go to stdout, logs to stderr; any failure is one line and a non-zero exit.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{Secret, Settings};
use crate::domain::ids::TokenId;
use crate::domain::values::{DisplayName, EmailAddress, Slug};
use crate::email::Mailer;
use crate::email::dev_mailbox::DevMailbox;
use crate::services::{self, ServiceError};
use crate::startup::{Application, Database, Dependencies, shutdown_signal};

#[derive(Debug, Parser)]
#[command(
    name = "portico",
    version,
    about = "Self-hosted entitlement management: access packages, approvals, reviews."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (needs PORTICO_BASE_URL, PORTICO_SMTP_URL, PORTICO_SECRET_KEY).
    Serve,
    /// Run the server with a seeded demo tenant, dev sign-in and a dev mailbox.
    Demo,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with an active tenant admin and the "General" catalog.
    Create(TenantCreate),
}

#[derive(Debug, Args)]
pub struct TenantCreate {
    /// URL-safe identifier: lowercase letters, digits and dashes.
    pub slug: String,
    #[arg(long)]
    pub name: String,
    #[arg(long = "admin-email")]
    pub admin_email: String,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; prints it alone on the last line (it is stored only hashed).
    Create(TokenCreate),
    /// Revoke an API token by its id.
    Revoke(TokenRevoke),
}

#[derive(Debug, Args)]
pub struct TokenCreate {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long = "expires-in-days", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Args)]
pub struct TokenRevoke {
    #[arg(long)]
    pub tenant: String,
    /// The token's id (printed by `token create`).
    pub id: String,
}

/// Turns a service error into one line for the terminal.
fn one_line(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::Domain(crate::domain::DomainError::Validation(errors)) => anyhow::anyhow!(
            "{}",
            errors
                .0
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    let clock = SystemClock;
    match cli.command {
        Command::Serve => {
            settings.require_for_serve()?;
            let deps = Dependencies {
                mailer: crate::email::from_settings(&settings)?
                    .context("PORTICO_SMTP_URL is required by 'serve'")?,
                ..Dependencies::default()
            };
            let app = Application::build(settings, deps).await?;
            tracing::info!(address = %app.local_addr()?, "Portico is serving");
            app.run_until(shutdown_signal()).await
        }
        Command::Demo => demo(settings).await,
        Command::Migrate => {
            let database = open_for_command(&settings).await?;
            crate::db::migrate(&database.pool)
                .await
                .context("applying migrations")?;
            println!("migrations applied");
            database.close().await;
            Ok(())
        }
        Command::Tenant(TenantCommand::Create(args)) => {
            let input = services::tenants::NewTenant {
                slug: Slug::parse(&args.slug).map_err(|e| anyhow::anyhow!("SLUG: {e}"))?,
                display_name: DisplayName::parse(&args.name)
                    .map_err(|e| anyhow::anyhow!("--name: {e}"))?,
                admin_email: EmailAddress::parse(&args.admin_email)
                    .map_err(|e| anyhow::anyhow!("--admin-email: {e}"))?,
            };
            let database = open_for_command(&settings).await?;
            let created = services::tenants::create(&database.pool, input, clock.now()).await;
            database.close().await;
            let (tenant, admin) = created.map_err(one_line)?;
            println!(
                "tenant {} created (id {}); admin {} (id {})",
                tenant.slug, tenant.id, admin.email, admin.id
            );
            Ok(())
        }
        Command::Token(TokenCommand::Create(args)) => {
            let database = open_for_command(&settings).await?;
            let created = services::tokens::create(
                &database.pool,
                &args.tenant,
                &args.email,
                args.name.as_deref(),
                args.expires_in_days,
                clock.now(),
            )
            .await;
            database.close().await;
            let (token, plain) = created.map_err(one_line)?;
            println!("token id: {}", token.id);
            println!("{plain}");
            Ok(())
        }
        Command::Token(TokenCommand::Revoke(args)) => {
            let id: TokenId = args.id.parse().map_err(|_| {
                anyhow::anyhow!(
                    "'{}' is not a token id (a UUID printed by token create)",
                    args.id
                )
            })?;
            let database = open_for_command(&settings).await?;
            let revoked =
                services::tokens::revoke(&database.pool, &args.tenant, id, clock.now()).await;
            database.close().await;
            revoked.map_err(one_line)?;
            println!("token {id} revoked");
            Ok(())
        }
    }
}

/// One-shot commands open the database, migrate it (a fresh private cluster is empty)
/// and leave a cluster that a running server uses alone.
async fn open_for_command(settings: &Settings) -> anyhow::Result<Database> {
    let database = Database::open_for_command(settings).await?;
    crate::db::migrate(&database.pool)
        .await
        .context("applying migrations")?;
    Ok(database)
}

async fn demo(mut settings: Settings) -> anyhow::Result<()> {
    if settings.secret_key.is_none() {
        settings.secret_key = Some(Secret::new(random_secret()));
    }
    // Without PORTICO_SMTP_URL the demo keeps its emails in the dev mailbox
    // (/dev/mail), a table of the database it runs on.
    let database = Database::open(&settings).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mailer: Arc<dyn Mailer> = match crate::email::from_settings(&settings)? {
        Some(mailer) => mailer,
        None => Arc::new(DevMailbox::new(database.pool.clone(), clock.clone())),
    };
    let deps = Dependencies {
        clock,
        mailer,
        demo_tenant: Some(crate::services::demo::SLUG.to_string()),
    };
    let app = match Application::with_pool(settings.clone(), database.pool.clone(), deps).await {
        Ok(app) => app,
        Err(e) => {
            database.close().await;
            return Err(e);
        }
    };
    let addr = app.local_addr()?;
    let seeded = crate::services::demo::seed(app.state().pool(), SystemClock.now()).await;
    let seeded = match seeded {
        Ok(s) => s,
        Err(e) => bail!("seeding the demo tenant: {}", one_line(e)),
    };
    let base = match &settings.base_url {
        Some(u) => u.as_str().trim_end_matches('/').to_string(),
        None => format!("http://{addr}"),
    };
    println!("Portico demo is running at {base}/");
    println!("Demo tenant: {base}/t/{}/", crate::services::demo::SLUG);
    println!(
        "Dev sign-in (pick a demo user): {base}/t/{}/dev/sign-in",
        crate::services::demo::SLUG
    );
    println!(
        "API token for {} (tenant admin): {}",
        seeded.admin_email, seeded.admin_token
    );
    println!(
        "Try: curl -H 'Authorization: Bearer {}' {base}/api/v1/me",
        seeded.admin_token
    );
    if settings.smtp_url.is_none() {
        println!("Emails: {base}/dev/mail");
    }
    println!("Press Ctrl-C to stop.");
    let served = app.run_until(shutdown_signal()).await;
    database.close().await;
    served
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
