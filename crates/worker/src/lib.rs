//! The worker: long-running background tasks, started by `tenpo serve` (with the API) or
//! `tenpo worker` (alone). Several workers may run against one database: every job claims its
//! work with `FOR UPDATE SKIP LOCKED` and leases, so they share it without doing anything twice.

use std::sync::Arc;
use std::time::Duration;

use checkout::hot::{Decider, HotQueue, HotSettings};
use db::Db;
use events::{Consumer, Relay, RelayOptions};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub relay: RelayOptions,
    pub hot: HotSettings,
    /// How often expired holds are released.
    pub sweep_every: Duration,
    pub sweep_batch: i64,
    /// How often unpaid orders and stale carts are looked for.
    pub checkout_jobs_every: Duration,
    /// How often passed digital deliveries are marked expired.
    pub digital_expiry_every: Duration,
    /// How often vendors' statements whose closing day passed are closed (mall mode).
    pub statements_every: Duration,
    /// Merchant webhooks: the delivery worker's limits and retry schedule.
    pub webhooks: webhooks::WebhookSettings,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            relay: RelayOptions::default(),
            hot: HotSettings::default(),
            sweep_every: Duration::from_secs(1),
            sweep_batch: 500,
            checkout_jobs_every: Duration::from_secs(30),
            digital_expiry_every: Duration::from_secs(60),
            statements_every: Duration::from_secs(60),
            webhooks: webhooks::WebhookSettings::default(),
        }
    }
}

/// Tasks a composition root adds to every database's set (image renditions, mail): called with
/// the database's handle and the set's stop token.
pub type PerDatabase = Arc<dyn Fn(Db, CancellationToken) -> Vec<BoxTask> + Send + Sync>;
pub type BoxTask = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// How often the worker looks for store databases added to or taken out of use.
const CONNECTIONS_EVERY: Duration = Duration::from_secs(2);

/// The set of background tasks of one process: one set of tasks for the main database, and one
/// for each active store database (docs/ROUTING.md), started and stopped as connections are
/// added or taken out of use.
pub struct Worker {
    db: Db,
    settings: WorkerSettings,
    consumers: Vec<Arc<dyn Consumer>>,
    hot_queue: Option<Arc<HotQueue>>,
    per_database: Vec<PerDatabase>,
}

impl Worker {
    pub fn new(db: Db, settings: WorkerSettings) -> Self {
        Worker { db, settings, consumers: Vec::new(), hot_queue: None, per_database: Vec::new() }
    }

    /// Registers an outbox consumer (search index, store sync, deliveries, webhooks, ...).
    pub fn with_consumer(mut self, consumer: Arc<dyn Consumer>) -> Self {
        self.consumers.push(consumer);
        self
    }

    /// The API's hot-item queue, when the API runs in this process: its requests are decided
    /// without waiting for a notification, and its callers are answered directly.
    pub fn with_hot_queue(mut self, queue: Arc<HotQueue>) -> Self {
        self.hot_queue = Some(queue);
        self
    }

    /// Tasks to run for every database, the main one included.
    pub fn with_per_database(mut self, tasks: PerDatabase) -> Self {
        self.per_database.push(tasks);
        self
    }

    /// Starts every task; they stop when `shutdown` fires. Await the set to wait for them.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        let set = Arc::new(DatabaseSet {
            settings: self.settings,
            consumers: self.consumers,
            per_database: self.per_database,
        });
        // the route cache heard by the workers too (a worker alone has no API listening): their
        // claims skip the stores whose move is open (Db::stores_left_alone)
        tasks.spawn(self.db.routes().clone().listen(self.db.platform().clone(), shutdown.clone().cancelled_owned()));
        set.spawn(&mut tasks, self.db.clone(), self.hot_queue, shutdown.clone());
        tasks.spawn(store_databases(set, self.db, shutdown));
        tasks
    }
}

