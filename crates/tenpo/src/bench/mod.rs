//! `tenpo bench <scenario>`: drives the HTTP API with many concurrent clients and prints each
//! measured phase beside a baseline measured in the same run, as a ratio.
//!
//! Without `--url` it prepares a fresh database (cloned from the migrated template on the
//! configured PostgreSQL, or the private cluster), starts Tenpo in-process on a free port, and
//! drops the database and its search index afterwards. With `--url` it targets a running
//! server and prepares its data through the operator API (pass `--operator-token`). Client and
//! server share the machine's cores, so figures are for comparison within one run, not absolute
//! capacity. Every report ends with the peak resident memory of the process serving it.

mod chaos;
mod checkout;
mod client;
mod console;
mod events;
mod flash;
mod load;
mod scenarios;
mod search;
mod storefront_pages;

use anyhow::{Context, bail};
use db::Databases;

use crate::app::{self, Parts, Running};
use crate::cli::BenchArgs;
use crate::config::Config;

pub use load::{Phase, Report, measure};

/// The server a benchmark talks to.
pub struct Target {
    pub base: String,
    pub operator_token: String,
    pub client: reqwest::Client,
    pub concurrency: usize,
    pub duration: std::time::Duration,
    local: Option<Local>,
}

struct Local {
    /// The configuration the local server runs with.
    config: Config,
    running: Running,
    /// A second server on the same database with the storefront cache off, for comparisons.
    uncached: Option<(Running, String)>,
    db: db::Db,
    maintenance: sqlx::postgres::PgConnectOptions,
    database: String,
    cluster: Databases,
}

pub async fn run(config: &Config, args: BenchArgs) -> anyhow::Result<()> {
    if args.scenario == "chaos" {
        // its server is a child process it kills, not an in-process one
        return chaos::run(config, &args).await;
    }
    let Some(scenario) = scenarios::find(&args.scenario) else {
        bail!("unknown scenario {:?}; known: {}, chaos", args.scenario, scenarios::names().join(", "));
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(1))
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let duration = std::time::Duration::from_secs(args.duration.max(1));
    let mut local_config = config.clone();
    if args.scenario == "events" {
        events::tune(&mut local_config);
    }
    let target = match &args.url {
        Some(url) => {
            let token =
                args.operator_token.clone().context("--url needs --operator-token (or TENPO_OPERATOR_TOKEN)")?;
            Target {
                base: url.trim_end_matches('/').to_string(),
                operator_token: token,
                client,
                concurrency: args.concurrency,
                duration,
                local: None,
            }
        }
        None => start_local(&local_config, client, args.concurrency, duration).await?,
    };
    eprintln!(
        "bench {}: {} concurrent clients, {}s per phase, against {}",
        args.scenario,
        args.concurrency,
        duration.as_secs(),
        target.base
    );
    let result = scenario(&target).await;
    let local = target.local.is_some();
    target.finish().await;
    if local && args.scenario == "events" {
        events::delete_stream(&local_config).await;
    }
    let mut report = result?;
    report.notes.push(match (peak_rss_mb(), local) {
        (Some(mb), true) => format!(
            "server peak RSS {mb:.0} MB (VmHWM of this process: the server runs in it, beside the bench's clients)"
        ),
        (Some(mb), false) => {
            format!("peak RSS of the bench client {mb:.0} MB (the server's is its own process's VmHWM)")
        }
        (None, _) => "peak RSS: unknown (no /proc/self/status)".to_string(),
    });
    println!("{report}");
    Ok(())
}

/// The peak resident memory of this process (VmHWM), in MB.
pub(super) fn peak_rss_mb() -> Option<f64> {
    peak_rss_of("/proc/self/status")
}

