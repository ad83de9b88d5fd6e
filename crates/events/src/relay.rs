use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use db::{Db, Tx};
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::outbox::Event;

pub type ConsumerError = Box<dyn std::error::Error + Send + Sync>;

/// Something that reacts to events: a search index, store sync, digital deliveries, webhooks.
///
/// `handle` runs inside the tenant transaction that also records the event as processed by this
/// consumer; whatever it writes through `tx` happens exactly once per event.
#[async_trait]
pub trait Consumer: Send + Sync + 'static {
    /// Stable name, recorded in processed_events.consumer. Renaming it replays history.
    fn name(&self) -> &'static str;

    /// Whether this consumer cares about the event; the relay skips the rest.
    fn wants(&self, event: &Event) -> bool;

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError>;

    /// Called after `handle`'s transaction committed: wake whatever works on what it wrote (the
    /// webhook delivery worker of this process) without waiting for its poll.
    fn committed(&self, _event: &Event) {}
}

#[derive(Debug, Clone)]
pub struct RelayOptions {
    pub batch_size: i32,
    /// How long a claimed event is ours; after it passes another relay may take it.
    pub lease: Duration,
    /// How often to look for due events when no notification arrives (retries, leases).
    pub idle_poll: Duration,
    /// After this many failed attempts an event is marked failed and left for an operator.
    pub max_attempts: i32,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            batch_size: 100,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
            max_attempts: 25,
        }
    }
}

/// Delivers outbox events to the registered consumers, at least once each, effects once.
#[derive(Clone)]
pub struct Relay {
    db: Db,
    consumers: Vec<Arc<dyn Consumer>>,
    opts: RelayOptions,
}

impl Relay {
    pub fn new(db: Db, opts: RelayOptions) -> Self {
        Relay { db, consumers: Vec::new(), opts }
    }

    pub fn with_consumer(mut self, consumer: Arc<dyn Consumer>) -> Self {
        self.consumers.push(consumer);
        self
    }

    /// Runs until `shutdown` fires: claims due events, delivers them, and otherwise waits for a
    /// commit notification (`tenpo_outbox`) or the idle poll.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener = match PgListener::connect_with(self.db.platform()).await {
            Ok(mut l) => match l.listen("tenpo_outbox").await {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay cannot LISTEN; polling only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay cannot LISTEN; polling only");
                None
            }
        };
        tracing::info!(consumers = self.consumers.len(), "outbox relay started");
        while !shutdown.is_cancelled() {
            let claimed = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "outbox relay failed to claim events");
                    0
                }
            };
            if claimed as i32 >= self.opts.batch_size {
                continue;
            }
            let wait = async {
                match listener.as_mut() {
                    Some(l) => {
                        let _ = tokio::time::timeout(self.opts.idle_poll, l.recv()).await;
                    }
                    None => tokio::time::sleep(self.opts.idle_poll).await,
                }
            };
            tokio::select! {
                _ = wait => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Claims one batch of due events and delivers it. Returns how many were claimed.
    /// The events of stores the database's workers leave alone (a move in progress,
    /// docs/ROUTING.md) are not claimed.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let skip = self.db.stores_left_alone().await?;
        let events: Vec<Event> = sqlx::query_as(
            "SELECT id, tenant_id, store_id, aggregate_type, aggregate_id, event_type, payload_json, sequence, schema_version,
                    created_at, attempts
               FROM tenpo_claim_outbox($1, $2, $3)",
        )
        .bind(self.opts.batch_size)
        .bind(self.opts.lease.as_secs() as i32)
        .bind(&skip)
        .fetch_all(self.db.platform())
        .await?;
        let n = events.len();
        for event in events {
            self.process(&event).await;
        }
        Ok(n)
    }

    async fn process(&self, event: &Event) {
        let mut failure = None;
        for consumer in self.consumers.iter().filter(|c| c.wants(event)) {
            // claimed before its store's move froze: left, leased, for the database it is served
            // from after the switch (or this one again after an abort)
            if self.db.leaves_alone(event.store_id).await {
                tracing::debug!(event_id = %event.id, "the event's store is moving; left for later");
                return;
            }
            if let Err(e) = self.deliver(consumer.as_ref(), event).await {
                metrics::counter!("tenpo_outbox_consumer_errors_total", "consumer" => consumer.name()).increment(1);
                tracing::warn!(
                    event_id = %event.id, event_type = %event.event_type, consumer = consumer.name(),
                    attempt = event.attempts, error = %e, "consumer failed; the event will be retried"
                );
                failure = Some(format!("{}: {e}", consumer.name()));
                break;
            }
        }
        if failure.is_none() && self.db.leaves_alone(event.store_id).await {
            return;
        }
        let result = match failure {
            None => self.mark_published(event).await,
            Some(err) => self.mark_retry(event, &err).await,
        };
        match result {
            Ok(()) => metrics::counter!("tenpo_outbox_events_total", "result" => "ok").increment(1),
            Err(e) => tracing::error!(event_id = %event.id, error = %e, "cannot update outbox event"),
        }
    }

    /// One consumer, one event: the effect and the processed_events row in one transaction.
    async fn deliver(&self, consumer: &dyn Consumer, event: &Event) -> Result<(), ConsumerError> {
        let mut tx = self.db.begin(event.tenant_id).await?;
        let first: Option<uuid::Uuid> = sqlx::query_scalar(
            "INSERT INTO processed_events (tenant_id, store_id, consumer, event_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (consumer, event_id) DO NOTHING RETURNING id",
        )
        .bind(event.tenant_id)
        .bind(event.store_id)
        .bind(consumer.name())
        .bind(event.id)
        .fetch_optional(&mut *tx)
        .await?;
        if first.is_none() {
            tracing::debug!(event_id = %event.id, consumer = consumer.name(), "already processed; skipping");
            return Ok(());
        }
        consumer.handle(&mut tx, event).await?;
        tx.commit().await?;
        consumer.committed(event);
        Ok(())
    }

    async fn mark_published(&self, event: &Event) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin(event.tenant_id).await?;
        sqlx::query(
            "UPDATE outbox_events SET status = 'published', published_at = now(), locked_until = NULL, last_error = NULL
              WHERE id = $1",
        )
        .bind(event.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    async fn mark_retry(&self, event: &Event, error: &str) -> Result<(), sqlx::Error> {
        let backoff = 2i64.saturating_pow(event.attempts.clamp(0, 16) as u32).min(600);
        let mut tx = self.db.begin(event.tenant_id).await?;
        sqlx::query(
            "UPDATE outbox_events
                SET status = CASE WHEN attempts >= $2 THEN 'failed' ELSE 'pending' END,
                    available_at = now() + make_interval(secs => $3),
                    locked_until = NULL,
                    last_error = left($4, 2000)
              WHERE id = $1",
        )
        .bind(event.id)
        .bind(self.opts.max_attempts)
        .bind(backoff as f64)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }
}
