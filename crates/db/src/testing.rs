//! Fresh databases for tests and benchmarks, cloned from a migrated template.
//!
//! Migrating takes a while; copying a migrated database takes milliseconds. The first caller
//! (under an advisory lock, so parallel test processes agree) migrates a template named after
//! the migrations' fingerprint; every test then gets `CREATE DATABASE ... TEMPLATE` of its own.
//! Databases left behind by killed runs are swept when they are older than a few hours.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::cluster::{ClusterOptions, PrivateCluster};
use crate::migrate::{self, MigrateError, quote_ident};

const TEST_PREFIX: &str = "tenpo_test_";
const STALE_AFTER: Duration = Duration::from_secs(3 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum TestDbError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("DATABASE_URL is invalid: {0}")]
    Url(sqlx::Error),
}

/// The maintenance connection (database `postgres`) of the server tests run against:
/// `DATABASE_URL` when set, else a private cluster shared by all test processes of this user.
pub async fn test_server() -> Result<PgConnectOptions, TestDbError> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let opts = PgConnectOptions::from_str(&url).map_err(TestDbError::Url)?;
        return Ok(opts.database("postgres"));
    }
    let dir = std::env::temp_dir().join(format!("tenpo-test-cluster-{}", unsafe { libc::geteuid() }));
    std::fs::create_dir_all(&dir).ok();
    let _lock = FileLock::acquire(dir.join("start.lock"));
    let opts = ClusterOptions { unsafe_fast: true, max_connections: 500, ..Default::default() };
    let cluster = PrivateCluster::start(&dir, opts).await?;
    let options = cluster.connect_options("postgres");
    cluster.detach();
    Ok(options)
}

/// The superuser password of [`second_server`] (a test server's, not a secret).
pub const SECOND_SERVER_PASSWORD: &str = "second-server-owner-pw-5b1e";

/// A second PostgreSQL server for tests of store databases: a private cluster of its own (its own
/// data directory and socket), shared by the test processes of this user, which signs in with
/// passwords only (scram-sha-256; its superuser `tenpo` has [`SECOND_SERVER_PASSWORD`]).
/// Returns its maintenance connection (database `postgres`).
pub async fn second_server() -> Result<PgConnectOptions, TestDbError> {
    let dir = std::env::temp_dir().join(format!("tenpo-test-cluster-b-{}", unsafe { libc::geteuid() }));
    std::fs::create_dir_all(&dir).ok();
    let _lock = FileLock::acquire(dir.join("start.lock"));
    let opts = ClusterOptions {
        unsafe_fast: true,
        max_connections: 300,
        superuser_password: Some(SECOND_SERVER_PASSWORD.into()),
    };
    let cluster = PrivateCluster::start(&dir, opts).await?;
    let options = cluster.connect_options("postgres").password(SECOND_SERVER_PASSWORD);
    cluster.detach();
    Ok(options)
}

/// Creates a fresh, migrated database named `<prefix><timestamp>_<random>` on the server
/// reached by `maintenance`, and returns owner options for it.
pub async fn fresh_database(maintenance: &PgConnectOptions, prefix: &str) -> Result<PgConnectOptions, TestDbError> {
    let template = ensure_template(maintenance).await?;
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let name = format!("{prefix}{secs}_{:08x}", rand::random::<u32>());
    let mut conn = PgConnection::connect_with(maintenance).await?;
    let sql = format!("CREATE DATABASE {} TEMPLATE {}", quote_ident(&name), quote_ident(&template));
    // Another process may be finishing with the template for an instant; retry briefly.
    let mut attempt = 0;
    loop {
        match sqlx::raw_sql(&sql).execute(&mut conn).await {
            Ok(_) => break,
            Err(e) if attempt < 20 && e.to_string().contains("being accessed by other users") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await.ok();
    Ok(maintenance.clone().database(&name))
}

/// Creates the template for the current migrations if it does not exist.
async fn ensure_template(maintenance: &PgConnectOptions) -> Result<String, TestDbError> {
    let template = format!("tenpo_tpl_{}", migrate::fingerprint());
    let mut conn = PgConnection::connect_with(maintenance).await?;
    if database_exists(&mut conn, &template).await? {
        return Ok(template);
    }
    sqlx::query("SELECT pg_advisory_lock(hashtext('tenpo-test-template'))").execute(&mut conn).await?;
    let result = async {
        if database_exists(&mut conn, &template).await? {
            return Ok(());
        }
        sweep(&mut conn, &template).await;
        let building = format!("{template}_building");
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&building)))
            .execute(&mut conn)
            .await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {}", quote_ident(&building))).execute(&mut conn).await?;
        migrate::run(&maintenance.clone().database(&building), "tenpo_app", None).await?;
        sqlx::raw_sql(&format!(
            "ALTER DATABASE {b} RENAME TO {t}; ALTER DATABASE {t} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
            b = quote_ident(&building),
            t = quote_ident(&template)
        ))
        .execute(&mut conn)
        .await?;
        Ok::<_, TestDbError>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext('tenpo-test-template'))").execute(&mut conn).await?;
    conn.close().await.ok();
    result.map(|_| template)
}

