//! Store databases: the operator's `db_connections` (docs/ROUTING.md).
//!
//! A connection names a PostgreSQL database a store's data may live in: `host`, `port`,
//! `database`, and the **owner** (migration) role of that database, `username` with
//! `password_secret_ref` (`env:NAME` or `file:PATH`), exactly as `DATABASE_URL` is the owner of
//! the main one. The reference is resolved each time an owner connection is opened
//! (`tenpo migrate`, `tenpo db check`) and the password itself is never stored, returned or
//! logged: [`Secret`] prints as `[redacted]` and connect options are never formatted.
//!
//! The server reaches a connection's data as the runtime role (the deployment's
//! `TENPO_DB_APP_USER`/`TENPO_DB_APP_PASSWORD`, created there by `tenpo migrate`), through a
//! pool per connection ([`Registry`]): opened on first use, bounded, its connections closed
//! after they sit idle.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kernel::{Problem, ValidationErrors, Validator};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{ConnectOptions, Connection, PgConnection};
use utoipa::ToSchema;

use crate::migrate;

/// The key that names the main (control) database in health reports; no connection may take it.
pub const MAIN: &str = "main";

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("no database connection with this key")]
    NotFound,
    #[error("a database connection with the key {0:?} exists already")]
    KeyTaken(String),
    /// The reference could not be resolved. Names the reference, never its value.
    #[error("the password of connection {key:?} cannot be read from {reference}: {why}")]
    SecretUnavailable { key: String, reference: String, why: String },
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl Problem for ConnectionError {
    fn status(&self) -> u16 {
        match self {
            ConnectionError::NotFound => 404,
            ConnectionError::KeyTaken(_) => 409,
            ConnectionError::SecretUnavailable { .. } => 422,
            ConnectionError::Validation(e) => e.status(),
            ConnectionError::Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ConnectionError::NotFound => "db_connection_not_found",
            ConnectionError::KeyTaken(_) => "db_key_taken",
            ConnectionError::SecretUnavailable { .. } => "db_secret_unavailable",
            ConnectionError::Validation(e) => e.code(),
            ConnectionError::Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<kernel::FieldError> {
        match self {
            ConnectionError::Validation(e) => e.fields(),
            _ => Vec::new(),
        }
    }
}

/// A password read from its reference. Never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a password lives: `env:NAME` (an environment variable of the process that connects)
/// or `file:PATH` (a file's content without its trailing newline), or nowhere (`""`: the server
/// lets the role in without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    None,
    Env(String),
    File(PathBuf),
}

impl FromStr for SecretRef {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const HOW: &str = "use env:VARIABLE_NAME or file:/path/to/file (or leave it empty for no password)";
        if s.is_empty() {
            return Ok(SecretRef::None);
        }
        if let Some(name) = s.strip_prefix("env:") {
            let ok = !name.is_empty()
                && name.len() <= 128
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            return if ok { Ok(SecretRef::Env(name.to_string())) } else { Err(HOW) };
        }
        if let Some(path) = s.strip_prefix("file:") {
            let ok = path.starts_with('/') && path.len() <= 1024 && !path.contains('\0');
            return if ok { Ok(SecretRef::File(PathBuf::from(path))) } else { Err("file: needs an absolute path") };
        }
        Err(HOW)
    }
}

impl SecretRef {
    /// Reads the password now. The error says where it looked and why it failed, never what it read.
    pub fn resolve(&self) -> Result<Option<Secret>, String> {
        match self {
            SecretRef::None => Ok(None),
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Some(Secret(v))),
                Ok(_) => Err("the variable is empty".into()),
                Err(_) => Err("the variable is not set in this process".into()),
            },
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(v) => {
                    let v = v.strip_suffix('\n').unwrap_or(&v);
                    let v = v.strip_suffix('\r').unwrap_or(v);
                    if v.is_empty() { Err("the file is empty".into()) } else { Ok(Some(Secret(v.to_string()))) }
                }
                Err(e) => Err(format!("cannot read the file: {}", e.kind())),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ConnectionKind {
    /// A database several stores may be routed to.
    Shared,
    /// A database (or server) of one merchant's own.
    Dedicated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    /// Not connected to, not migrated, not checked.
    Inactive,
}

/// A database connection as the operator sees it (the password is not part of it).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct DbConnection {
    #[schema(example = "noisy-1")]
    pub db_key: String,
    pub kind: ConnectionKind,
    /// Host name or address; a path (starting with `/`) is a unix socket directory.
    pub host: String,
    pub port: i32,
    #[serde(rename = "database")]
    #[sqlx(rename = "database_name")]
    pub database: String,
    /// The owner (migration) role of that database.
    pub username: String,
    /// `env:NAME` or `file:PATH`, or empty: where the password is read from when connecting.
    pub password_secret_ref: String,
    pub status: ConnectionStatus,
    /// The newest migration `tenpo migrate` applied there (null: never migrated).
    pub schema_version: Option<i64>,
    pub migrated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// 1 to 64 lower-case letters, digits, `_` and `-`; `main` is the main database's.
    #[schema(example = "noisy-1")]
    pub db_key: String,
    pub kind: ConnectionKind,
    #[schema(example = "db2.internal")]
    pub host: String,
    /// Default 5432.
    pub port: Option<i32>,
    #[schema(example = "tenpo_noisy")]
    pub database: String,
    #[schema(example = "tenpo_owner")]
    pub username: String,
    /// `env:NAME` or `file:/path`; never the password itself. Empty or absent: no password.
    #[schema(example = "env:TENPO_DB_NOISY_PASSWORD")]
    pub password_secret_ref: Option<String>,
    /// Default active.
    pub status: Option<ConnectionStatus>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    pub host: Option<String>,
    pub port: Option<i32>,
    pub username: Option<String>,
    pub password_secret_ref: Option<String>,
    pub status: Option<ConnectionStatus>,
}

