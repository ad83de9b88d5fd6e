use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use db::{Db, Tx};
use kernel::{EventId, StoreId, TenantId};
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::outbox::Event;

pub type ConsumerError = Box<dyn std::error::Error + Send + Sync>;

/// Something that reacts to events: a search index, store sync, digital deliveries, webhooks.
///
/// `handle` (or `handle_batch`) runs inside the tenant transaction that also records the events
/// as processed by this consumer; whatever it writes through `tx` happens exactly once per event.
#[async_trait]
pub trait Consumer: Send + Sync + 'static {
    /// Stable name, recorded in processed_events.consumer. Renaming it replays history.
    fn name(&self) -> &'static str;

    /// Whether this consumer cares about the event; the relay skips the rest.
    fn wants(&self, event: &Event) -> bool;

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError>;

    /// Handles several events of one tenant, in claim order, in one transaction (the relay's
    /// batch). The default hands them to [`Consumer::handle`] one by one; a consumer whose
    /// work is one statement for many events overrides it. An error rolls the whole batch
    /// back; the relay then delivers its events one by one, so only the failing one waits.
    async fn handle_batch(&self, tx: &mut Tx, events: &[&Event]) -> Result<(), ConsumerError> {
        for event in events {
            self.handle(tx, event).await?;
        }
        Ok(())
    }

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
        // by tenant (one transaction is one tenant's), each tenant's in claim order
        let mut tenants: Vec<(TenantId, Vec<Event>)> = Vec::new();
        for event in events {
            match tenants.iter_mut().find(|(t, _)| *t == event.tenant_id) {
                Some((_, of_tenant)) => of_tenant.push(event),
                None => tenants.push((event.tenant_id, vec![event])),
            }
        }
        for (tenant, events) in tenants {
            self.process(tenant, &events).await;
        }
        Ok(n)
    }

    /// Delivers one tenant's claimed events: to each consumer in turn, the events it wants in
    /// one transaction; then marks them. An event a consumer failed goes to no later consumer
    /// and is left for a retry; the events of a store that started moving are left, leased.
    async fn process(&self, tenant: TenantId, events: &[Event]) {
        let mut state: Vec<Outcome> = events.iter().map(|_| Outcome::Delivered).collect();
        for consumer in &self.consumers {
            let mut batch: Vec<usize> = (0..events.len())
                .filter(|&i| matches!(state[i], Outcome::Delivered) && consumer.wants(&events[i]))
                .collect();
            if batch.is_empty() {
                continue;
            }
            // claimed before its store's move froze: left, leased, for the database it is
            // served from after the switch (or this one again after an abort)
            self.leave_moving(events, &mut state, &mut batch).await;
            if batch.is_empty() {
                continue;
            }
            let of_batch: Vec<&Event> = batch.iter().map(|&i| &events[i]).collect();
            let failed = match self.deliver(consumer.as_ref(), tenant, &of_batch).await {
                Ok(()) => Vec::new(),
                Err(e) if batch.len() == 1 => vec![(batch[0], e)],
                Err(e) => {
                    // one by one: only the events that fail wait
                    tracing::debug!(consumer = consumer.name(), events = batch.len(), error = %e, "batch failed; delivering its events one by one");
                    let mut failed = Vec::new();
                    for &i in &batch {
                        if let Err(e) = self.deliver(consumer.as_ref(), tenant, &[&events[i]]).await {
                            failed.push((i, e));
                        }
                    }
                    failed
                }
            };
            for (i, e) in failed {
                let event = &events[i];
                metrics::counter!("tenpo_outbox_consumer_errors_total", "consumer" => consumer.name()).increment(1);
                tracing::warn!(
                    event_id = %event.id, event_type = %event.event_type, consumer = consumer.name(),
                    attempt = event.attempts, error = %e, "consumer failed; the event will be retried"
                );
                state[i] = Outcome::Failed(format!("{}: {e}", consumer.name()));
            }
        }
        let mut done: Vec<usize> = (0..events.len()).filter(|&i| matches!(state[i], Outcome::Delivered)).collect();
        self.leave_moving(events, &mut state, &mut done).await;
        let published: Vec<EventId> = done.iter().map(|&i| events[i].id).collect();
        if !published.is_empty() {
            match self.mark_published(tenant, &published).await {
                Ok(()) => {
                    metrics::counter!("tenpo_outbox_events_total", "result" => "ok").increment(published.len() as u64)
                }
                Err(e) => tracing::error!(events = published.len(), error = %e, "cannot mark outbox events published"),
            }
        }
        for (event, outcome) in events.iter().zip(&state) {
            if let Outcome::Failed(err) = outcome
                && let Err(e) = self.mark_retry(event, err).await
            {
                tracing::error!(event_id = %event.id, error = %e, "cannot update outbox event");
            }
        }
    }

    /// Takes out of `batch` (indexes into `events`) the events of stores the database's
    /// workers leave alone now, marking them left; all of them when that cannot be looked up.
    async fn leave_moving(&self, events: &[Event], state: &mut [Outcome], batch: &mut Vec<usize>) {
        if batch.iter().all(|&i| events[i].store_id.is_none()) {
            return;
        }
        let moving = self.db.stores_left_alone().await.ok();
        batch.retain(|&i| {
            let Some(store) = events[i].store_id else { return true };
            let leave = moving.as_ref().is_none_or(|m| m.contains(&store));
            if leave {
                tracing::debug!(event_id = %events[i].id, "the event's store is moving; left for later");
                state[i] = Outcome::Left;
            }
            !leave
        });
    }

    /// One consumer, events of one tenant: the effects and the processed_events rows in one
    /// transaction. Events the consumer already processed (a redelivery) are skipped.
    async fn deliver(&self, consumer: &dyn Consumer, tenant: TenantId, events: &[&Event]) -> Result<(), ConsumerError> {
        let mut tx = self.db.begin(tenant).await?;
        let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
        let stores: Vec<Option<StoreId>> = events.iter().map(|e| e.store_id).collect();
        let first: Vec<EventId> = sqlx::query_scalar(
            "INSERT INTO processed_events (tenant_id, store_id, consumer, event_id)
             SELECT $1, e.store_id, $2, e.event_id FROM unnest($3::uuid[], $4::uuid[]) AS e(event_id, store_id)
             ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id",
        )
        .bind(tenant)
        .bind(consumer.name())
        .bind(&ids)
        .bind(&stores)
        .fetch_all(&mut *tx)
        .await?;
        let fresh: Vec<&Event> = if first.len() == events.len() {
            events.to_vec()
        } else {
            let first: HashSet<EventId> = first.into_iter().collect();
            events.iter().copied().filter(|e| first.contains(&e.id)).collect()
        };
        if fresh.len() < events.len() {
            tracing::debug!(
                consumer = consumer.name(),
                skipped = events.len() - fresh.len(),
                "already processed; skipping"
            );
        }
        if fresh.is_empty() {
            return Ok(());
        }
        consumer.handle_batch(&mut tx, &fresh).await?;
        tx.commit().await?;
        for event in fresh {
            consumer.committed(event);
        }
        Ok(())
    }

    async fn mark_published(&self, tenant: TenantId, events: &[EventId]) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin(tenant).await?;
        sqlx::query(
            "UPDATE outbox_events SET status = 'published', published_at = now(), locked_until = NULL, last_error = NULL
              WHERE id = ANY($1)",
        )
        .bind(events)
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

/// What became of a claimed event in this round.
enum Outcome {
    /// Every consumer so far took it (or did not want it).
    Delivered,
    /// A consumer failed: retried later, with the error.
    Failed(String),
    /// Its store is moving: not marked, the lease runs out.
    Left,
}
