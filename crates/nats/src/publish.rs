//! The publisher: claims queued events, publishes them to JetStream and marks each done only
//! after the server's ack.
//!
//! * At least once, kept once: a row is deleted after its ack, so a publisher stopped between
//!   the ack and the delete leaves its lease to run out and the event is published again with
//!   the same `Nats-Msg-Id`; the server drops the copy within the stream's duplicate window and
//!   says so in the ack (`tenpo_nats_publishes_total{outcome="duplicate"}`).
//! * Order: a round publishes its events oldest first on one connection and awaits their acks
//!   together; an event not acknowledged is due again after a backoff, the others go on.
//! * Outages: the client reconnects by itself; until then rounds fail, the rows wait, and
//!   nothing else in the process waits for NATS.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, context::ContextBuilder, message::PublishMessage, stream};
use chrono::Utc;
use db::Db;
use events::Event;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::settings::NatsSettings;

/// A test's fault: the process exits (code 86) once it holds this many acks in all, before it
/// marks them, as a crash between the server's ack and the mark would.
const FAULT_EXIT_AFTER_ACKS: &str = "TENPO_FAULT_NATS_EXIT_AFTER_ACKS";

/// The subject of an event: `<prefix>.<tenant>.<store or _>.<aggregate>.<event>`, the prefix
/// being `tenpo` unless configured and the event's name keeping its dot
/// (`tenpo.<t>.<s>.order.payment.confirmed`).
pub fn subject(prefix: &str, event: &Event) -> String {
    let store = event.store_id.map_or_else(|| "_".to_string(), |s| s.to_string());
    format!("{prefix}.{}.{}.{}.{}", event.tenant_id, store, event.aggregate_type, event.event_type)
}

#[derive(Clone)]
pub struct Publisher {
    db: Db,
    settings: NatsSettings,
    url: String,
    wake: Arc<Notify>,
    exit_after_acks: Option<u64>,
}

/// What one round did.
struct Round {
    claimed: usize,
    failed: usize,
}

impl Publisher {
    /// `None` when NATS is off (no URL).
    pub fn new(db: Db, settings: NatsSettings) -> Result<Option<Publisher>, String> {
        let Some(url) = settings.url.clone().filter(|u| !u.trim().is_empty()) else { return Ok(None) };
        settings.validate()?;
        let exit_after_acks = std::env::var(FAULT_EXIT_AFTER_ACKS).ok().and_then(|v| v.parse().ok());
        Ok(Some(Publisher { db, settings, url, wake: Arc::new(Notify::new()), exit_after_acks }))
    }