const COLUMNS: &str = "db_key, kind, host, port, database_name, username, password_secret_ref, status, \
                       schema_version, migrated_at, created_at, updated_at";

fn parse_key(v: &mut Validator, key: &str) -> String {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        v.push("db_key", "invalid", "use 1 to 64 lower-case letters, digits, _ and -");
    } else if key == MAIN {
        v.push("db_key", "reserved", "main names the main database (DATABASE_URL)");
    }
    key.to_string()
}

fn parse_host(v: &mut Validator, host: &str) -> String {
    let ok = !host.is_empty()
        && host.len() <= 255
        && !host.chars().any(|c| c.is_whitespace() || c.is_control() || "@?#".contains(c));
    if !ok {
        v.push("host", "invalid", "a host name, an address, or a unix socket directory (/path)");
    }
    host.to_string()
}

fn parse_name(v: &mut Validator, field: &str, value: &str) -> String {
    if value.is_empty() || value.len() > 63 || value.chars().any(|c| c.is_control()) {
        v.push(field, "invalid", "1 to 63 characters, no control characters");
    }
    value.to_string()
}

fn parse_ref(v: &mut Validator, value: &str) -> String {
    if let Err(why) = value.parse::<SecretRef>() {
        v.push("password_secret_ref", "invalid", why);
    }
    value.to_string()
}

/// Adds a connection. Nothing is connected to: `check` says whether it answers.
pub async fn create(control: &PgPool, input: CreateConnection) -> Result<DbConnection, ConnectionError> {
    let mut v = Validator::new();
    let key = parse_key(&mut v, &input.db_key);
    let host = parse_host(&mut v, &input.host);
    let port = v.range("port", input.port.unwrap_or(5432), 1, 65535);
    let database = parse_name(&mut v, "database", &input.database);
    let username = parse_name(&mut v, "username", &input.username);
    let secret_ref = parse_ref(&mut v, input.password_secret_ref.as_deref().unwrap_or(""));
    v.into_result()?;
    let row = sqlx::query_as(&format!(
        "INSERT INTO db_connections (db_key, kind, host, port, database_name, username, password_secret_ref, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(&key)
    .bind(input.kind)
    .bind(&host)
    .bind(port)
    .bind(&database)
    .bind(&username)
    .bind(&secret_ref)
    .bind(input.status.unwrap_or(ConnectionStatus::Active))
    .fetch_one(control)
    .await
    .map_err(|e| if crate::is_unique_violation(&e) { ConnectionError::KeyTaken(key.clone()) } else { e.into() })?;
    tracing::info!(db_key = %key, host = %host, port, database = %database, "database connection added");
    Ok(row)
}

pub async fn list(control: &PgPool) -> Result<Vec<DbConnection>, ConnectionError> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM db_connections ORDER BY db_key")).fetch_all(control).await?)
}

pub async fn get(control: &PgPool, key: &str) -> Result<DbConnection, ConnectionError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM db_connections WHERE db_key = $1"))
        .bind(key)
        .fetch_optional(control)
        .await?
        .ok_or(ConnectionError::NotFound)
}

