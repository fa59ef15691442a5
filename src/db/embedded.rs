//! The private PostgreSQL cluster: when no `DATABASE_URL` is set, Portico runs its own
//! cluster under the data directory with the machine's PostgreSQL server binaries,
//! listening on a Unix socket only. It is created once, reused on every later start,
//! and stopped when the owner is dropped or `stop` is called.
//!
//! `initdb` refuses to run as root, so as root the cluster's processes run as the
//! `postgres` system user, in a directory that user owns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sqlx::postgres::PgConnectOptions;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH, through pg_config, or under /usr/lib/postgresql/*/bin. \
Portico needs them to run its own private database when DATABASE_URL is not set. \
Install PostgreSQL (Debian/Ubuntu: `sudo apt install postgresql`; macOS: `brew install postgresql@16`) \
or point DATABASE_URL at an existing database, e.g. DATABASE_URL=postgres://user:pass@localhost/portico."
    )]
    BinariesNotFound,
    #[error(
        "running as root needs the 'postgres' system user to own the private cluster, and it does not exist: create it (Debian: `apt install postgresql`) or set DATABASE_URL"
    )]
    NoPostgresUser,
    #[error("{step} failed: {detail}")]
    Command { step: &'static str, detail: String },
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How the cluster should be run.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Stop the cluster when this handle is dropped (servers: yes; shared test clusters: no).
    pub stop_on_drop: bool,
    /// Also stop a cluster that was already running when this handle found it (servers
    /// adopt a cluster left behind by a killed process; one-shot commands do not stop a
    /// cluster that a running server uses).
    pub adopt: bool,
    /// Extra `-c name=value` settings for the server (tests turn fsync off).
    pub server_settings: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            stop_on_drop: true,
            adopt: true,
            server_settings: Vec::new(),
        }
    }
}

/// A running private cluster.
#[derive(Debug)]
pub struct PrivateCluster {
    bin_dir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    run_as_postgres: bool,
    stop_on_drop: bool,
    /// Whether `stop` may stop it: started here, or adopted.
    owned: bool,
    stopped: bool,
}

impl PrivateCluster {
    /// Starts (creating on first use, or reusing) the cluster under `data_dir`.
    pub fn start(data_dir: &Path, options: ClusterOptions) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir().ok_or(ClusterError::BinariesNotFound)?;
        let run_as_postgres = is_root();
        if run_as_postgres && !user_exists("postgres") {
            return Err(ClusterError::NoPostgresUser);
        }
        std::fs::create_dir_all(data_dir).map_err(|source| ClusterError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let data_dir = data_dir.canonicalize().map_err(|source| ClusterError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let mut root = data_dir.join("postgres");
        if run_as_postgres && !postgres_can_reach(&data_dir) {
            // A data directory under e.g. /root is closed to the postgres user: keep the
            // cluster in a directory of its own, named after the data directory.
            root = std::env::temp_dir().join(format!("portico-pg-{}", short_hash(&data_dir)));
        }
        let pgdata = root.join("data");
        let mut socket_dir = root.join("run");
        if socket_dir.as_os_str().len() > 90 {
            socket_dir = std::env::temp_dir().join(format!("portico-sock-{}", short_hash(&root)));
        }
        for dir in [&root, &socket_dir] {
            std::fs::create_dir_all(dir).map_err(|source| ClusterError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let mut cluster = Self {
            bin_dir,
            pgdata,
            socket_dir,
            run_as_postgres,
            stop_on_drop: options.stop_on_drop,
            owned: options.adopt,
            stopped: false,
        };
        if run_as_postgres {
            cluster.run(
                "chown",
                "chown",
                &["-R", "postgres:postgres", &path_str(&root)],
                false,
            )?;
            cluster.run(
                "chown",
                "chown",
                &["postgres:postgres", &path_str(&cluster.socket_dir)],
                false,
            )?;
        }
        if !cluster.pgdata.join("PG_VERSION").exists() {
            tracing::info!(pgdata = %cluster.pgdata.display(), "creating the private PostgreSQL cluster");
            cluster.pg(
                "initdb",
                &[
                    "-D",
                    &path_str(&cluster.pgdata),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
            )?;
        }
        if cluster.is_running() {
            tracing::info!(pgdata = %cluster.pgdata.display(), "reusing the running private PostgreSQL cluster");
        } else {
            let mut server_opts = format!(
                "-c listen_addresses='' -k {} -c max_connections=300",
                path_str(&cluster.socket_dir)
            );
            for (name, value) in &options.server_settings {
                server_opts.push_str(&format!(" -c {name}={value}"));
            }
            let log = root.join("postgres.log");
            cluster.pg(
                "pg_ctl",
                &[
                    "-D",
                    &path_str(&cluster.pgdata),
                    "-l",
                    &path_str(&log),
                    "-o",
                    &server_opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            )?;
            cluster.owned = true;
            tracing::info!(socket = %cluster.socket_dir.display(), "private PostgreSQL cluster started");
        }
        Ok(cluster)
    }

    /// Connection options for `database` on this cluster's socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(5432)
            .username("postgres")
            .database(database)
    }

    /// The postmaster's process id, while it runs.
    pub fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pgdata.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    pub fn is_running(&self) -> bool {
        self.pg("pg_ctl", &["-D", &path_str(&self.pgdata), "status"])
            .is_ok()
    }

    /// Stops the cluster (fast shutdown: open sessions are ended, data is flushed).
    pub fn stop(&mut self) -> Result<(), ClusterError> {
        if self.stopped || !self.owned {
            return Ok(());
        }
        self.stopped = true;
        if !self.is_running() {
            return Ok(());
        }
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &path_str(&self.pgdata),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "stop",
            ],
        )?;
        tracing::info!("private PostgreSQL cluster stopped");
        Ok(())
    }

    fn pg(&self, program: &'static str, args: &[&str]) -> Result<Output, ClusterError> {
        let path = path_str(&self.bin_dir.join(program));
        self.run(program, &path, args, self.run_as_postgres)
    }

    fn run(
        &self,
        step: &'static str,
        program: &str,
        args: &[&str],
        as_postgres: bool,
    ) -> Result<Output, ClusterError> {
        let mut command = if as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        };
        command.args(args);
        // Its own process group: a Ctrl-C in the terminal reaches Portico, which then
        // shuts the database down after the server has finished its requests.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command.current_dir(std::env::temp_dir());
        let output = command.output().map_err(|e| ClusterError::Command {
            step,
            detail: e.to_string(),
        })?;
        if output.status.success() {
            Ok(output)
        } else {
            let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_string();
            if detail.is_empty() {
                detail = String::from_utf8_lossy(&output.stdout).trim().to_string();
            }
            Err(ClusterError::Command {
                step,
                detail: format!("{} ({})", detail, output.status),
            })
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if self.stop_on_drop
            && let Err(e) = self.stop()
        {
            tracing::error!(error = %e, "could not stop the private PostgreSQL cluster");
        }
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn short_hash(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(p.to_string_lossy().as_bytes());
    hex::encode(&digest[..6])
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .args(["-u", name])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn postgres_can_reach(dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() && dir.join("postgres").is_file()
}

/// `pg_config --bindir`, then PATH, then the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|d| has_server_binaries(d)) {
        return Some(dir);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if initdb.is_file()
                && let Ok(real) = initdb.canonicalize()
                && let Some(parent) = real.parent()
                && has_server_binaries(parent)
            {
                return Some(parent.to_path_buf());
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_server_binaries(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
