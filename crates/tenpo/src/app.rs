//! The composition root: opens the database, and starts the HTTP API and the worker with every
//! domain's consumers registered. `tenpo serve`, `tenpo demo`, the benchmarks and the
//! integration tests all start Tenpo through here.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use db::{Databases, Db};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Opens the databases (starting the private cluster when needed) and migrates if configured.
pub async fn open_database(config: &Config) -> anyhow::Result<(Databases, Db)> {
    let databases = Databases::open(config.database_settings()).await.context("cannot open the database")?;
    if config.database.auto_migrate {
        let report = databases.migrate().await.context("migration failed")?;
        if !report.applied.is_empty() {
            tracing::info!(applied = ?report.applied, "migrations applied");
        }
    }
    let db = databases.connect().await.context("cannot connect as the runtime role")?;
    Ok((databases, db))
}

/// What to run in this process.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub http: bool,
    pub worker: bool,
}

/// A running Tenpo: the API's address and the tasks to wait for.
pub struct Running {
    pub addr: Option<SocketAddr>,
    pub shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Running {
    /// Fires shutdown and waits for the API to drain and the worker to stop.
    pub async fn stop(mut self, grace: Duration) {
        self.shutdown.cancel();
        let wait = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, wait).await.is_err() {
            tracing::warn!("shutdown grace period passed; aborting remaining tasks");
            self.tasks.abort_all();
        }
    }

    /// Waits until a task ends on its own (it should not) or shutdown is fired.
    pub async fn wait(&mut self) {
        tokio::select! {
            _ = self.tasks.join_next() => {}
            _ = self.shutdown.cancelled() => {}
        }
    }
}

/// The worker with every domain's consumers registered.
pub fn worker(db: &Db, config: &Config, search: &search::Search) -> worker::Worker {
    worker::Worker::new(db.clone(), config.worker_settings())
        .with_consumer(std::sync::Arc::new(customers::sync::StoreSync))
        .with_consumer(std::sync::Arc::new(search::sync::SearchSync::new(Some(search.clone()))))
        .with_consumer(std::sync::Arc::new(digital::consumer::Deliveries))
}

/// Opens the search index: for writing when this process runs the worker (an embedded index
/// another process already writes is opened for reading and follows its commits).
pub async fn open_search(config: &Config, write: bool) -> anyhow::Result<search::Search> {
    search::Search::open(&config.search_settings(write)).await.context("cannot open the search index")
}

/// Starts the API (on `listener`, or on the configured address) and/or the worker.
pub async fn start(
    db: &Db,
    config: &Config,
    parts: Parts,
    listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<Running> {
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut addr = None;
    let hot = checkout::hot::HotQueue::new(db.clone());
    hot.spawn(shutdown.clone());
    // one index handle for the API and the worker of this process
    let search = open_search(config, parts.worker).await?;
    if parts.http {
        let listener = match listener {
            Some(l) => l,
            None => tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?,
        };
        addr = Some(listener.local_addr()?);
        let storage = storage::Storage::from_settings(&config.storage, &config.data_dir)
            .context("cannot set up file storage for digital goods ([storage])")?;
        let state = http_api::AppState::new(db.clone(), config.http_settings(), hot.clone())
            .with_search(search.clone())
            .with_storage(storage);
        let token = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = http_api::serve(listener, state, token).await {
                tracing::error!(error = %e, "HTTP server failed");
            }
        });
        tracing::info!(addr = %addr.unwrap_or_else(|| ([0, 0, 0, 0], 0).into()), "HTTP API listening");
    }
    if parts.worker {
        let mut worker_tasks = worker(db, config, &search).with_hot_queue(hot.clone()).spawn(shutdown.clone());
        worker_tasks.spawn(search::sync::run(
            db.clone(),
            search.clone(),
            config.search_sync_settings(),
            shutdown.clone(),
        ));
        tasks.spawn(async move { while worker_tasks.join_next().await.is_some() {} });
    }
    Ok(Running { addr, shutdown, tasks })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
