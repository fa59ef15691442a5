//! The command line: `serve`, `demo`, `migrate`, `tenant create`, `token create|revoke`.
//! Results go to stdout, logs to stderr; any failure is one line and a non-zero exit.

mod demo_idp;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{Secret, Settings};
use crate::domain::ids::TokenId;
use crate::domain::values::{DisplayName, EmailAddress, Slug};
use crate::email::Mailer;
use crate::services::dev_mail::DevMailbox;
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
    Demo(DemoArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write a tenant's configuration (catalogs, resources, connectors without secrets,
    /// custom extensions, packages, policies, roles) as YAML to stdout.
    Export(ExportArgs),
    /// Check a configuration document, print the plan, and apply it in one transaction.
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub tenant: String,
    /// The tenant admin the export is made as (default: the tenant's first admin).
    #[arg(long = "as")]
    pub as_email: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[arg(long)]
    pub tenant: String,
    /// The document (YAML or JSON); `-` reads standard input.
    #[arg(short = 'f', long = "file")]
    pub file: String,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Delete what the document leaves out (catalogs, resources, extensions, packages,
    /// policies, role assignments).
    #[arg(long)]
    pub prune: bool,
    /// The tenant admin the changes are made as, named in the audit log (default: the
    /// tenant's first admin).
    #[arg(long = "as")]
    pub as_email: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Allow PORTICO_BIND on an address other than loopback. The demo signs anyone in
    /// as any demo user, so only do this on a network you trust.
    #[arg(long)]
    pub public: bool,
    /// Sign the demo tenant in through a local OpenID provider (needs Node.js; run from
    /// the source tree): the provider the tests use, knowing every demo person.
    #[arg(long)]
    pub oidc: bool,
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
    /// The user the API token acts as (not with --scim).
    #[arg(long, required_unless_present = "scim", conflicts_with = "scim")]
    pub email: Option<String>,
    /// A SCIM token for the tenant's identity provider (works only under /scim/v2/SLUG).
    #[arg(long, conflicts_with = "expires_in_days")]
    pub scim: bool,
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
        Command::Demo(args) => demo(settings, args).await,
        Command::Migrate => {
            // With PORTICO_RUNTIME_DATABASE_URL, opening migrated as the owner and
            // granted the runtime role its rights already.
            let database = open_for_command(&settings).await?;
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
        Command::Export(args) => {
            let database = open_for_command(&settings).await?;
            let result = async {
                let caller = services::config::command_caller(
                    &database.pool,
                    &args.tenant,
                    args.as_email.as_deref(),
                )
                .await?;
                let doc = services::config::export(&database.pool, &caller).await?;
                services::config::to_yaml(&doc)
            }
            .await;
            database.close().await;
            print!("{}", result.map_err(one_line)?);
            Ok(())
        }
        Command::Apply(args) => apply(settings, args).await,
        Command::Token(TokenCommand::Create(args)) if args.scim => {
            let database = open_for_command(&settings).await?;
            let created = services::scim::tokens::create_for_tenant(
                &database.pool,
                &args.tenant,
                args.name.as_deref(),
                clock.now(),
            )
            .await;
            database.close().await;
            let (token, plain) = created.map_err(one_line)?;
            println!("SCIM token id: {}", token.id);
            println!("SCIM base: /scim/v2/{}", args.tenant);
            println!("{plain}");
            Ok(())
        }
        Command::Token(TokenCommand::Create(args)) => {
            let email = args.email.unwrap_or_default();
            let database = open_for_command(&settings).await?;
            let created = services::tokens::create(
                &database.pool,
                &args.tenant,
                &email,
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
/// `portico apply`: the plan on stdout, then the outcome; errors one per line with
/// their paths in the document.
async fn apply(settings: Settings, args: ApplyArgs) -> anyhow::Result<()> {
    let text = if args.file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file))?
    };
    let doc = services::config::from_yaml(&text).map_err(every_line)?;
    let secret = settings
        .secret_key
        .as_ref()
        .context("PORTICO_SECRET_KEY: apply needs the server's key (connector and extension secrets are sealed with it)")?;
    let keys = crate::crypto::Keys::derive(secret.expose());
    let database = open_for_command(&settings).await?;
    let env = services::config::Env {
        keys: &keys,
        allow_private: settings.webhook_allow_private,
        now: SystemClock.now(),
    };
    let result = async {
        let caller = services::config::command_caller(
            &database.pool,
            &args.tenant,
            args.as_email.as_deref(),
        )
        .await?;
        if args.plan {
            services::config::plan(&database.pool, &caller, env, &doc, args.prune).await
        } else {
            services::config::apply(&database.pool, &caller, env, &doc, args.prune).await
        }
    }
    .await;
    database.close().await;
    let plan = result.map_err(every_line)?;
    for line in plan.lines() {
        println!("{line}");
    }
    Ok(())
}

/// A service error with every field error on a line of its own.
fn every_line(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::Domain(crate::domain::DomainError::Validation(errors)) => anyhow::anyhow!(
            "the document is not valid; nothing was changed:\n{}",
            errors
                .0
                .iter()
                .map(|(f, m)| format!("  {f}: {m}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

async fn open_for_command(settings: &Settings) -> anyhow::Result<Database> {
    let database = Database::open_for_command(settings).await?;
    if !database.migrated
        && let Err(e) = crate::db::migrate(&database.pool).await
    {
        database.close().await;
        return Err(anyhow::Error::new(e).context("applying migrations"));
    }
    Ok(database)
}

async fn demo(mut settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    if !settings.bind.ip().is_loopback() && !args.public {
        bail!(
            "PORTICO_BIND: the demo lets anyone sign in as any demo user, so it listens only on a loopback address (such as 127.0.0.1:8080); pass --public to listen on {} anyway",
            settings.bind
        );
    }
    if settings.secret_key.is_none() {
        settings.secret_key = Some(Secret::new(demo_secret(&settings.data_dir)?));
    }
    if args.oidc {
        // The local provider listens on 127.0.0.1, which outbound calls refuse otherwise.
        settings.webhook_allow_private = true;
        if settings.base_url.is_none() {
            if settings.bind.port() == 0 {
                bail!(
                    "--oidc needs a fixed port in PORTICO_BIND (the provider is told Portico's redirect URI before Portico starts), or PORTICO_BASE_URL"
                );
            }
            settings.base_url = Some(url::Url::parse(&format!("http://{}", settings.bind))?);
        }
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
    let seeded =
        crate::services::demo::seed(app.state().pool(), app.state().keys(), SystemClock.now())
            .await;
    let seeded = match seeded {
        Ok(s) => s,
        Err(e) => bail!("seeding the demo tenant: {}", one_line(e)),
    };
    let base = match &settings.base_url {
        Some(u) => u.as_str().trim_end_matches('/').to_string(),
        None => format!("http://{addr}"),
    };
    let _idp = if args.oidc {
        let secret = random_secret();
        let idp = demo_idp::start(&base, &secret).await?;
        let state = app.state();
        crate::services::oidc::put_for_tenant(
            state.pool(),
            state.providers(),
            state.keys(),
            true,
            crate::services::demo::SLUG,
            demo_idp::settings(&idp, &secret),
            SystemClock.now(),
        )
        .await
        .map_err(one_line)?;
        Some(idp)
    } else {
        None
    };
    println!("Portico demo is running at {base}/");
    println!("Demo tenant: {base}/t/{}/", crate::services::demo::SLUG);
    println!(
        "Dev sign-in (pick a demo user): {base}/t/{}/dev/sign-in",
        crate::services::demo::SLUG
    );
    if let Some(idp) = &_idp {
        println!(
            "Sign-in through the local identity provider ({}): {base}/t/{}/sign-in, “Sign in with Contoso SSO (local)”, then any demo email such as adele@contoso.example",
            idp.issuer,
            crate::services::demo::SLUG
        );
    }
    println!(
        "API token for {} (tenant admin): {}",
        seeded.admin_email, seeded.admin_token
    );
    println!(
        "Try: curl -H 'Authorization: Bearer {}' {base}/api/v1/me",
        seeded.admin_token
    );
    if settings.smtp_url.is_none()
        && let Some(path) = app.state().dev_mail_path()
    {
        println!("Emails (this run's private address): {base}{path}");
    }
    println!("Press Ctrl-C to stop.");
    let served = app.run_until(shutdown_signal()).await;
    database.close().await;
    served
}

/// The demo's secret key: kept in `secret-key` of the data directory (made on the
/// first run, readable only by its owner), so sessions and sealed secrets survive a
/// restart.
pub fn demo_secret(data_dir: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("secret-key");
    match std::fs::read_to_string(&path) {
        Ok(key) if key.trim().len() >= 32 => return Ok(key.trim().to_string()),
        Ok(_) => bail!(
            "{}: holds no key of at least 32 characters; delete it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let key = random_secret();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{key}").with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_key_is_made_once_and_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("portico-demo-key-{}", uuid::Uuid::now_v7()));
        let first = demo_secret(&dir).expect("made");
        let second = demo_secret(&dir).expect("read");
        assert_eq!(first, second);
        assert!(first.len() >= 32);
        let mode = std::fs::metadata(dir.join("secret-key"))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