/// The peak resident memory (VmHWM) in a `/proc/<pid>/status` file, in MB.
pub(super) fn peak_rss_of(status: &str) -> Option<f64> {
    let status = std::fs::read_to_string(status).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn start_local(
    config: &Config,
    client: reqwest::Client,
    concurrency: usize,
    duration: std::time::Duration,
) -> anyhow::Result<Target> {
    let cluster = Databases::open(config.database_settings()).await.context("cannot open the database")?;
    let maintenance = cluster.owner_options().clone().database("postgres");
    let owner = db::testing::fresh_database(&maintenance, "tenpo_bench_").await?;
    let database = owner.get_database().unwrap_or_default().to_string();
    // the configured pool: more connections than cores only queue inside PostgreSQL
    let dbs = Databases::from_options(owner, config.database_settings());
    let db = dbs.connect().await?;
    let mut config = config.clone();
    let token = format!("bench_{}", uuid::Uuid::new_v4().simple());
    config.operator_token = Some(token.clone());
    // a search index of its own, whatever else runs on this data directory
    config.search.index_dir =
        Some(std::env::temp_dir().join(format!("tenpo-bench-index-{}", uuid::Uuid::new_v4().simple())));
    // the events bench's webhook receiver listens on 127.0.0.1 (a fresh database: no other endpoint)
    config.webhooks.allow_private_targets = true;
    // benchmarks sign in many times from one address
    config.auth.max_failures_per_address = i32::MAX;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = app::start(&db, &config, Parts { http: true, worker: true }, Some(listener)).await?;
    let base = format!("http://{}", running.addr.context("no address")?);
    let mut plain = config.clone();
    plain.http.storefront_cache_secs = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let second = app::start(&db, &plain, Parts { http: true, worker: false }, Some(listener)).await?;
    let uncached_base = format!("http://{}", second.addr.context("no address")?);
    Ok(Target {
        base,
        operator_token: token,
        client,
        concurrency,
        duration,
        local: Some(Local {
            config,
            running,
            uncached: Some((second, uncached_base)),
            db,
            maintenance,
            database,
            cluster,
        }),
    })
}

impl Target {
    async fn finish(self) {
        if let Some(local) = self.local {
            if let Some((second, _)) = local.uncached {
                second.stop(std::time::Duration::from_secs(5)).await;
            }
            local.running.stop(std::time::Duration::from_secs(5)).await;
            local.db.close().await;
            if let Err(e) = db::testing::drop_database(&local.maintenance, &local.database).await {
                eprintln!("warning: could not drop {}: {e}", local.database);
            }
            local.cluster.shutdown().await;
            // the run's own search index
            if let Some(dir) = &local.config.search.index_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's socket address, for the lean client.
    pub fn addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        addr_of(&self.base)
    }

    /// Refreshes the planner's statistics (local runs), as autovacuum does within a minute of a
    /// live shop's traffic. Tables that grew from empty seconds ago otherwise carry the plans
    /// made for empty tables, and the benchmark measures those.
    pub async fn analyze(&self) -> anyhow::Result<()> {
        use sqlx::Connection;
        if let Some(l) = &self.local {
            let mut conn = sqlx::PgConnection::connect_with(&l.maintenance.clone().database(&l.database)).await?;
            sqlx::query("ANALYZE").execute(&mut conn).await?;
            conn.close().await?;
        }
        Ok(())
    }

    /// Outbox events not yet delivered (local runs; `None` otherwise).
    pub async fn outbox_pending(&self) -> anyhow::Result<Option<i64>> {
        use sqlx::Connection;
        let Some(l) = &self.local else { return Ok(None) };
        let mut conn = sqlx::PgConnection::connect_with(&l.maintenance.clone().database(&l.database)).await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_events WHERE status = 'pending'")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        Ok(Some(n))
    }

    /// Puts back (or drops again) the trigger by which every stock change dropped the store's
    /// cached pages before migration 202612011853, to measure before and after in one run
    /// (local runs). Answers what it did, or `None` when it cannot.
    pub async fn with_stock_notify(&self, on: bool) -> anyhow::Result<Option<&'static str>> {
        use sqlx::Connection;
        let Some(l) = &self.local else { return Ok(None) };
        let mut conn = sqlx::PgConnection::connect_with(&l.maintenance.clone().database(&l.database)).await?;
        let sql = if on {
            "CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON inventory_stocks
               FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog()"
        } else {
            "DROP TRIGGER IF EXISTS notify_catalog ON inventory_stocks"
        };
        sqlx::query(sql).execute(&mut conn).await?;
        conn.close().await?;
        Ok(Some("stock NOTIFY trigger put back"))
    }

    /// A server on the same data with the storefront cache off (local runs only).
    pub fn uncached_addr(&self) -> Option<std::net::SocketAddr> {
        self.local.as_ref().and_then(|l| l.uncached.as_ref()).and_then(|(_, base)| addr_of(base).ok())
    }
}

fn addr_of(base: &str) -> anyhow::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let hostport = base.trim_start_matches("http://").trim_end_matches('/');
    hostport.to_socket_addrs()?.next().context("cannot resolve the server address")
}
