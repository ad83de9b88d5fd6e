//! Which PostgreSQL to use and how to connect as its two roles.
//!
//! * the **owner** connection (`DATABASE_URL`, or the private cluster's superuser) runs the
//!   migrations and owns every table;
//! * the **runtime** role (`tenpo_app` by default) is what the server and worker connect as: it
//!   owns nothing, is neither superuser nor BYPASSRLS, and so is always subject to row-level
//!   security.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, Postgres};

use crate::cluster::{ClusterError, ClusterOptions, PrivateCluster};
use crate::{Db, connections, migrate};

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: the owner role's connection. `None` starts the private cluster.
    pub url: Option<String>,
    /// A complete connection URL for the runtime role, when the operator manages roles.
    pub app_url: Option<String>,
    /// Runtime role name, created by `migrate` when missing.
    pub app_user: String,
    /// Runtime role password, set by `migrate`; needed where the server requires passwords.
    pub app_password: Option<String>,
    pub max_connections: u32,
    /// Where the private cluster lives (`<data dir>/postgres`).
    pub data_dir: PathBuf,
    pub statement_timeout: Duration,
    /// How long a request waits for a free connection of the runtime pool before it is
    /// answered 503 `overloaded`.
    pub acquire_timeout: Duration,
    /// Connections of each store database's runtime pool (`db_connections`).
    pub store_max_connections: u32,
    /// A store database's pooled connection unused this long is closed.
    pub store_idle_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            app_url: None,
            app_user: "tenpo_app".into(),
            app_password: None,
            max_connections: 32,
            data_dir: PathBuf::from(".tenpo"),
            statement_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(10),
            store_max_connections: 8,
            store_idle_timeout: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    InvalidUrl(sqlx::Error),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("cannot reach PostgreSQL: {0}")]
    Unreachable(sqlx::Error),
    #[error(
        "the runtime role {0:?} is a superuser or has BYPASSRLS; it must not (tenant isolation \
         relies on row-level security). Use another role or `ALTER ROLE {0} NOSUPERUSER NOBYPASSRLS`"
    )]
    RuntimeRoleBypassesRls(String),
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
}

/// The database endpoints of one deployment, and the private cluster if we started it.
pub struct Databases {
    owner: PgConnectOptions,
    app: PgConnectOptions,
    settings: DatabaseSettings,
    cluster: Option<PrivateCluster>,
}

impl Databases {
    /// Resolves the settings into connection options, starting the private cluster when no
    /// `DATABASE_URL` is set, and creating the database if it does not exist yet.
    pub async fn open(settings: DatabaseSettings) -> Result<Self, ConnectError> {
        let (owner, cluster) = match &settings.url {
            Some(url) => (PgConnectOptions::from_str(url).map_err(ConnectError::InvalidUrl)?, None),
            None => {
                let cluster = PrivateCluster::start(&settings.data_dir, ClusterOptions::default()).await?;
                (cluster.connect_options("tenpo"), Some(cluster))
            }
        };
        let app = match &settings.app_url {
            Some(url) => PgConnectOptions::from_str(url).map_err(ConnectError::InvalidUrl)?,
            None => runtime_options(&owner, &settings.app_user, settings.app_password.as_deref()),
        };
        let dbs = Databases { owner, app, settings, cluster };
        dbs.ensure_database().await?;
        Ok(dbs)
    }

    /// Builds from explicit options (test databases, benchmarks).
    pub fn from_options(owner: PgConnectOptions, settings: DatabaseSettings) -> Self {
        let app = runtime_options(&owner, &settings.app_user, settings.app_password.as_deref());
        Databases { owner, app, settings, cluster: None }
    }

