//! `portico demo --oidc`: the demo tenant signs in through a local OpenID provider, the
//! one the tests use (`tests/oidc/provider.mjs`, npm `oidc-provider`), which knows every
//! demo person and asks only for an email. It runs as a child process for as long as
//! the demo does (it exits when its stdin closes, so it never outlives Portico).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::domain::identity::OidcInput;
use crate::services::demo;

/// The running provider; dropping it stops the process.
pub struct DemoIdp {
    pub issuer: String,
    _child: Child,
}

fn provider_dir() -> anyhow::Result<PathBuf> {
    let dir = Path::new("tests/oidc");
    if dir.join("provider.mjs").is_file() {
        return Ok(dir.to_path_buf());
    }
    bail!(
        "--oidc runs the local OpenID provider in tests/oidc/provider.mjs: start the demo from the root of Portico's source tree"
    )
}

/// Installs the provider's pinned dependencies once (`npm ci`), then starts it.
pub async fn start(base: &str, client_secret: &str) -> anyhow::Result<DemoIdp> {
    let dir = provider_dir()?;
    if !dir.join("node_modules/oidc-provider").is_dir() {
        println!("Installing the local OpenID provider (npm ci in tests/oidc) …");
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .await
            .context("running npm (Node.js and npm are needed for --oidc)")?;
        if !status.success() {
            bail!("npm ci in tests/oidc failed ({status})");
        }
    }
    let accounts: Vec<_> = demo::people()
        .into_iter()
        .map(|(email, name)| json!({"email": email, "name": name, "email_verified": true}))
        .collect();
    let config = json!({
        "clients": [{
            "client_id": "portico-demo",
            "client_secret": client_secret,
            "redirect_uris": [format!("{base}/t/{}/oidc/callback", demo::SLUG)],
        }],
        "accounts": accounts,
    });
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .arg(config.to_string())
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting node (Node.js is needed for --oidc)")?;
    let stdout = child.stdout.take().context("the provider's output")?;
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .await
        .context("reading the provider's address")?;
    let ready: serde_json::Value = serde_json::from_str(first.trim())
        .with_context(|| format!("the provider did not start: {first:?}"))?;
    let issuer = ready["issuer"]
        .as_str()
        .context("the provider did not say its issuer")?
        .to_string();
    Ok(DemoIdp {
        issuer,
        _child: child,
    })
}

/// The demo tenant's provider settings for it (emailed links stay on beside it).
pub fn settings(idp: &DemoIdp, client_secret: &str) -> OidcInput {
    OidcInput {
        kind: Some("oidc".into()),
        display_name: Some("Contoso SSO (local)".into()),
        issuer: Some(idp.issuer.clone()),
        client_id: Some("portico-demo".into()),
        client_secret: Some(client_secret.into()),
        scopes: None,
        email_claim: None,
        allowed_domains: None,
        create_users: Some(false),
        email_link_sign_in: Some(true),
    }
}
