//! Test databases: each a copy of a migrated template, named after the test run that
//! made it, and dropped when the last server on it is gone — also when its test
//! panics. A run that was killed leaves its databases behind; the next run sweeps
//! them when it makes its first database.
//!
//! Runs that share a server do not get in each other's way: a run holds one session
//! open for its whole life whose `application_name` is its name, and a sweep drops
//! only databases of runs without such a session, and never one that has a session
//! of its own.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use chrono::Utc;
use portico::db::embedded::{ClusterOptions, PrivateCluster};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{OnceCell, oneshot};

/// The prefix of every test database's name.
const PREFIX: &str = "portico_test_";
/// How old a database of unknown origin (not named after a run) must be to be swept:
/// its creator has long connected to it if it is still in use.
const UNKNOWN_ORIGIN_MARGIN_SECONDS: i64 = 600;

/// Where test databases are created.
fn admin_options() -> PgConnectOptions {
    static SHARED: OnceLock<PgConnectOptions> = OnceLock::new();
    SHARED
        .get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                PgConnectOptions::from_str(&url).expect("DATABASE_URL is a PostgreSQL URL")
            }
            _ => {
                // A cluster shared by all test processes, left running for the next run.
                let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("portico-test-pg");
                let cluster = PrivateCluster::start(
                    &dir,
                    ClusterOptions {
                        stop_on_drop: false,
                        adopt: false,
                        server_settings: vec![
                            ("fsync".into(), "off".into()),
                            ("synchronous_commit".into(), "off".into()),
                            ("full_page_writes".into(), "off".into()),
                        ],
                    },
                )
                .expect("start the private test cluster (or set DATABASE_URL)");
                cluster.connect_options("postgres")
            }
        })
        .clone()
}

/// This test run: its start (seconds since the epoch) and process id.
struct Run {
    started: i64,
    pid: u32,
}

impl Run {
    fn this() -> &'static Run {
        static RUN: OnceLock<Run> = OnceLock::new();
        RUN.get_or_init(|| Run {
            started: Utc::now().timestamp(),
            pid: std::process::id(),
        })
    }

    /// `portico_test_<started>_<pid>`: the prefix of its databases' names and the
    /// `application_name` of the session that shows it is running.
    fn name(&self) -> String {
        format!("{PREFIX}{}_{}", self.started, self.pid)
    }
}

/// The run a database was made by, from its name `portico_test_<started>_<pid>_<n>`
/// (as `portico_test_<started>_<pid>`); None for names of another form.
fn run_of(database: &str) -> Option<String> {
    let rest = database.strip_prefix(PREFIX)?;
    let parts: Vec<&str> = rest.split('_').collect();
    match parts.as_slice() {
        [started, pid, n]
            if [started, pid, n]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Some(format!("{PREFIX}{started}_{pid}"))
        }
        _ => None,
    }
}

/// The creation time in the name of a database of another form
/// (`portico_test_<unix seconds>_…`), if it has one.
fn created_at(database: &str) -> Option<i64> {
    database
        .strip_prefix(PREFIX)?
        .split('_')
        .next()?
        .parse()
        .ok()
}

/// Opens the session that shows this run is alive, on a thread of its own that keeps
/// it until the process ends.
async fn announce_run() {
    let options = admin_options()
        .database("postgres")
        .application_name(&Run::this().name());
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        };
        runtime.block_on(async move {
            match PgConnection::connect_with(&options).await {
                Ok(conn) => {
                    let _ = tx.send(Ok(()));
                    std::future::pending::<()>().await;
                    drop(conn);
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        });
    });
    if let Ok(Err(e)) | Err(e) = rx.await.map_err(|e| e.to_string()) {
        panic!("open the test run's session: {e}");
    }
}

fn migrations_hash() -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for m in portico::db::migrator().iter() {
        hasher.update(m.version.to_le_bytes());
        hasher.update(&*m.checksum);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// A migrated template database, built once per migration set (also across
/// processes). The first call of a run also announces the run and sweeps the
/// databases that earlier runs left behind.
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            announce_run().await;
            let name = format!("portico_tpl_{}", migrations_hash());
            let admin = admin_options();
            let mut conn = PgConnection::connect_with(&admin.clone().database("postgres"))
                .await
                .expect("connect to the test server");
            sqlx::query("select pg_advisory_lock(727274)")
                .execute(&mut conn)
                .await
                .expect("lock");
            let exists: bool =
                sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .expect("check template");
            if !exists {
                let building = format!("{name}_building");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "drop database if exists {building}"
                )))
                .execute(&mut conn)
                .await
                .expect("drop half-built template");
                sqlx::query(sqlx::AssertSqlSafe(format!("create database {building}")))
                    .execute(&mut conn)
                    .await
                    .expect("create template");
                let pool = portico::db::connect(admin.clone().database(&building), 2)
                    .await
                    .expect("connect to template");
                portico::db::migrate(&pool).await.expect("migrate template");
                pool.close().await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "alter database {building} rename to {name}"
                )))
                .execute(&mut conn)
                .await
                .expect("publish template");
            }
            sqlx::query("select pg_advisory_unlock(727274)")
                .execute(&mut conn)
                .await
                .expect("unlock");
            sweep_leftovers(&mut conn).await;
            let _ = conn.close().await;
            name
        })
        .await
}

