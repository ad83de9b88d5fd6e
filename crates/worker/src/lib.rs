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

/// The set of background tasks of one process.
pub struct Worker {
    db: Db,
    settings: WorkerSettings,
    consumers: Vec<Arc<dyn Consumer>>,
    hot_queue: Option<Arc<HotQueue>>,
}

impl Worker {
    pub fn new(db: Db, settings: WorkerSettings) -> Self {
        Worker { db, settings, consumers: Vec::new(), hot_queue: None }
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

    /// Starts every task; they stop when `shutdown` fires. Await the set to wait for them.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        let mut relay = self
            .consumers
            .into_iter()
            .fold(Relay::new(self.db.clone(), self.settings.relay.clone()), |r, c| r.with_consumer(c));
        // webhooks: the relay enqueues deliveries (waking the delivery worker of this process),
        // the delivery worker sends them
        match webhooks::deliver::DeliveryWorker::new(self.db.clone(), self.settings.webhooks.clone()) {
            Ok(delivery) => {
                relay = relay.with_consumer(Arc::new(webhooks::enqueue::Enqueue::new(delivery.waker())));
                tasks.spawn(delivery.run(shutdown.clone()));
            }
            Err(why) => tracing::error!("webhooks are off: {why}"),
        }
        tasks.spawn(webhooks::deliver::housekeeping(self.db.clone(), self.settings.webhooks.clone(), shutdown.clone()));
        tasks.spawn(relay.run(shutdown.clone()));
        tasks.spawn(inventory::sweep::run(
            self.db.clone(),
            self.settings.sweep_every,
            self.settings.sweep_batch,
            shutdown.clone(),
        ));
        let decider = Decider {
            db: self.db.clone(),
            queue: self.hot_queue.clone(),
            settings: self.settings.hot.clone(),
            worker: format!("{}-{}", hostname(), uuid::Uuid::new_v4().simple()),
        };
        let stop = shutdown.clone();
        tasks.spawn(checkout::hot::apart("hot-item decider", move || async move {
            let db = decider.db.own_pool(4);
            Decider { db, ..decider }.run(stop).await
        }));
        tasks.spawn(checkout::jobs::run(self.db.clone(), self.settings.checkout_jobs_every, shutdown.clone()));
        tasks.spawn(digital::expiry::run(self.db.clone(), self.settings.digital_expiry_every, shutdown.clone()));
        tasks.spawn(mall::statements::run(self.db.clone(), self.settings.statements_every, shutdown.clone()));
        tasks
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "worker".into())
}