    async fn ensure_database(&self) -> Result<(), ConnectError> {
        let url = self.owner.to_url_lossy().to_string();
        match Postgres::database_exists(&url).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::info!(database = self.owner.get_database(), "creating database");
                Postgres::create_database(&url).await.map_err(ConnectError::Unreachable)
            }
            Err(e) => Err(ConnectError::Unreachable(e)),
        }
    }

    pub fn owner_options(&self) -> &PgConnectOptions {
        &self.owner
    }

    pub fn app_options(&self) -> &PgConnectOptions {
        &self.app
    }

    pub fn runtime_role(&self) -> &str {
        self.app.get_username()
    }

    pub fn is_private_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// Applies pending migrations as the owner and sets up the runtime role.
    pub async fn migrate(&self) -> Result<migrate::MigrationReport, ConnectError> {
        let report = migrate::run(&self.owner, self.runtime_role(), self.settings.app_password.as_deref()).await?;
        Ok(report)
    }

    /// Migrates every active store database (`db_connections`) as its owner, with the runtime
    /// role and its password set up there too; the control database must be migrated first.
    pub async fn migrate_connections(&self) -> Result<Vec<connections::ConnectionMigrated>, ConnectError> {
        let control = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.owner.clone())
            .await
            .map_err(ConnectError::Unreachable)?;
        let done = connections::migrate_all(&control, self.runtime_role(), self.settings.app_password.as_deref())
            .await
            .map_err(|e| ConnectError::Unreachable(sqlx::Error::Protocol(e.to_string())));
        control.close().await;
        done
    }

    /// The runtime pool. Refuses a role that could bypass row-level security.
    pub async fn connect(&self) -> Result<Db, ConnectError> {
        let timeout_ms = self.settings.statement_timeout.as_millis().to_string();
        let opts = self
            .app
            .clone()
            .application_name("tenpo")
            .options([("statement_timeout", timeout_ms.as_str()), ("idle_in_transaction_session_timeout", "60000")])
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let pool = runtime_pool_options()
            .max_connections(self.settings.max_connections)
            .min_connections(1)
            .acquire_timeout(self.settings.acquire_timeout)
            .connect_with(opts)
            .await
            .map_err(ConnectError::Unreachable)?;
        let (sup, bypass): (bool, bool) =
            sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&pool)
                .await
                .map_err(ConnectError::Unreachable)?;
        if sup || bypass {
            return Err(ConnectError::RuntimeRoleBypassesRls(self.runtime_role().to_string()));
        }
        let stores = connections::RuntimeSettings {
            app_user: self.runtime_role().to_string(),
            app_password: self.settings.app_password.clone(),
            max_connections: self.settings.store_max_connections,
            acquire_timeout: self.settings.acquire_timeout,
            statement_timeout: self.settings.statement_timeout,
            idle_timeout: self.settings.store_idle_timeout,
        };
        Ok(Db::with_connections(pool, stores))
    }

    /// Stops the private cluster if this process started it.
    pub async fn shutdown(self) {
        if let Some(cluster) = self.cluster {
            cluster.stop().await;
        }
    }
}

/// The runtime role's options: the owner's endpoint and database with another user.
pub fn runtime_options(owner: &PgConnectOptions, user: &str, password: Option<&str>) -> PgConnectOptions {
    let opts = owner.clone().username(user);
    // PgConnectOptions cannot unset a password; rebuild from the URL without it when needed.
    match password {
        Some(pw) => opts.password(pw),
        None => {
            let mut url = opts.to_url_lossy();
            let _ = url.set_password(None);
            PgConnectOptions::from_str(url.as_str()).unwrap_or(opts)
        }
    }
}

/// A connection idle at least this long is pinged before it is handed out (see
/// [`runtime_pool_options`]).
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Pool options of the runtime role's pools (the main database's and each store database's).
/// sqlx pings every idle connection before handing it out, one round trip more per transaction
/// (a storefront read is two acquisitions: resolving the store, then its transaction). A
/// connection released a moment ago was just pinged by sqlx on release, so only one idle for
/// [`PING_IDLE_AFTER`] or more is checked: after a quiet spell, or a database restart, a dead
/// connection is still discarded before use.
pub(crate) fn runtime_pool_options() -> PgPoolOptions {
    PgPoolOptions::new().test_before_acquire(false).before_acquire(|conn, meta| {
        Box::pin(async move {
            if meta.idle_for >= PING_IDLE_AFTER {
                use sqlx::Connection;
                conn.ping().await?;
            }
            Ok(true)
        })
    })
}
