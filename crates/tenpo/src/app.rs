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
/// On failure nothing is left running: a private cluster started here is stopped again.
pub async fn open_database(config: &Config) -> anyhow::Result<(Databases, Db)> {
    let databases = Databases::open(config.database_settings()).await.context("cannot open the database")?;
    let connected = async {
        if config.database.auto_migrate {
            let report = databases.migrate().await.context("migration failed")?;
            if !report.applied.is_empty() {
                tracing::info!(applied = ?report.applied, "migrations applied");
            }
        }
        databases.connect().await.context("cannot connect as the runtime role")
    }
    .await;
    match connected {
        Ok(db) => Ok((databases, db)),
        Err(e) => {
            databases.shutdown().await;
            Err(e)
        }
    }
}

/// Before serving: with `auto_migrate`, brings every store database (db_connections) up to
/// the binary's migrations (a failure is logged, the next step names it); then refuses to
/// serve while any of them lags behind, naming each (docs/ROUTING.md).
pub async fn check_store_databases(config: &Config, databases: &Databases, db: &Db) -> anyhow::Result<()> {
    if config.database.auto_migrate {
        for c in databases.migrate_connections().await.context("cannot migrate the store databases")? {
            if let Err(e) = c.result {
                tracing::error!(db_key = %c.db_key, error = %e, "store database not migrated");
            }
        }
    }
    db::connections::refuse_lagging(db.platform(), db.connections())
        .await
        .map_err(|e| anyhow::anyhow!("{e}; run `tenpo migrate`"))
}

/// Serves until Ctrl-C or SIGTERM (then drains for `grace`), or until a part stops on its own,
/// which is an error: a process that lost its API or worker exits non-zero for its supervisor.
pub async fn run_until_signal(mut running: Running, grace: Duration) -> anyhow::Result<()> {
    let ended_alone = tokio::select! {
        _ = shutdown_signal() => false,
        ended = running.wait() => ended,
    };
    running.stop(grace).await;
    if ended_alone { Err(anyhow::anyhow!("a part of Tenpo stopped unexpectedly (see the log)")) } else { Ok(()) }
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

    /// Waits until a task ends on its own (it should not: true) or shutdown is fired (false).
    pub async fn wait(&mut self) -> bool {
        tokio::select! {
            _ = self.tasks.join_next() => true,
            _ = self.shutdown.cancelled() => false,
        }
    }
}

/// The worker with every domain's consumers registered.
pub fn worker(db: &Db, config: &Config, search: &search::Search) -> worker::Worker {
    worker::Worker::new(db.clone(), config.worker_settings())
        .with_consumer(std::sync::Arc::new(customers::sync::StoreSync::new(db.clone())))
        .with_consumer(std::sync::Arc::new(search::sync::SearchSync::new(Some(search.clone()))))
        .with_consumer(std::sync::Arc::new(digital::consumer::Deliveries))
        .with_consumer(std::sync::Arc::new(checkout::mails::OrderMails))
        .with_consumer(std::sync::Arc::new(digital::mails::DownloadMails))
}

/// Opens the search index: for writing when this process runs the worker (an embedded index
/// another process already writes is opened for reading and follows its commits).
pub async fn open_search(config: &Config, write: bool) -> anyhow::Result<search::Search> {
    search::Search::open(&config.search_settings(write)).await.context("cannot open the search index")
}

/// Uses the Japan Post table `tenpo postal update` stored, when there is one, instead of the
/// compiled-in table (for this whole process: address checks and the postal-code lookup).
pub async fn load_postal(db: &Db) -> anyhow::Result<()> {
    if let Some(table) = postal::store::load(db.platform()).await.context("cannot read the postal table")? {
        tracing::info!(
            source = table.source(),
            places = table.len(),
            "using the postal table loaded into the database"
        );
        postal::install(table);
    }
    Ok(())
}

