//! Configuration: defaults, then the TOML file (`--config` / `TENPO_CONFIG`), then environment
//! variables, then command-line flags. Every key is documented in the README with its default;
//! a test checks that the README names every environment variable below.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: String,
    /// Where the private PostgreSQL cluster (and later local files) live.
    pub data_dir: PathBuf,
    /// Bearer token of the operator API; the operator API is off when unset.
    pub operator_token: Option<String>,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub worker: WorkerConfig,
    pub search: SearchConfig,
    /// Files of digital goods and their download URLs (docs/DIGITAL.md).
    pub storage: storage::StorageSettings,
    /// Transactional email over SMTP (docs/EMAIL.md); off until a host and from address are set.
    pub mail: mail::MailSettings,
    /// Merchant webhooks (docs/WEBHOOKS.md).
    pub webhooks: webhooks::WebhookSettings,
    /// Events to NATS JetStream (docs/NATS.md); off until a URL is set.
    pub nats: nats::NatsSettings,
    /// Product images: size limit, the rendition worker, the Image Src downloader (docs/CATALOG.md).
    pub images: images::ImageSettings,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: Option<String>,
    pub app_url: Option<String>,
    pub app_user: String,
    pub app_password: Option<String>,
    pub max_connections: u32,
    pub auto_migrate: bool,
    pub statement_timeout_secs: u64,
    pub acquire_timeout_secs: u64,
    /// Connections of each store database's runtime pool (docs/ROUTING.md).
    pub store_max_connections: u32,
    /// Seconds a store database's pooled connection may sit unused before it is closed.
    pub store_idle_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    pub trust_forwarded_for: bool,
    pub shutdown_grace_secs: u64,
    pub storefront_cache_secs: u64,
    pub hot_wait_ms: u64,
    /// Decide a flash-sale batch in the queue's own transaction when nothing waits ahead
    /// (TENPO_HOT_IN_HAND, on by default; off queues every request for the decider).
    pub hot_in_hand: bool,
    /// Tests only (TENPO_HOT_CRASH_BEFORE_IN_HAND_COMMIT): abort the process just before its
    /// nth in-hand commit (0: never).
    pub hot_crash_before_in_hand_commit: u32,
    /// How long a digital asset upload may take (its route only; others have request_timeout_secs).
    pub upload_timeout_secs: u64,
    /// Browser origins allowed on every route (CORS), comma-separated in TENPO_CORS_ORIGINS.
    pub cors_origins: Vec<String>,
    /// Mark the console's session cookie Secure (TENPO_CONSOLE_SECURE_COOKIES): set it when the
    /// console is served over HTTPS, as it should be anywhere but localhost.
    pub console_secure_cookies: bool,
    /// Mark the storefront pages' cookies (the cart) Secure (TENPO_STOREFRONT_SECURE_COOKIES):
    /// set it when the shop is served over HTTPS. Behind a trusted proxy (trust_forwarded_for)
    /// a request with `X-Forwarded-Proto: https` gets them Secure anyway.
    pub storefront_secure_cookies: bool,
    /// Where "now" comes from for delivery dates: the system clock. Not configurable; tests
    /// set a fixed instant here.
    #[serde(skip)]
    pub clock: kernel::Clock,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub session_ttl_secs: u64,
    /// Lifetime of a shopper's sign-in token.
    pub shopper_session_ttl_secs: u64,
    pub max_failures_per_account: i32,
    pub max_failures_per_address: i32,
    pub failure_window_secs: u64,
    pub lockout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    pub outbox_batch_size: i32,
    pub outbox_lease_secs: u64,
    pub hot_batch_size: i64,
    pub hot_lease_secs: u64,
    pub reservation_sweep_ms: u64,
    pub checkout_jobs_ms: u64,
    /// How often passed digital deliveries are marked expired.
    pub digital_expiry_ms: u64,
    /// How often the vendors' statements whose closing day has passed are closed (mall mode).
    pub statements_ms: u64,
}