/// Changes where a connection points or how it signs in, or takes it out of use. A process drops
/// its pool of the old settings the next time it looks the connection up.
pub async fn update(control: &PgPool, key: &str, input: UpdateConnection) -> Result<DbConnection, ConnectionError> {
    let mut v = Validator::new();
    let host = input.host.as_deref().map(|h| parse_host(&mut v, h));
    let port = input.port.map(|p| v.range("port", p, 1, 65535));
    let username = input.username.as_deref().map(|u| parse_name(&mut v, "username", u));
    let secret_ref = input.password_secret_ref.as_deref().map(|r| parse_ref(&mut v, r));
    v.into_result()?;
    let row = sqlx::query_as(&format!(
        "UPDATE db_connections SET host = coalesce($2, host), port = coalesce($3, port),
                username = coalesce($4, username), password_secret_ref = coalesce($5, password_secret_ref),
                status = coalesce($6, status)
          WHERE db_key = $1 RETURNING {COLUMNS}"
    ))
    .bind(key)
    .bind(host)
    .bind(port)
    .bind(username)
    .bind(secret_ref)
    .bind(input.status)
    .fetch_optional(control)
    .await?
    .ok_or(ConnectionError::NotFound)?;
    tracing::info!(db_key = %key, "database connection changed");
    Ok(row)
}

/// Records what `tenpo migrate` brought a connection to.
pub async fn record_migrated(control: &PgPool, key: &str, version: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE db_connections SET schema_version = $2, migrated_at = now() WHERE db_key = $1")
        .bind(key)
        .bind(version)
        .execute(control)
        .await
        .map(|_| ())
}

impl DbConnection {
    fn endpoint(&self, user: &str) -> PgConnectOptions {
        let opts = PgConnectOptions::new().port(self.port as u16).username(user).database(&self.database);
        // a path is a unix socket directory, as libpq reads host
        if self.host.starts_with('/') { opts.socket(&self.host) } else { opts.host(&self.host) }
    }

    /// The owner role's options, with the password read from its reference now.
    pub fn owner_options(&self) -> Result<PgConnectOptions, ConnectionError> {
        let reference: SecretRef =
            self.password_secret_ref.parse().map_err(|why: &str| ConnectionError::SecretUnavailable {
                key: self.db_key.clone(),
                reference: self.password_secret_ref.clone(),
                why: why.into(),
            })?;
        let secret = reference.resolve().map_err(|why| ConnectionError::SecretUnavailable {
            key: self.db_key.clone(),
            reference: self.password_secret_ref.clone(),
            why,
        })?;
        let opts = self.endpoint(&self.username).application_name("tenpo-migrate");
        Ok(match secret {
            Some(s) => opts.password(s.expose()),
            None => opts,
        })
    }

    /// `host:port/database`, for messages.
    pub fn describe(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }
}

/// How the runtime role reaches every connection's database.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    pub app_user: String,
    pub app_password: Option<String>,
    /// Connections per connection's pool.
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
    /// A pooled connection unused this long is closed; the pool keeps none open when idle.
    pub idle_timeout: Duration,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            app_user: "tenpo_app".into(),
            app_password: None,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = self.pools.lock().map(|p| p.keys().cloned().collect()).unwrap_or_default();
        f.debug_struct("Registry").field("open", &keys).finish()
    }
}

struct Entry {
    pool: PgPool,
    /// The row's updated_at when the pool was opened: a changed row gets a new pool.
    version: DateTime<Utc>,
    /// When the row was last read: [`Registry::cached`] answers without reading it for
    /// [`RECHECK_AFTER`], so a connection changed or taken out of use by another process is seen
    /// within that time.
    checked: std::time::Instant,
}

/// How long a pool is used without reading its connection's row again.
pub const RECHECK_AFTER: Duration = Duration::from_secs(5);

/// The runtime pools of the connections, one per connection, opened on first use.
pub struct Registry {
    settings: RuntimeSettings,
    pools: Mutex<HashMap<String, Entry>>,
}

impl Registry {
    pub fn new(settings: RuntimeSettings) -> Self {
        Registry { settings, pools: Mutex::new(HashMap::new()) }
    }

    pub fn settings(&self) -> &RuntimeSettings {
        &self.settings
    }