/// Starts the API (on `listener`, or on the configured address) and/or the worker. Everything
/// that can fail (the address, the search index, file storage) is set up before any task
/// starts, so a failed start leaves nothing running.
pub async fn start(
    db: &Db,
    config: &Config,
    parts: Parts,
    listener: Option<tokio::net::TcpListener>,
) -> anyhow::Result<Running> {
    load_postal(db).await?;
    // one index handle for the API and the worker of this process
    let search = open_search(config, parts.worker).await?;
    // digital goods and product images; the worker makes images' renditions
    let storage = storage::Storage::from_settings(&config.storage, &config.data_dir)
        .context("cannot set up file storage for digital goods and images ([storage])")?;
    let images = if parts.worker {
        Some(
            images::worker::ImageWorker::new(db.clone(), storage.clone(), config.images.clone())
                .map_err(|e| anyhow::anyhow!("[images]: {e}"))?,
        )
    } else {
        None
    };
    let http = if parts.http {
        let listener = match listener {
            Some(l) => l,
            None => tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?,
        };
        Some((listener.local_addr()?, listener, storage.clone()))
    } else {
        None
    };

    // events to NATS JetStream, when TENPO_NATS_URL is set
    let nats = if parts.worker {
        nats::Publisher::new(db.clone(), config.nats.clone()).map_err(|e| anyhow::anyhow!("[nats]: {e}"))?
    } else {
        None
    };

    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let hot = checkout::hot::HotQueue::with_settings(db.clone(), config.hot_queue_settings());
    // the hot queue records the API's flash-sale add-to-carts: it stops once the API has
    // answered its last request, not with the signal (those requests would answer 500)
    let hot_stop = if http.is_some() { CancellationToken::new() } else { shutdown.clone() };
    hot.spawn(hot_stop.clone());
    let mut addr = None;
    if let Some((local, listener, storage)) = http {
        addr = Some(local);
        let console = console::ConsoleSettings { storage: Some(storage.clone()), ..config.console_settings() };
        let state = http_api::AppState::new(db.clone(), config.http_settings(), hot.clone())
            .with_search(search.clone())
            .with_storage(storage)
            .with_console(console::router(db.clone(), console))
            .with_storefront(storefront::router());
        let token = shutdown.clone();
        tasks.spawn(async move {
            let _stop_hot = hot_stop.drop_guard();
            if let Err(e) = http_api::serve(listener, state, token.clone()).await {
                tracing::error!(error = %e, "HTTP server failed");
                // a process whose API died stops as a whole rather than run half
                token.cancel();
            }
        });
        tracing::info!(addr = %local, "HTTP API listening");
    }
    if parts.worker {
        let mut worker = worker(db, config, &search).with_hot_queue(hot.clone()).with_per_database({
            // what runs for the main database below runs for each store database too
            let (search, storage, config) = (search.clone(), storage.clone(), config.clone());
            std::sync::Arc::new(move |db: Db, stop: CancellationToken| {
                let mut tasks: Vec<worker::BoxTask> = Vec::new();
                if db.is_main() {
                    return tasks;
                }
                tasks.push(Box::pin(search::sync::run(
                    db.clone(),
                    search.clone(),
                    config.search_sync_settings(),
                    stop.clone(),
                )));
                match images::worker::ImageWorker::new(db.clone(), storage.clone(), config.images.clone()) {
                    Ok(images) => tasks.push(Box::pin(images.run(stop.clone()))),
                    Err(e) => tracing::error!(db_key = db.db_key(), "[images]: {e}"),
                }
                if let Ok(sender) = mail::sender::Sender::new(db.clone(), config.mail.clone()) {
                    tasks.push(Box::pin(sender.run(stop.clone())));
                }
                // the relay queues the database's events for NATS there; its own publisher sends them
                if let Ok(Some(publisher)) = nats::Publisher::new(db.clone(), config.nats.clone()) {
                    tasks.push(Box::pin(publisher.run(stop.clone())));
                    tasks.push(Box::pin(nats::housekeeping(db, stop)));
                }
                tasks
            })
        });
        if let Some(publisher) = &nats {
            // the relay queues every event for NATS; the publisher sends them, apart from it
            worker = worker.with_consumer(std::sync::Arc::new(nats::Enqueue::new(publisher.waker())));
        }
        let mut worker_tasks = worker.spawn(shutdown.clone());
        if let Some(publisher) = nats {
            worker_tasks.spawn(publisher.run(shutdown.clone()));
            worker_tasks.spawn(nats::housekeeping(db.clone(), shutdown.clone()));
        }
        worker_tasks.spawn(search::sync::run(
            db.clone(),
            search.clone(),
            config.search_sync_settings(),
            shutdown.clone(),
        ));
        if let Some(images) = images {
            worker_tasks.spawn(images.run(shutdown.clone()));
        }
        match mail::sender::Sender::new(db.clone(), config.mail.clone()) {
            Ok(sender) => {
                worker_tasks.spawn(sender.run(shutdown.clone()));
            }
            Err(why) => tracing::warn!(
                "email is off: {why}; messages are recorded and go out once TENPO_SMTP_HOST and TENPO_MAIL_FROM are set"
            ),
        }
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