/// Storefront search (docs/SEARCH.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// `embedded` or `meilisearch`; when unset, `meilisearch` if a Meilisearch URL is given.
    pub backend: Option<String>,
    /// Directory of the embedded index; default `<data_dir>/search`.
    pub index_dir: Option<PathBuf>,
    pub meilisearch_url: Option<String>,
    pub meilisearch_key: Option<String>,
    /// Meilisearch index uid.
    pub meilisearch_index: String,
    /// How often the sync task looks for products to refresh when nothing wakes it.
    pub sync_poll_ms: u64,
    /// What the embedded index's writer may buffer before it flushes a segment (MB, at least 15).
    pub writer_memory_mb: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            backend: None,
            index_dir: None,
            meilisearch_url: None,
            meilisearch_key: None,
            meilisearch_index: "tenpo_products".into(),
            sync_poll_ms: 500,
            writer_memory_mb: search::embedded::DEFAULT_WRITER_MEMORY / (1024 * 1024),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// RUST_LOG-style filter.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from(".tenpo"),
            operator_token: None,
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            worker: WorkerConfig::default(),
            search: SearchConfig::default(),
            storage: storage::StorageSettings::default(),
            mail: mail::MailSettings::default(),
            webhooks: webhooks::WebhookSettings::default(),
            nats: nats::NatsSettings::default(),
            images: images::ImageSettings::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            app_url: None,
            app_user: "tenpo_app".into(),
            app_password: None,
            max_connections: 32,
            auto_migrate: true,
            statement_timeout_secs: 30,
            acquire_timeout_secs: 10,
            store_max_connections: 8,
            store_idle_secs: 300,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            trust_forwarded_for: false,
            shutdown_grace_secs: 20,
            storefront_cache_secs: 5,
            hot_wait_ms: 2000,
            hot_in_hand: true,
            hot_crash_before_in_hand_commit: 0,
            upload_timeout_secs: 3600,
            cors_origins: Vec::new(),
            console_secure_cookies: false,
            storefront_secure_cookies: false,
            clock: kernel::Clock::system(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_ttl_secs: 12 * 3600,
            shopper_session_ttl_secs: 30 * 86_400,
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            failure_window_secs: 900,
            lockout_secs: 900,
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            outbox_batch_size: 100,
            outbox_lease_secs: 60,
            hot_batch_size: 500,
            hot_lease_secs: 10,
            reservation_sweep_ms: 1000,
            checkout_jobs_ms: 30_000,
            digital_expiry_ms: 60_000,
            statements_ms: 60_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: "text".into() }
    }
}

fn parse<T: std::str::FromStr>(name: &str, v: String) -> anyhow::Result<T> {
    v.trim().parse().map_err(|_| anyhow::anyhow!("{name}={v:?} is not a valid value"))
}

fn flag(name: &str, v: String) -> anyhow::Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("{name}={v:?}: use true or false"),
    }
}

/// Environment variables and how each sets a key. Names are fixed: operators and scripts rely
/// on them.
pub const ENV_VARS: &[&str] = &[
    "TENPO_CONFIG",
    "TENPO_LISTEN",
    "TENPO_DATA_DIR",
    "TENPO_OPERATOR_TOKEN",
    "DATABASE_URL",
    "TENPO_APP_DATABASE_URL",
    "TENPO_APP_DB_USER",
    "TENPO_APP_DB_PASSWORD",
    "TENPO_DB_MAX_CONNECTIONS",
    "TENPO_AUTO_MIGRATE",
    "TENPO_DB_STATEMENT_TIMEOUT_SECS",
    "TENPO_MAX_BODY_BYTES",
    "TENPO_REQUEST_TIMEOUT_SECS",
    "TENPO_TRUST_FORWARDED_FOR",
    "TENPO_STOREFRONT_SECURE_COOKIES",
    "TENPO_SHUTDOWN_GRACE_SECS",
    "TENPO_STOREFRONT_CACHE_SECS",
    "TENPO_SESSION_TTL_SECS",
    "TENPO_SHOPPER_SESSION_TTL_SECS",
    "TENPO_LOGIN_MAX_FAILURES_PER_ACCOUNT",
    "TENPO_LOGIN_MAX_FAILURES_PER_ADDRESS",
    "TENPO_LOGIN_FAILURE_WINDOW_SECS",
    "TENPO_LOGIN_LOCKOUT_SECS",
    "TENPO_OUTBOX_BATCH_SIZE",
    "TENPO_OUTBOX_LEASE_SECS",
    "TENPO_HOT_BATCH_SIZE",
    "TENPO_HOT_LEASE_SECS",
    "TENPO_HOT_WAIT_MS",
    "TENPO_HOT_IN_HAND",
    "TENPO_HOT_CRASH_BEFORE_IN_HAND_COMMIT",
    "TENPO_RESERVATION_SWEEP_MS",
    "TENPO_CHECKOUT_JOBS_MS",
    "TENPO_SEARCH_BACKEND",
    "TENPO_SEARCH_INDEX_DIR",
    "TENPO_MEILISEARCH_URL",
    "TENPO_MEILISEARCH_KEY",
    "TENPO_MEILISEARCH_INDEX",
    "TENPO_UPLOAD_TIMEOUT_SECS",
    "TENPO_CORS_ORIGINS",
    "TENPO_DIGITAL_EXPIRY_MS",
    "TENPO_STORAGE_PROVIDER",
    "TENPO_STORAGE_MAX_OBJECT_BYTES",
    "TENPO_DOWNLOAD_URL_TTL_SECS",
    "TENPO_STORAGE_DIR",
    "TENPO_STORAGE_SIGNING_SECRET",
    "TENPO_STORAGE_URL_PREFIX",
    "TENPO_S3_ENDPOINT",
    "TENPO_S3_REGION",
    "TENPO_S3_BUCKET",
    "TENPO_S3_ACCESS_KEY_ID",
    "TENPO_S3_SECRET_ACCESS_KEY",
    "TENPO_S3_PATH_STYLE",
    "TENPO_GCS_BUCKET",
    "TENPO_GCS_CREDENTIALS_FILE",
    "TENPO_SMTP_HOST",
    "TENPO_SMTP_PORT",
    "TENPO_SMTP_TLS",
    "TENPO_SMTP_USERNAME",
    "TENPO_SMTP_PASSWORD",
    "TENPO_MAIL_FROM",
    "TENPO_IMAGES_MAX_BYTES",
    "TENPO_IMAGES_PUBLIC_URL",
    "TENPO_IMAGES_FETCH_ALLOW_HOSTS",
    "TENPO_WEBHOOKS_ALLOW_PRIVATE_TARGETS",
    "TENPO_WEBHOOKS_RETRY_SCHEDULE",
    "TENPO_WEBHOOKS_ROTATION_OVERLAP_SECS",
    "TENPO_WEBHOOKS_DISABLE_AFTER_SECS",
    "TENPO_WEBHOOKS_LOG_RETENTION_DAYS",
    "TENPO_WEBHOOKS_MAX_IN_FLIGHT",
    "TENPO_WEBHOOKS_MAX_PER_ENDPOINT",
    "TENPO_WEBHOOKS_LEASE_SECS",
    "TENPO_WEBHOOKS_POLL_MS",
    "TENPO_WEBHOOKS_TIMEOUT_SECS",
    "TENPO_LOG",
    "TENPO_LOG_FORMAT",
    "TENPO_PG_BIN",
];

