//! The worker: long-running background tasks, started by `tenpo serve` (with the API) or
//! `tenpo worker` (alone). Several workers may run against one database: every job claims its
//! work with `FOR UPDATE SKIP LOCKED` and leases, so they share it without doing anything twice.

use std::sync::Arc;

use db::Db;
use events::{Consumer, Relay, RelayOptions};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct WorkerSettings {
    pub relay: RelayOptions,
}

/// The set of background tasks of one process.
pub struct Worker {
    db: Db,
    settings: WorkerSettings,
    consumers: Vec<Arc<dyn Consumer>>,
}

impl Worker {
    pub fn new(db: Db, settings: WorkerSettings) -> Self {
        Worker { db, settings, consumers: Vec::new() }
    }

    /// Registers an outbox consumer (search index, store sync, deliveries, webhooks, ...).
    pub fn with_consumer(mut self, consumer: Arc<dyn Consumer>) -> Self {
        self.consumers.push(consumer);
        self
    }

    /// Starts every task; they stop when `shutdown` fires. Await the set to wait for them.
    pub fn spawn(self, shutdown: CancellationToken) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        let relay = self
            .consumers
            .into_iter()
            .fold(Relay::new(self.db.clone(), self.settings.relay.clone()), |r, c| r.with_consumer(c));
        tasks.spawn(relay.run(shutdown.clone()));
        tasks
    }
}