/// Drops the test databases of runs that have ended without dropping them: those of a
/// run that no longer shows its session, and those of unknown origin made before this
/// run (by more than a margin). Databases with a session are kept; `DROP DATABASE`
/// without `FORCE` refuses them even if one connects in between.
async fn sweep_leftovers(conn: &mut PgConnection) {
    let idle: Vec<String> = sqlx::query_scalar(
        "select d.datname::text from pg_database d
          where starts_with(d.datname, $1)
            and not exists (select 1 from pg_stat_activity a where a.datname = d.datname)",
    )
    .bind(PREFIX)
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let running: Vec<String> = sqlx::query_scalar(
        "select distinct application_name from pg_stat_activity where starts_with(application_name, $1)",
    )
    .bind(PREFIX)
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let cutoff = Run::this().started - UNKNOWN_ORIGIN_MARGIN_SECONDS;
    for name in idle {
        let left_behind = match run_of(&name) {
            Some(run) => !running.contains(&run),
            None => created_at(&name).is_some_and(|t| t < cutoff),
        };
        if left_behind {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop database if exists {name}"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

/// The databases of this run that are still held, by name.
fn held() -> &'static Mutex<HashMap<String, Weak<Owner>>> {
    static HELD: OnceLock<Mutex<HashMap<String, Weak<Owner>>>> = OnceLock::new();
    HELD.get_or_init(Mutex::default)
}

/// Drops its database when the last holder lets go.
struct Owner {
    name: String,
    pools: Mutex<Vec<PgPool>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Ok(mut held) = held().lock() {
            held.remove(&self.name);
        }
        let pools = self.pools.lock().map(|mut p| std::mem::take(&mut *p));
        for pool in pools.unwrap_or_default() {
            // Marks the pool closed at once; the returned future only waits for its
            // open connections, which the forced drop below ends.
            let _closing = pool.close();
        }
        drop_database(&self.name);
    }
}

/// `DROP DATABASE … WITH (FORCE)` from a thread of its own: a destructor cannot wait on
/// the test's runtime, and the runtime may be a single thread that this one blocks.
fn drop_database(name: &str) {
    let options = admin_options().database("postgres");
    let sql = format!("drop database if exists {name} with (force)");
    let dropped = std::thread::scope(|s| {
        s.spawn(|| -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&options).await?;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                anyhow::Ok(())
            })
        })
        .join()
    });
    match dropped {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("test database {name} was not dropped: {e:#}"),
        Err(_) => eprintln!("test database {name} was not dropped: the dropping thread panicked"),
    }
}

/// A database of one test, dropped when the last `TestDatabase` (or `TestApp`) on it
/// is gone.
#[derive(Clone)]
pub struct TestDatabase {
    pub options: PgConnectOptions,
    owner: Arc<Owner>,
}

impl TestDatabase {
    /// The database these options name, when this run made it and it is still held.
    pub(super) fn held(options: &PgConnectOptions) -> Option<TestDatabase> {
        let name = options.get_database()?;
        let owner = held().lock().ok()?.get(name)?.upgrade()?;
        Some(TestDatabase {
            options: options.clone(),
            owner,
        })
    }

    /// Closes `pool` before the database is dropped.
    pub(super) fn close_with(&self, pool: &PgPool) {
        if let Ok(mut pools) = self.owner.pools.lock() {
            pools.push(pool.clone());
        }
    }
}

/// A new, migrated database of its own.
pub async fn fresh_database() -> TestDatabase {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let template = template().await;
    let name = format!(
        "{}_{}",
        Run::this().name(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = admin_options();
    let mut conn = PgConnection::connect_with(&admin.clone().database("postgres"))
        .await
        .expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "create database {name} template {template}"
    )))
    .execute(&mut conn)
    .await
    .expect("create the test database");
    let _ = conn.close().await;
    let owner = Arc::new(Owner {
        name: name.clone(),
        pools: Mutex::default(),
    });
    held()
        .lock()
        .expect("the held databases")
        .insert(name.clone(), Arc::downgrade(&owner));
    TestDatabase {
        options: admin.database(&name),
        owner,
    }
}

#[test]
fn databases_name_the_run_that_made_them() {
    assert_eq!(
        run_of("portico_test_1767225600_4242_7").as_deref(),
        Some("portico_test_1767225600_4242")
    );
    assert_eq!(run_of("portico_test_1767225600_0196a4c1b2"), None);
    assert_eq!(run_of("portico_tpl_0011223344556677"), None);
    assert_eq!(
        created_at("portico_test_1767225600_0196a4c1b2"),
        Some(1_767_225_600)
    );
}