impl Config {
    /// Loads the configuration from the file (if any) and the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        Self::load_from(file, |k| std::env::var(k).ok())
    }

    pub fn load_from(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(&env)?;
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let get = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(v) = get("TENPO_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("TENPO_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("TENPO_OPERATOR_TOKEN") {
            self.operator_token = Some(v);
        }
        if let Some(v) = get("DATABASE_URL") {
            self.database.url = Some(v);
        }
        if let Some(v) = get("TENPO_APP_DATABASE_URL") {
            self.database.app_url = Some(v);
        }
        if let Some(v) = get("TENPO_APP_DB_USER") {
            self.database.app_user = v;
        }
        if let Some(v) = get("TENPO_APP_DB_PASSWORD") {
            self.database.app_password = Some(v);
        }
        if let Some(v) = get("TENPO_DB_MAX_CONNECTIONS") {
            self.database.max_connections = parse("TENPO_DB_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = get("TENPO_AUTO_MIGRATE") {
            self.database.auto_migrate = flag("TENPO_AUTO_MIGRATE", v)?;
        }
        if let Some(v) = get("TENPO_DB_ACQUIRE_TIMEOUT_SECS") {
            self.database.acquire_timeout_secs = parse("TENPO_DB_ACQUIRE_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("TENPO_DB_STORE_MAX_CONNECTIONS") {
            self.database.store_max_connections = parse("TENPO_DB_STORE_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = get("TENPO_DB_STORE_IDLE_SECS") {
            self.database.store_idle_secs = parse("TENPO_DB_STORE_IDLE_SECS", v)?;
        }
        if let Some(v) = get("TENPO_DB_STATEMENT_TIMEOUT_SECS") {
            self.database.statement_timeout_secs = parse("TENPO_DB_STATEMENT_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("TENPO_MAX_BODY_BYTES") {
            self.http.max_body_bytes = parse("TENPO_MAX_BODY_BYTES", v)?;
        }
        if let Some(v) = get("TENPO_REQUEST_TIMEOUT_SECS") {
            self.http.request_timeout_secs = parse("TENPO_REQUEST_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("TENPO_TRUST_FORWARDED_FOR") {
            self.http.trust_forwarded_for = flag("TENPO_TRUST_FORWARDED_FOR", v)?;
        }
        if let Some(v) = get("TENPO_STOREFRONT_SECURE_COOKIES") {
            self.http.storefront_secure_cookies = flag("TENPO_STOREFRONT_SECURE_COOKIES", v)?;
        }
        if let Some(v) = get("TENPO_CONSOLE_SECURE_COOKIES") {
            self.http.console_secure_cookies = flag("TENPO_CONSOLE_SECURE_COOKIES", v)?;
        }
        if let Some(v) = get("TENPO_SHUTDOWN_GRACE_SECS") {
            self.http.shutdown_grace_secs = parse("TENPO_SHUTDOWN_GRACE_SECS", v)?;
        }
        if let Some(v) = get("TENPO_STOREFRONT_CACHE_SECS") {
            self.http.storefront_cache_secs = parse("TENPO_STOREFRONT_CACHE_SECS", v)?;
        }
        if let Some(v) = get("TENPO_SESSION_TTL_SECS") {
            self.auth.session_ttl_secs = parse("TENPO_SESSION_TTL_SECS", v)?;
        }
        if let Some(v) = get("TENPO_SHOPPER_SESSION_TTL_SECS") {
            self.auth.shopper_session_ttl_secs = parse("TENPO_SHOPPER_SESSION_TTL_SECS", v)?;
        }
        if let Some(v) = get("TENPO_LOGIN_MAX_FAILURES_PER_ACCOUNT") {
            self.auth.max_failures_per_account = parse("TENPO_LOGIN_MAX_FAILURES_PER_ACCOUNT", v)?;
        }
        if let Some(v) = get("TENPO_LOGIN_MAX_FAILURES_PER_ADDRESS") {
            self.auth.max_failures_per_address = parse("TENPO_LOGIN_MAX_FAILURES_PER_ADDRESS", v)?;
        }
        if let Some(v) = get("TENPO_LOGIN_FAILURE_WINDOW_SECS") {
            self.auth.failure_window_secs = parse("TENPO_LOGIN_FAILURE_WINDOW_SECS", v)?;
        }
        if let Some(v) = get("TENPO_LOGIN_LOCKOUT_SECS") {
            self.auth.lockout_secs = parse("TENPO_LOGIN_LOCKOUT_SECS", v)?;
        }
        if let Some(v) = get("TENPO_OUTBOX_BATCH_SIZE") {
            self.worker.outbox_batch_size = parse("TENPO_OUTBOX_BATCH_SIZE", v)?;
        }
        if let Some(v) = get("TENPO_OUTBOX_LEASE_SECS") {
            self.worker.outbox_lease_secs = parse("TENPO_OUTBOX_LEASE_SECS", v)?;
        }
        if let Some(v) = get("TENPO_HOT_BATCH_SIZE") {
            self.worker.hot_batch_size = parse("TENPO_HOT_BATCH_SIZE", v)?;
        }
        if let Some(v) = get("TENPO_HOT_LEASE_SECS") {
            self.worker.hot_lease_secs = parse("TENPO_HOT_LEASE_SECS", v)?;
        }
        if let Some(v) = get("TENPO_HOT_WAIT_MS") {
            self.http.hot_wait_ms = parse("TENPO_HOT_WAIT_MS", v)?;
        }
        if let Some(v) = get("TENPO_HOT_IN_HAND") {
            self.http.hot_in_hand = flag("TENPO_HOT_IN_HAND", v)?;
        }
        if let Some(v) = get("TENPO_HOT_CRASH_BEFORE_IN_HAND_COMMIT") {
            self.http.hot_crash_before_in_hand_commit = parse("TENPO_HOT_CRASH_BEFORE_IN_HAND_COMMIT", v)?;
        }
        if let Some(v) = get("TENPO_CHECKOUT_JOBS_MS") {
            self.worker.checkout_jobs_ms = parse("TENPO_CHECKOUT_JOBS_MS", v)?;
        }
        if let Some(v) = get("TENPO_RESERVATION_SWEEP_MS") {
            self.worker.reservation_sweep_ms = parse("TENPO_RESERVATION_SWEEP_MS", v)?;
        }
        if let Some(v) = get("TENPO_SEARCH_BACKEND") {
            self.search.backend = Some(v);
        }
        if let Some(v) = get("TENPO_SEARCH_INDEX_DIR") {
            self.search.index_dir = Some(v.into());
        }
        if let Some(v) = get("TENPO_SEARCH_WRITER_MEMORY_MB") {
            self.search.writer_memory_mb = parse("TENPO_SEARCH_WRITER_MEMORY_MB", v)?;
        }
        if let Some(v) = get("TENPO_MEILISEARCH_URL") {
            self.search.meilisearch_url = Some(v);
        }
        if let Some(v) = get("TENPO_MEILISEARCH_KEY") {
            self.search.meilisearch_key = Some(v);
        }
        if let Some(v) = get("TENPO_MEILISEARCH_INDEX") {
            self.search.meilisearch_index = v;
        }
        if let Some(v) = get("TENPO_UPLOAD_TIMEOUT_SECS") {
            self.http.upload_timeout_secs = parse("TENPO_UPLOAD_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("TENPO_CORS_ORIGINS") {
            self.http.cors_origins = v.split(',').map(str::to_string).collect();
        }
        if let Some(v) = get("TENPO_DIGITAL_EXPIRY_MS") {
            self.worker.digital_expiry_ms = parse("TENPO_DIGITAL_EXPIRY_MS", v)?;
        }
        if let Some(v) = get("TENPO_STATEMENTS_MS") {
            self.worker.statements_ms = parse("TENPO_STATEMENTS_MS", v)?;
        }
        self.apply_storage_env(&get)?;
        if let Some(v) = get("TENPO_SMTP_HOST") {
            self.mail.smtp_host = Some(v);
        }
        if let Some(v) = get("TENPO_SMTP_PORT") {
            self.mail.smtp_port = Some(parse("TENPO_SMTP_PORT", v)?);
        }
        if let Some(v) = get("TENPO_SMTP_TLS") {
            self.mail.tls = v.parse().map_err(|e: String| anyhow::anyhow!("TENPO_SMTP_TLS: {e}"))?;
        }
        if let Some(v) = get("TENPO_SMTP_USERNAME") {
            self.mail.username = Some(v);
        }
        if let Some(v) = get("TENPO_MAIL_FROM") {
            self.mail.from_address = Some(v);
        }
        self.apply_webhooks_env(&get)?;
        self.apply_nats_env(&get)?;
        if let Some(v) = get("TENPO_IMAGES_MAX_BYTES") {
            self.images.max_bytes = parse("TENPO_IMAGES_MAX_BYTES", v)?;
        }
        if let Some(v) = get("TENPO_IMAGES_PUBLIC_URL") {
            self.images.public_url = Some(v.trim_end_matches('/').to_string()).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("TENPO_IMAGES_FETCH_ALLOW_HOSTS") {
            self.images.fetch.allow_hosts =
                v.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_string).collect();
        }
        if let Some(v) = get("TENPO_LOG") {
            self.log.level = v;
        }
        if let Some(v) = get("TENPO_LOG_FORMAT") {
            self.log.format = v;
        }
        Ok(())
    }

    /// `[webhooks]` from TENPO_WEBHOOKS_*.
    fn apply_webhooks_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let w = &mut self.webhooks;
        if let Some(v) = get("TENPO_WEBHOOKS_ALLOW_PRIVATE_TARGETS") {
            w.allow_private_targets = flag("TENPO_WEBHOOKS_ALLOW_PRIVATE_TARGETS", v)?;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_RETRY_SCHEDULE") {
            w.retry_schedule = v;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_ROTATION_OVERLAP_SECS") {
            w.rotation_overlap_secs = parse("TENPO_WEBHOOKS_ROTATION_OVERLAP_SECS", v)?;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_DISABLE_AFTER_SECS") {
            w.disable_after_secs = parse("TENPO_WEBHOOKS_DISABLE_AFTER_SECS", v)?;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_LOG_RETENTION_DAYS") {
            w.log_retention_days = parse("TENPO_WEBHOOKS_LOG_RETENTION_DAYS", v)?;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_MAX_IN_FLIGHT") {
            w.max_in_flight = parse("TENPO_WEBHOOKS_MAX_IN_FLIGHT", v)?;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_MAX_PER_ENDPOINT") {
            w.max_per_endpoint = parse("TENPO_WEBHOOKS_MAX_PER_ENDPOINT", v)?;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_LEASE_SECS") {
            w.lease_secs = parse("TENPO_WEBHOOKS_LEASE_SECS", v)?;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_TIMEOUT_SECS") {
            w.timeout_secs = parse("TENPO_WEBHOOKS_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("TENPO_WEBHOOKS_POLL_MS") {
            w.poll_ms = parse("TENPO_WEBHOOKS_POLL_MS", v)?;
        }
        Ok(())
    }

    /// `[nats]` from TENPO_NATS_*.
    fn apply_nats_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let n = &mut self.nats;
        if let Some(v) = get("TENPO_NATS_URL") {
            n.url = Some(v).filter(|v| !v.trim().is_empty());
        }
        if let Some(v) = get("TENPO_NATS_STREAM") {
            n.stream = v;
        }
        if let Some(v) = get("TENPO_NATS_SUBJECT_PREFIX") {
            n.subject_prefix = v;
        }
        if let Some(v) = get("TENPO_NATS_MAX_AGE_SECS") {
            n.max_age_secs = parse("TENPO_NATS_MAX_AGE_SECS", v)?;
        }
        if let Some(v) = get("TENPO_NATS_DUPLICATE_WINDOW_SECS") {
            n.duplicate_window_secs = parse("TENPO_NATS_DUPLICATE_WINDOW_SECS", v)?;
        }
        if let Some(v) = get("TENPO_NATS_BATCH_SIZE") {
            n.batch_size = parse("TENPO_NATS_BATCH_SIZE", v)?;
        }
        if let Some(v) = get("TENPO_NATS_LEASE_SECS") {
            n.lease_secs = parse("TENPO_NATS_LEASE_SECS", v)?;
        }
        if let Some(v) = get("TENPO_NATS_ACK_TIMEOUT_SECS") {
            n.ack_timeout_secs = parse("TENPO_NATS_ACK_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = get("TENPO_NATS_POLL_MS") {
            n.poll_ms = parse("TENPO_NATS_POLL_MS", v)?;
        }
        Ok(())
    }

    /// `[storage]` from TENPO_STORAGE_*, TENPO_DOWNLOAD_URL_TTL_SECS, TENPO_S3_* and TENPO_GCS_*.
    /// An S3 or GCS key given only in the environment creates its table (the secret access key
    /// itself is read from TENPO_S3_SECRET_ACCESS_KEY, or the variable `s3.secret_access_key_env`
    /// names, when storage starts).
    fn apply_storage_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let st = &mut self.storage;
        if let Some(v) = get("TENPO_STORAGE_PROVIDER") {
            st.provider = v.trim().parse().map_err(|e: String| anyhow::anyhow!("TENPO_STORAGE_PROVIDER: {e}"))?;
        }
        if let Some(v) = get("TENPO_STORAGE_MAX_OBJECT_BYTES") {
            st.max_object_bytes = parse("TENPO_STORAGE_MAX_OBJECT_BYTES", v)?;
        }
        if let Some(v) = get("TENPO_DOWNLOAD_URL_TTL_SECS") {
            st.download_url_ttl_secs = parse("TENPO_DOWNLOAD_URL_TTL_SECS", v)?;
        }
        if let Some(v) = get("TENPO_STORAGE_DIR") {
            st.local.dir = Some(v.into());
        }
        if let Some(v) = get("TENPO_STORAGE_SIGNING_SECRET") {
            st.local.signing_secret = Some(storage::Secret::new(v));
        }
        if let Some(v) = get("TENPO_STORAGE_URL_PREFIX") {
            st.local.url_prefix = v;
        }
        let s3_keys = [
            "TENPO_S3_ENDPOINT",
            "TENPO_S3_REGION",
            "TENPO_S3_BUCKET",
            "TENPO_S3_ACCESS_KEY_ID",
            "TENPO_S3_PATH_STYLE",
        ];
        if s3_keys.iter().any(|k| get(k).is_some()) {
            let s3 = st.s3.get_or_insert_with(|| storage::S3Settings {
                endpoint: None,
                region: "us-east-1".into(),
                bucket: String::new(),
                access_key_id: String::new(),
                secret_access_key_env: "TENPO_S3_SECRET_ACCESS_KEY".into(),
                session_token_env: None,
                path_style: false,
            });
            if let Some(v) = get("TENPO_S3_ENDPOINT") {
                s3.endpoint = Some(v);
            }
            if let Some(v) = get("TENPO_S3_REGION") {
                s3.region = v;
            }
            if let Some(v) = get("TENPO_S3_BUCKET") {
                s3.bucket = v;
            }
            if let Some(v) = get("TENPO_S3_ACCESS_KEY_ID") {
                s3.access_key_id = v;
            }
            if let Some(v) = get("TENPO_S3_PATH_STYLE") {
                s3.path_style = flag("TENPO_S3_PATH_STYLE", v)?;
            }
        }
        if let (Some(bucket), Some(file)) = (get("TENPO_GCS_BUCKET"), get("TENPO_GCS_CREDENTIALS_FILE")) {
            st.gcs = Some(storage::GcsSettings { bucket, credentials_file: file.into() });
        } else if get("TENPO_GCS_BUCKET").is_some() || get("TENPO_GCS_CREDENTIALS_FILE").is_some() {
            bail!("set both TENPO_GCS_BUCKET and TENPO_GCS_CREDENTIALS_FILE");
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            bail!("listen = {:?} is not an address like 127.0.0.1:8080", self.listen);
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("log format {:?}: use text or json", self.log.format);
        }
        if self.operator_token.as_ref().is_some_and(|t| t.len() < 16) {
            bail!("the operator token must be at least 16 characters");
        }
        match (self.search_backend(), &self.search.meilisearch_url) {
            ("embedded", _) => {}
            ("meilisearch", Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {}
            ("meilisearch", _) => bail!("search backend meilisearch needs meilisearch_url (http://host:7700)"),
            (other, _) => bail!("search backend {other:?}: use embedded or meilisearch"),
        }
        kernel::origin::parse_origin_list(&self.http.cors_origins.join(","))
            .map_err(|e| anyhow::anyhow!("http.cors_origins (TENPO_CORS_ORIGINS): {e}"))?;
        self.mail.validate().map_err(|e| anyhow::anyhow!("[mail]: {e}"))?;
        self.webhooks.validate().map_err(|e| anyhow::anyhow!("[webhooks]: {e}"))?;
        self.images.validate().map_err(|e| anyhow::anyhow!("[images]: {e}"))?;
        if self.nats.url.is_some() {
            self.nats.validate().map_err(|e| anyhow::anyhow!("[nats]: {e}"))?;
        }
        if self.database.max_connections == 0 || self.worker.outbox_batch_size <= 0 {
            bail!("database.max_connections and worker.outbox_batch_size must be positive");
        }
        Ok(())
    }

    pub fn database_settings(&self) -> db::DatabaseSettings {
        db::DatabaseSettings {
            url: self.database.url.clone(),
            app_url: self.database.app_url.clone(),
            app_user: self.database.app_user.clone(),
            app_password: self.database.app_password.clone(),
            max_connections: self.database.max_connections,
            data_dir: self.data_dir.clone(),
            statement_timeout: Duration::from_secs(self.database.statement_timeout_secs),
            acquire_timeout: Duration::from_secs(self.database.acquire_timeout_secs.max(1)),
            store_max_connections: self.database.store_max_connections.max(1),
            store_idle_timeout: Duration::from_secs(self.database.store_idle_secs.max(1)),
        }
    }

    pub fn hot_queue_settings(&self) -> checkout::hot::QueueSettings {
        checkout::hot::QueueSettings {
            in_hand: self.http.hot_in_hand,
            crash_before_in_hand_commit: Some(self.http.hot_crash_before_in_hand_commit).filter(|n| *n > 0),
        }
    }

    pub fn http_settings(&self) -> http_api::HttpSettings {
        http_api::HttpSettings {
            operator_token: self.operator_token.clone(),
            max_body_bytes: self.http.max_body_bytes,
            request_timeout: Duration::from_secs(self.http.request_timeout_secs),
            trust_forwarded_for: self.http.trust_forwarded_for,
            storefront_cache_ttl: Duration::from_secs(self.http.storefront_cache_secs),
            hot_wait: Duration::from_millis(self.http.hot_wait_ms),
            hot_queue: self.hot_queue_settings(),
            upload_timeout: Duration::from_secs(self.http.upload_timeout_secs),
            shopper_session_ttl: Duration::from_secs(self.auth.shopper_session_ttl_secs),
            webhooks: self.webhooks.clone(),
            image_max_bytes: self.images.max_bytes,
            image_public_url: self.images.public_url.clone(),
            clock: self.http.clock,
            storefront_secure_cookies: self.http.storefront_secure_cookies,
            cors_origins: kernel::origin::parse_origin_list(&self.http.cors_origins.join(",")).unwrap_or_default(),
            auth: tenancy::auth::AuthSettings {
                session_ttl: Duration::from_secs(self.auth.session_ttl_secs),
                max_failures_per_account: self.auth.max_failures_per_account,
                max_failures_per_address: self.auth.max_failures_per_address,
                window: Duration::from_secs(self.auth.failure_window_secs),
                lockout: Duration::from_secs(self.auth.lockout_secs),
            },
        }
    }

    pub fn console_settings(&self) -> console::ConsoleSettings {
        console::ConsoleSettings {
            auth: self.http_settings().auth,
            secure_cookies: self.http.console_secure_cookies,
            trust_forwarded_for: self.http.trust_forwarded_for,
            webhooks: self.webhooks.clone(),
            storage: None,
            image_max_bytes: self.images.max_bytes,
            clock: self.http.clock,
        }
    }

    /// `embedded` or `meilisearch` (see [`SearchConfig::backend`]).
    pub fn search_backend(&self) -> &str {
        match (&self.search.backend, &self.search.meilisearch_url) {
            (Some(b), _) => b.as_str(),
            (None, Some(_)) => "meilisearch",
            (None, None) => "embedded",
        }
    }

    /// Where and how to open the search index; `write` for a process that runs the worker.
    pub fn search_settings(&self, write: bool) -> search::SearchSettings {
        if self.search_backend() == "meilisearch" {
            return search::SearchSettings::Meilisearch {
                url: self.search.meilisearch_url.clone().unwrap_or_default(),
                key: self.search.meilisearch_key.clone(),
                index: self.search.meilisearch_index.clone(),
            };
        }
        let dir = self.search.index_dir.clone().unwrap_or_else(|| self.data_dir.join("search"));
        let writer_memory = self.search.writer_memory_mb.saturating_mul(1024 * 1024);
        search::SearchSettings::Embedded { dir, write, writer_memory }
    }

    pub fn search_sync_settings(&self) -> search::sync::SyncSettings {
        search::sync::SyncSettings {
            poll: Duration::from_millis(self.search.sync_poll_ms.max(10)),
            ..Default::default()
        }
    }

    pub fn worker_settings(&self) -> worker::WorkerSettings {
        worker::WorkerSettings {
            relay: events::RelayOptions {
                batch_size: self.worker.outbox_batch_size,
                lease: Duration::from_secs(self.worker.outbox_lease_secs),
                ..Default::default()
            },
            hot: checkout::hot::HotSettings {
                batch_size: self.worker.hot_batch_size,
                lease: Duration::from_secs(self.worker.hot_lease_secs),
                ..Default::default()
            },
            sweep_every: Duration::from_millis(self.worker.reservation_sweep_ms),
            sweep_batch: 500,
            checkout_jobs_every: Duration::from_millis(self.worker.checkout_jobs_ms),
            digital_expiry_every: Duration::from_millis(self.worker.digital_expiry_ms),
            statements_every: Duration::from_millis(self.worker.statements_ms.max(10)),
            webhooks: self.webhooks.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_defaults() {
        let dir = std::env::temp_dir().join(format!("tenpo-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tenpo.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\n[database]\nmax_connections = 8\n").unwrap();
        let c =
            Config::load_from(Some(&file), |k| (k == "TENPO_DB_MAX_CONNECTIONS").then(|| "12".to_string())).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.database.max_connections, 12);
        assert_eq!(c.database.app_user, "tenpo_app");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let dir = std::env::temp_dir().join(format!("tenpo-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tenpo.toml");
        std::fs::write(&file, "listne = \"0.0.0.0:9000\"\n").unwrap();
        assert!(Config::load_from(Some(&file), |_| None).is_err());
        assert!(Config::load_from(None, |k| (k == "TENPO_AUTO_MIGRATE").then(|| "maybe".to_string())).is_err());
        assert!(Config::load_from(None, |k| (k == "TENPO_LISTEN").then(|| "nowhere".to_string())).is_err());
        assert!(
            Config::load_from(None, |k| (k == "TENPO_CORS_ORIGINS").then(|| "shop.example.jp".to_string())).is_err()
        );
        let c = Config::load_from(None, |k| (k == "TENPO_CORS_ORIGINS").then(|| "https://A.jp, http://b.jp:81".into()));
        assert_eq!(c.unwrap().http_settings().cors_origins, ["https://a.jp", "http://b.jp:81"]);
    }

    #[test]
    fn nats_is_off_until_a_url_is_set_and_refuses_a_short_duplicate_window() {
        let off = Config::load_from(None, |_| None).unwrap();
        assert_eq!(off.nats.url, None);
        let on = |window: &'static str| {
            Config::load_from(None, move |k| match k {
                "TENPO_NATS_URL" => Some("nats://127.0.0.1:4222".to_string()),
                "TENPO_NATS_DUPLICATE_WINDOW_SECS" => Some(window.to_string()),
                "TENPO_NATS_MAX_AGE_SECS" => Some("86400".to_string()),
                _ => None,
            })
        };
        let c = on("600").unwrap();
        assert_eq!(c.nats.url.as_deref(), Some("nats://127.0.0.1:4222"));
        assert_eq!((c.nats.duplicate_window_secs, c.nats.max_age_secs, c.nats.stream.as_str()), (600, 86400, "TENPO"));
        let short = on("599").unwrap_err().to_string();
        assert!(short.contains("[nats]") && short.contains("600"), "{short}");
    }

    #[test]
    fn storage_from_the_file_and_the_environment() {
        let dir = std::env::temp_dir().join(format!("tenpo-config-storage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tenpo.toml");
        std::fs::write(&file, "[storage]\ndownload_url_ttl_secs = 120\n[storage.local]\ndir = \"/srv/files\"\n")
            .unwrap();
        let c = Config::load_from(Some(&file), |_| None).unwrap();
        assert_eq!(c.storage.provider, storage::Provider::Local);
        assert_eq!(c.storage.download_url_ttl_secs, 120);
        assert_eq!(c.storage.local.dir.as_deref(), Some(Path::new("/srv/files")));
        let env = |k: &str| {
            match k {
                "TENPO_STORAGE_PROVIDER" => Some("s3"),
                "TENPO_S3_BUCKET" => Some("shop-files"),
                "TENPO_S3_ENDPOINT" => Some("http://127.0.0.1:9000"),
                "TENPO_S3_ACCESS_KEY_ID" => Some("AKID"),
                "TENPO_S3_PATH_STYLE" => Some("true"),
                "TENPO_STORAGE_MAX_OBJECT_BYTES" => Some("1048576"),
                _ => None,
            }
            .map(str::to_string)
        };
        let c = Config::load_from(None, env).unwrap();
        let s3 = c.storage.s3.expect("s3 table from the environment");
        assert_eq!((c.storage.provider, c.storage.max_object_bytes), (storage::Provider::S3, 1_048_576));
        assert_eq!((s3.bucket.as_str(), s3.region.as_str(), s3.path_style), ("shop-files", "us-east-1", true));
        assert_eq!(s3.secret_access_key_env, "TENPO_S3_SECRET_ACCESS_KEY");
        assert!(Config::load_from(None, |k| (k == "TENPO_STORAGE_PROVIDER").then(|| "ftp".to_string())).is_err());
        assert!(Config::load_from(None, |k| (k == "TENPO_GCS_BUCKET").then(|| "b".to_string())).is_err());
    }

    #[test]
    fn readme_documents_every_environment_variable() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap_or_default();
        let missing: Vec<_> = ENV_VARS.iter().filter(|v| !readme.contains(*v)).collect();
        assert!(missing.is_empty(), "README lacks {missing:?}");
    }
}