    /// The runtime pool of this connection (opened lazily: no connection is made until a query
    /// needs one). A connection whose row changed since gets a fresh pool; the old one closes.
    pub fn pool(&self, conn: &DbConnection) -> PgPool {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = pools.get_mut(&conn.db_key)
            && e.version == conn.updated_at
        {
            e.checked = std::time::Instant::now();
            return e.pool.clone();
        }
        let timeout_ms = self.settings.statement_timeout.as_millis().to_string();
        let mut opts = conn
            .endpoint(&self.settings.app_user)
            .application_name("tenpo")
            .options([("statement_timeout", timeout_ms.as_str()), ("idle_in_transaction_session_timeout", "60000")])
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        if let Some(pw) = &self.settings.app_password {
            opts = opts.password(pw);
        }
        let pool = crate::connect::runtime_pool_options()
            .max_connections(self.settings.max_connections)
            .min_connections(0)
            .idle_timeout(Some(self.settings.idle_timeout))
            .acquire_timeout(self.settings.acquire_timeout)
            .connect_lazy_with(opts);
        let entry = Entry { pool: pool.clone(), version: conn.updated_at, checked: std::time::Instant::now() };
        if let Some(old) = pools.insert(conn.db_key.clone(), entry) {
            tokio::spawn(async move { old.pool.close().await });
        }
        pool
    }

    /// The pool already opened for this key, without asking the control database, while its
    /// row was read less than [`RECHECK_AFTER`] ago.
    pub fn cached(&self, key: &str) -> Option<PgPool> {
        let pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        pools.get(key).filter(|e| e.checked.elapsed() < RECHECK_AFTER).map(|e| e.pool.clone())
    }

    /// Closes and forgets the pool of a connection taken out of use.
    pub fn forget(&self, key: &str) {
        let old = self.pools.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        if let Some(old) = old {
            tokio::spawn(async move { old.pool.close().await });
        }
    }

    pub async fn close_all(&self) {
        let all: Vec<Entry> = self.pools.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, e)| e).collect();
        for e in all {
            e.pool.close().await;
        }
    }
}

/// How one database answers the runtime role.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbHealth {
    /// The connection's key (`main` for the main database).
    pub db_key: String,
    pub status: HealthStatus,
    /// The newest migration applied there.
    pub schema_version: Option<i64>,
    /// The newest migration this binary carries.
    pub expected_version: i64,
    /// Why it is not ok (never a password).
    pub error: Option<String>,
    /// Connections its pool holds open now, and how many of them are idle.
    pub pool_open: u32,
    pub pool_idle: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    /// Not reachable as the runtime role (down, wrong address, role missing, password refused).
    Unreachable,
    /// Reachable, but behind this binary's migrations: `tenpo migrate` has not reached it.
    Lagging,
    /// Taken out of use by the operator; not checked.
    Inactive,
}