async fn database_exists(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)").bind(name).fetch_one(conn).await
}

/// Drops test databases of killed runs and templates of older migrations.
async fn sweep(conn: &mut PgConnection, keep_template: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let names: Vec<String> = sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'tenpo\\_%'")
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
    for name in names {
        let stale = if let Some(rest) = name.strip_prefix(TEST_PREFIX) {
            let created: u64 = rest.split('_').next().and_then(|s| s.parse().ok()).unwrap_or(0);
            now.saturating_sub(created) > STALE_AFTER.as_secs()
        } else {
            name.starts_with("tenpo_tpl_") && name != keep_template
        };
        if stale {
            let sql = format!(
                "ALTER DATABASE {n} WITH IS_TEMPLATE false; DROP DATABASE IF EXISTS {n} WITH (FORCE)",
                n = quote_ident(&name)
            );
            let _ = sqlx::raw_sql(&sql).execute(&mut *conn).await;
        }
    }
}

/// Drops a database, disconnecting whoever is still connected.
pub async fn drop_database(maintenance: &PgConnectOptions, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect_with(maintenance).await?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))).execute(&mut conn).await?;
    conn.close().await
}

/// A fresh test database that is dropped when the value goes away.
pub struct TestDatabase {
    pub maintenance: PgConnectOptions,
    pub owner: PgConnectOptions,
    pub name: String,
}

impl TestDatabase {
    pub async fn create() -> Result<Self, TestDbError> {
        Self::create_on(test_server().await?).await
    }

    /// A fresh migrated database on the server `maintenance` reaches ([`second_server`]).
    pub async fn create_on(maintenance: PgConnectOptions) -> Result<Self, TestDbError> {
        let owner = fresh_database(&maintenance, TEST_PREFIX).await?;
        let name = owner.get_database().unwrap_or_default().to_string();
        Ok(TestDatabase { maintenance, owner, name })
    }

    /// A fresh database with nothing in it (never migrated).
    pub async fn empty_on(maintenance: PgConnectOptions) -> Result<Self, TestDbError> {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let name = format!("{TEST_PREFIX}{secs}_{:08x}", rand::random::<u32>());
        let mut conn = PgConnection::connect_with(&maintenance).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {}", quote_ident(&name))).execute(&mut conn).await?;
        conn.close().await.ok();
        let owner = maintenance.clone().database(&name);
        Ok(TestDatabase { maintenance, owner, name })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let maintenance = self.maintenance.clone();
        let name = std::mem::take(&mut self.name);
        // Drop runs outside any async context we could await in: use a short-lived runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                let _ = rt.block_on(drop_database(&maintenance, &name));
            }
        })
        .join();
    }
}

/// An exclusive advisory lock on a file, released on drop (serialises cluster start-up between
/// test processes).
struct FileLock(Option<std::fs::File>);

impl FileLock {
    fn acquire(path: PathBuf) -> Self {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).ok();
        if let Some(f) = &file {
            // SAFETY: flock on a valid, open descriptor.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        }
        FileLock(file)
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        if let Some(f) = &self.0 {
            // SAFETY: as above.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}
