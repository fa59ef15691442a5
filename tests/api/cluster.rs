//! The private PostgreSQL cluster that Portico runs when `DATABASE_URL` is unset: created
//! once, reused with its data, stopped without leaving processes behind; and `portico
//! demo` end to end on such a cluster.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portico::db::embedded::{ClusterOptions, PrivateCluster};
use reqwest::StatusCode;
use sqlx::{Connection, PgConnection};
use tokio::io::AsyncBufReadExt;

/// A fresh, empty directory under the target's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{prefix}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir.canonicalize().expect("canonical temp dir"))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(dir: &Path, options: ClusterOptions) -> PrivateCluster {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || PrivateCluster::start(&dir, options))
        .await
        .expect("join")
        .expect("start the private cluster")
}

async fn stop(mut cluster: PrivateCluster) {
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .expect("join")
        .expect("stop the private cluster");
}

/// Waits up to `timeout` for `done`; returns whether it became true.
async fn eventually(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Processes whose command line mentions `needle`, as "pid: cmdline".
fn processes_mentioning(needle: &str) -> Vec<String> {
    let own = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| e.file_name().to_string_lossy() != own)
        .filter_map(|e| {
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            cmdline
                .contains(needle)
                .then(|| format!("{}: {}", e.file_name().to_string_lossy(), cmdline.trim()))
        })
        .collect()
}

#[tokio::test]
async fn the_private_cluster_keeps_its_data_across_restarts_and_stops_completely() {
    let dir = TempDir::new("cluster");
    let cluster = start(dir.path(), ClusterOptions::default()).await;
    let options = cluster.connect_options("postgres");
    let mut conn = PgConnection::connect_with(&options).await.expect("connect");
    sqlx::query("create table kept (note text not null)")
        .execute(&mut conn)
        .await
        .expect("create table");
    sqlx::query("insert into kept (note) values ('still here')")
        .execute(&mut conn)
        .await
        .expect("insert");
    conn.close().await.expect("close");
    let pid = cluster.postmaster_pid().expect("a running postmaster");
    assert!(process_exists(pid));

    stop(cluster).await;
    assert!(
        eventually(Duration::from_secs(10), || !process_exists(pid)).await,
        "postmaster {pid} still runs after stop"
    );

    let initialised = std::fs::metadata(dir.path().join("postgres/data/PG_VERSION"))
        .and_then(|m| m.modified())
        .ok();
    let cluster = start(dir.path(), ClusterOptions::default()).await;
    let restarted_pid = cluster.postmaster_pid().expect("a running postmaster");
    assert_ne!(restarted_pid, pid);
    let mut conn = PgConnection::connect_with(&cluster.connect_options("postgres"))
        .await
        .expect("connect again");
    let note: String = sqlx::query_scalar("select note from kept")
        .fetch_one(&mut conn)
        .await
        .expect("the row survived the restart");
    assert_eq!(note, "still here");
    conn.close().await.expect("close");
    if let Some(initialised) = initialised {
        let now = std::fs::metadata(dir.path().join("postgres/data/PG_VERSION"))
            .and_then(|m| m.modified())
            .expect("PG_VERSION");
        assert_eq!(
            now, initialised,
            "the cluster was reused, not initialised again"
        );
    }

    stop(cluster).await;
    assert!(
        eventually(Duration::from_secs(10), || !process_exists(restarted_pid)).await,
        "postmaster {restarted_pid} still runs after stop"
    );
    let needle = dir.path().to_string_lossy().into_owned();
    assert!(
        eventually(Duration::from_secs(10), || processes_mentioning(&needle)
            .is_empty())
        .await,
        "left behind: {:?}",
        processes_mentioning(&needle)
    );
}

#[tokio::test]
async fn dropping_the_cluster_handle_stops_the_cluster() {
    let dir = TempDir::new("cluster-drop");
    let cluster = start(dir.path(), ClusterOptions::default()).await;
    let pid = cluster.postmaster_pid().expect("a running postmaster");
    assert!(process_exists(pid));

    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("join");

    assert!(
        eventually(Duration::from_secs(10), || !process_exists(pid)).await,
        "postmaster {pid} still runs after the handle was dropped"
    );
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("address").port()
}

#[tokio::test]
async fn demo_runs_on_its_own_private_database_and_cleans_up_on_sigterm() {
    let dir = TempDir::new("demo");
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let stderr_log = std::fs::File::create(dir.path().join("demo.stderr")).expect("stderr file");
    let data_dir = dir.path().join("data");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_portico"))
        .arg("demo")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTICO_DATA_DIR", &data_dir)
        .env("PORTICO_BIND", &bind)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr_log))
        .kill_on_drop(true)
        .spawn()
        .expect("start portico demo");
    let pid = child.id().expect("pid");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let stdout = child.stdout.take().expect("stdout");
        tokio::spawn(async move {
            let mut stdout = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = stdout.next_line().await {
                lines.lock().expect("lines").push(line);
            }
        })
    };
    let stderr_text =
        || std::fs::read_to_string(dir.path().join("demo.stderr")).unwrap_or_default();
    let base = format!("http://{bind}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");

    // Up within 30 s, first run included (initdb).
    let started = Instant::now();
    loop {
        let healthy = client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK);
        if healthy {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "demo exited early with {status}; stderr:\n{}",
                stderr_text()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "demo not healthy within 30 s; stderr:\n{}",
            stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let output = || lines.lock().expect("lines").join("\n");
    assert!(
        eventually(Duration::from_secs(5), || output().contains("Press Ctrl-C")).await,
        "stdout: {}",
        output()
    );
    let stdout = output();
    assert!(stdout.contains(&format!("{base}/t/contoso/")), "{stdout}");
    let token = stdout
        .lines()
        .find(|l| l.starts_with("API token for"))
        .and_then(|l| l.rsplit(' ').next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no API token in {stdout}"));
    let me = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /api/v1/me");
    assert_eq!(me.status(), StatusCode::OK);
    let me: serde_json::Value = me.json().await.expect("JSON");
    assert_eq!(me["tenant"], "contoso");
    assert_eq!(me["roles"][0]["role"], "tenantAdmin");

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "demo did not stop within 30 s of SIGTERM; stderr:\n{}",
                stderr_text()
            )
        })
        .expect("wait");
    assert!(status.success(), "{status}; stderr:\n{}", stderr_text());
    let _ = reader.await;

    let needle = data_dir.to_string_lossy().into_owned();
    assert!(
        eventually(Duration::from_secs(15), || processes_mentioning(&needle)
            .is_empty())
        .await,
        "left behind: {:?}",
        processes_mentioning(&needle)
    );
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
}