/// The newest migration the binary carries.
pub fn expected_version() -> i64 {
    migrate::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a request waits for a store database with no open connection to answer before it is
/// refused as unavailable.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks a pool for its schema version, within two seconds.
pub async fn health_of(db_key: &str, pool: &PgPool) -> DbHealth {
    let expected = expected_version();
    let asked = tokio::time::timeout(
        CHECK_TIMEOUT,
        sqlx::query_scalar::<_, Option<i64>>("SELECT tenpo_schema_version()").fetch_one(pool),
    )
    .await;
    let (status, version, error) = match asked {
        Ok(Ok(v)) if v.unwrap_or(0) >= expected => (HealthStatus::Ok, v, None),
        Ok(Ok(v)) => (
            HealthStatus::Lagging,
            v,
            Some(format!("at migration {} of {expected}: run `tenpo migrate`", v.unwrap_or(0))),
        ),
        // reachable, but never migrated (the function is one of the migrations)
        Ok(Err(sqlx::Error::Database(e))) if e.code().as_deref() == Some("42883") => {
            (HealthStatus::Lagging, None, Some("not migrated: run `tenpo migrate`".into()))
        }
        Ok(Err(e)) => (HealthStatus::Unreachable, None, Some(e.to_string())),
        Err(_) => (HealthStatus::Unreachable, None, Some("no answer within 2 s".into())),
    };
    DbHealth {
        db_key: db_key.to_string(),
        status,
        schema_version: version,
        expected_version: expected,
        error,
        pool_open: pool.size(),
        pool_idle: pool.num_idle() as u32,
    }
}

/// The health of every connection (inactive ones are reported, not asked), checked at once.
pub async fn health_all(control: &PgPool, registry: &Registry) -> Result<Vec<DbHealth>, sqlx::Error> {
    let rows = list(control).await.map_err(|e| match e {
        ConnectionError::Db(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    })?;
    let checks = rows.iter().map(|row| async move {
        if row.status == ConnectionStatus::Inactive {
            registry.forget(&row.db_key);
            return DbHealth {
                db_key: row.db_key.clone(),
                status: HealthStatus::Inactive,
                schema_version: row.schema_version,
                expected_version: expected_version(),
                error: None,
                pool_open: 0,
                pool_idle: 0,
            };
        }
        health_of(&row.db_key, &registry.pool(row)).await
    });
    Ok(futures::future::join_all(checks).await)
}

/// What `tenpo migrate` did to one connection.
#[derive(Debug)]
pub struct ConnectionMigrated {
    pub db_key: String,
    pub result: Result<migrate::MigrationReport, String>,
}

/// Migrates every active connection as its owner, sets up the runtime role there and checks
/// its row-level security, recording the version reached. One failing connection does not stop
/// the others; each result is reported.
pub async fn migrate_all(
    control: &PgPool,
    app_role: &str,
    app_password: Option<&str>,
) -> Result<Vec<ConnectionMigrated>, ConnectionError> {
    let mut out = Vec::new();
    for row in list(control).await? {
        if row.status == ConnectionStatus::Inactive {
            continue;
        }
        let result = async {
            let owner = row.owner_options().map_err(|e| e.to_string())?;
            ensure_database(&owner).await.map_err(|e| format!("cannot reach {}: {e}", row.describe()))?;
            let report = migrate::run(&owner, app_role, app_password).await.map_err(|e| e.to_string())?;
            record_migrated(control, &row.db_key, expected_version()).await.map_err(|e| e.to_string())?;
            Ok(report)
        }
        .await;
        match &result {
            Ok(r) => tracing::info!(db_key = %row.db_key, applied = r.applied.len(), "store database migrated"),
            Err(e) => tracing::error!(db_key = %row.db_key, error = %e, "store database not migrated"),
        }
        out.push(ConnectionMigrated { db_key: row.db_key, result });
    }
    Ok(out)
}

/// Creates the connection's database when the server has none of that name (as the main one is).
async fn ensure_database(owner: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let name = owner.get_database().unwrap_or_default().to_string();
    let mut conn = PgConnection::connect_with(&owner.clone().database("postgres")).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        tracing::info!(database = %name, "creating database");
        sqlx::raw_sql(&format!("CREATE DATABASE {}", migrate::quote_ident(&name))).execute(&mut conn).await?;
    }
    conn.close().await
}

/// `tenpo db check`: the connection as its owner (password resolved now), the isolation
/// self-check there, and the runtime role's view ([`health_of`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckReport {
    #[serde(flatten)]
    pub health: DbHealth,
    /// Whether the owner role signs in with the referenced password.
    pub owner_connects: bool,
    /// Whether every tenant-owned table there has forced row-level security (null: not reached).
    pub isolation_ok: Option<bool>,
    pub owner_error: Option<String>,
}

pub async fn check(conn: &DbConnection, registry: &Registry) -> Result<CheckReport, ConnectionError> {
    let owner = conn.owner_options()?;
    let owner_side = tokio::time::timeout(CHECK_TIMEOUT, async {
        let mut c = PgConnection::connect_with(&owner).await?;
        let iso = migrate::verify_isolation(&mut c).await.is_ok();
        c.close().await.ok();
        Ok::<_, sqlx::Error>(iso)
    })
    .await;
    let (owner_connects, isolation_ok, owner_error) = match owner_side {
        Ok(Ok(iso)) => (true, Some(iso), None),
        Ok(Err(e)) => (false, None, Some(e.to_string())),
        Err(_) => (false, None, Some("no answer within 2 s".into())),
    };
    let health = if conn.status == ConnectionStatus::Inactive {
        DbHealth {
            db_key: conn.db_key.clone(),
            status: HealthStatus::Inactive,
            schema_version: conn.schema_version,
            expected_version: expected_version(),
            error: None,
            pool_open: 0,
            pool_idle: 0,
        }
    } else {
        health_of(&conn.db_key, &registry.pool(conn)).await
    };
    Ok(CheckReport { health, owner_connects, isolation_ok, owner_error })
}

/// Refuses to serve while an active connection lags behind the binary's migrations; names each.
/// An unreachable one is only warned about: its stores answer 503 until it is back.
pub async fn refuse_lagging(control: &PgPool, registry: &Arc<Registry>) -> Result<(), String> {
    let all = health_all(control, registry).await.map_err(|e| e.to_string())?;
    let lagging: Vec<String> = all
        .iter()
        .filter(|h| h.status == HealthStatus::Lagging)
        .map(|h| format!("{} ({})", h.db_key, h.error.as_deref().unwrap_or("behind")))
        .collect();
    for h in all.iter().filter(|h| h.status == HealthStatus::Unreachable) {
        tracing::warn!(db_key = %h.db_key, error = h.error.as_deref().unwrap_or(""), "store database unreachable");
    }
    if lagging.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "store database(s) behind this binary's migrations (latest {}): {}",
            expected_version(),
            lagging.join(", ")
        ))
    }
}