/// What runs for each database.
struct DatabaseSet {
    settings: WorkerSettings,
    consumers: Vec<Arc<dyn Consumer>>,
    per_database: Vec<PerDatabase>,
}

impl DatabaseSet {
    fn spawn(&self, tasks: &mut JoinSet<()>, db: Db, hot_queue: Option<Arc<HotQueue>>, shutdown: CancellationToken) {
        let mut relay = self
            .consumers
            .iter()
            .cloned()
            .fold(Relay::new(db.clone(), self.settings.relay.clone()), |r, c| r.with_consumer(c));
        // webhooks: the relay enqueues deliveries (waking the delivery worker of this process),
        // the delivery worker sends them
        match webhooks::deliver::DeliveryWorker::new(db.clone(), self.settings.webhooks.clone()) {
            Ok(delivery) => {
                relay = relay.with_consumer(Arc::new(webhooks::enqueue::Enqueue::new(delivery.waker())));
                tasks.spawn(delivery.run(shutdown.clone()));
            }
            Err(why) => tracing::error!("webhooks are off: {why}"),
        }
        tasks.spawn(webhooks::deliver::housekeeping(db.clone(), self.settings.webhooks.clone(), shutdown.clone()));
        tasks.spawn(relay.run(shutdown.clone()));
        tasks.spawn(inventory::sweep::run(
            db.clone(),
            self.settings.sweep_every,
            self.settings.sweep_batch,
            shutdown.clone(),
        ));
        let decider = Decider {
            db: db.clone(),
            queue: hot_queue,
            settings: self.settings.hot.clone(),
            worker: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
        };
        let stop = shutdown.clone();
        tasks.spawn(checkout::hot::apart("hot-item decider", move || async move {
            let db = decider.db.own_pool(4);
            Decider { db, ..decider }.run(stop).await
        }));
        tasks.spawn(checkout::jobs::run(db.clone(), self.settings.checkout_jobs_every, shutdown.clone()));
        tasks.spawn(digital::expiry::run(db.clone(), self.settings.digital_expiry_every, shutdown.clone()));
        tasks.spawn(mall::statements::run(db.clone(), self.settings.statements_every, shutdown.clone()));
        for extra in &self.per_database {
            for task in extra(db.clone(), shutdown.clone()) {
                tasks.spawn(task);
            }
        }
    }
}

/// Keeps one set of tasks running for each active store database: started when a connection
/// answers, stopped when it is taken out of use or removed.
async fn store_databases(set: Arc<DatabaseSet>, control: Db, shutdown: CancellationToken) {
    let mut running: std::collections::HashMap<String, CancellationToken> = Default::default();
    let mut tasks = JoinSet::new();
    loop {
        match db::connections::list(control.platform()).await {
            Ok(rows) => {
                let active: std::collections::HashSet<String> = rows
                    .iter()
                    .filter(|r| r.status == db::connections::ConnectionStatus::Active)
                    .map(|r| r.db_key.clone())
                    .collect();
                running.retain(|key, stop| {
                    let keep = active.contains(key);
                    if !keep {
                        tracing::info!(db_key = %key, "store database taken out of use: its worker tasks stop");
                        stop.cancel();
                    }
                    keep
                });
                for key in active {
                    if running.contains_key(&key) {
                        continue;
                    }
                    match control.database(Some(&key)).await {
                        Ok(db) => {
                            let stop = shutdown.child_token();
                            set.spawn(&mut tasks, db, None, stop.clone());
                            tracing::info!(db_key = %key, "worker tasks started for a store database");
                            running.insert(key, stop);
                        }
                        // not answering now: tried again on the next round
                        Err(e) => tracing::debug!(db_key = %key, error = %e, "store database not reached"),
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot list the store databases"),
        }
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            _ = tokio::time::sleep(CONNECTIONS_EVERY) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    while tasks.join_next().await.is_some() {}
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "worker".into())
}