    /// What wakes this publisher: give it to [`crate::Enqueue::new`].
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Publishes until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let s = &self.settings;
        let connected = async_nats::ConnectOptions::new()
            .name("tenpo")
            .retry_on_initial_connect()
            .max_reconnects(None)
            .event_callback(|e| async move { tracing::info!(event = %e, "NATS connection") })
            .connect(self.url.as_str())
            .await;
        let client = match connected {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "NATS is off: cannot use TENPO_NATS_URL");
                return;
            }
        };
        let js = ContextBuilder::new().timeout(Duration::from_secs(s.ack_timeout_secs)).build(client);
        let poll = Duration::from_millis(s.poll_ms.max(10));
        let mut stream_ready = false;
        let mut failures = 0u32;
        let mut acked = 0u64;
        tracing::info!(stream = %s.stream, "NATS publisher started");
        while !shutdown.is_cancelled() {
            let pause = if !stream_ready {
                match self.ensure_stream(&js).await {
                    Ok(()) => {
                        stream_ready = true;
                        failures = 0;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, stream = %s.stream, "cannot create or update the NATS stream; retrying");
                        failures += 1;
                        backoff(failures)
                    }
                }
            } else {
                match self.round(&js, &mut acked).await {
                    Ok(r) if r.failed > 0 => {
                        // the server may be gone, or the stream deleted: set it up again first
                        stream_ready = false;
                        failures += 1;
                        backoff(failures)
                    }
                    Ok(r) if r.claimed as i32 >= s.batch_size => {
                        failures = 0;
                        continue;
                    }
                    Ok(_) => {
                        failures = 0;
                        poll
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim events for NATS");
                        failures += 1;
                        backoff(failures)
                    }
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified(), if stream_ready => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("NATS publisher stopped");
    }

    async fn ensure_stream(&self, js: &jetstream::Context) -> Result<(), async_nats::Error> {
        let s = &self.settings;
        let config = stream::Config {
            name: s.stream.clone(),
            subjects: vec![format!("{}.>", s.subject_prefix)],
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(s.max_age_secs),
            duplicate_window: Duration::from_secs(s.duplicate_window_secs),
            ..Default::default()
        };
        js.create_or_update_stream(config).await?;
        Ok(())
    }

    /// Claims one batch, publishes it and awaits the acks; marks what was acknowledged.
    async fn round(&self, js: &jetstream::Context, acked_in_all: &mut u64) -> Result<Round, sqlx::Error> {
        let s = &self.settings;
        let events: Vec<Event> = sqlx::query_as(
            "SELECT id, tenant_id, store_id, aggregate_type, aggregate_id, event_type, payload_json, sequence,
                    schema_version, created_at, attempts
               FROM tenpo_claim_nats_outbox($1, $2)",
        )
        .bind(s.batch_size)
        .bind(s.lease_secs as i32)
        .fetch_all(self.db.platform())
        .await?;
        if events.is_empty() {
            return Ok(Round { claimed: 0, failed: 0 });
        }
        let mut sent = Vec::with_capacity(events.len());
        for event in &events {
            let body = serde_json::to_vec(&event.envelope()).unwrap_or_default();
            let message = PublishMessage::build().payload(body.into()).message_id(event.id.to_string());
            sent.push(js.send_publish(subject(&s.subject_prefix, event), message).await);
        }
        let acks = futures::future::join_all(sent.into_iter().map(|s| async move {
            match s {
                Ok(ack) => ack.await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }))
        .await;
        let mut done: Vec<Uuid> = Vec::new();
        let mut failed: Vec<Uuid> = Vec::new();
        let mut error = String::new();
        let now = Utc::now();
        for (event, ack) in events.iter().zip(acks) {
            match ack {
                Ok(ack) => {
                    let outcome = if ack.duplicate { "duplicate" } else { "published" };
                    metrics::counter!("tenpo_nats_publishes_total", "outcome" => outcome).increment(1);
                    let latency = (now - event.created_at).to_std().unwrap_or_default();
                    metrics::histogram!("tenpo_nats_delivery_latency_seconds").record(latency.as_secs_f64());
                    done.push(event.id.as_uuid());
                }
                Err(e) => {
                    metrics::counter!("tenpo_nats_publishes_total", "outcome" => "failed").increment(1);
                    failed.push(event.id.as_uuid());
                    error = e;
                }
            }
        }
        *acked_in_all += done.len() as u64;
        if self.exit_after_acks.is_some_and(|n| *acked_in_all >= n) {
            eprintln!("{FAULT_EXIT_AFTER_ACKS}: exiting with {} acks not marked", done.len());
            std::process::exit(86);
        }
        if !done.is_empty() {
            sqlx::query("SELECT tenpo_nats_published($1)").bind(&done).execute(self.db.platform()).await?;
        }
        if !failed.is_empty() {
            let attempts = events.iter().map(|e| e.attempts).max().unwrap_or(1);
            let delay = backoff(attempts.max(1) as u32);
            tracing::warn!(events = failed.len(), error = %error, retry_in = ?delay, "NATS did not acknowledge events; they will be published again");
            sqlx::query("SELECT tenpo_nats_retry($1, $2, $3)")
                .bind(&failed)
                .bind(&error)
                .bind(delay.as_secs_f64())
                .execute(self.db.platform())
                .await?;
        }
        Ok(Round { claimed: events.len(), failed: failed.len() })
    }
}

/// 200 ms doubling up to 10 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << failures.saturating_sub(1).min(6)).min(10_000))
}

/// The NATS backlog gauges, every 15 s: events waiting for NATS and the age of the oldest
/// (`tenpo_events_undelivered{destination="nats"}`, as webhooks and the outbox have theirs).
pub async fn housekeeping(db: Db, shutdown: CancellationToken) {
    loop {
        let backlog: Result<(i64, f64), _> =
            sqlx::query_as("SELECT pending, oldest_secs FROM tenpo_nats_backlog()").fetch_one(db.platform()).await;
        if let Ok((n, age)) = backlog {
            metrics::gauge!("tenpo_events_undelivered", "destination" => "nats").set(n as f64);
            metrics::gauge!("tenpo_events_oldest_undelivered_seconds", "destination" => "nats").set(age);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(15)) => {}
        }
    }
}
