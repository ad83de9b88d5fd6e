//! The outbox consumer that turns each event into one delivery per matching endpoint.
//!
//! It runs in the relay like every consumer: the delivery rows and the consumer's
//! `processed_events` row commit together, and `(endpoint_id, event_id)` is unique, so an event
//! is enqueued for an endpoint exactly once however often the relay hands it over. Sending is
//! the delivery worker's ([`crate::deliver`]): a slow or dead receiver never holds up the relay.

use std::sync::Arc;

use async_trait::async_trait;
use db::Tx;
use events::{Consumer, ConsumerError, Event, EventType};
use tokio::sync::Notify;

use crate::event::WebhookEndpointPing;

pub const CONSUMER: &str = "webhooks.enqueue";

pub struct Enqueue {
    wake: Arc<Notify>,
}

impl Enqueue {
    /// `wake` is the delivery worker's ([`crate::deliver::DeliveryWorker::waker`]).
    pub fn new(wake: Arc<Notify>) -> Self {
        Enqueue { wake }
    }
}

#[async_trait]
impl Consumer for Enqueue {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn wants(&self, _event: &Event) -> bool {
        true
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError> {
        if event.is(EventType::WebhookEndpointPing) {
            // a ping goes to the endpoint it names, and to no other
            let ping: WebhookEndpointPing = event.data()?;
            sqlx::query(
                "INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, event_created_at)
                 SELECT tenant_id, id, $2, $3, $4 FROM webhook_endpoints WHERE id = $1
                 ON CONFLICT (endpoint_id, event_id) DO NOTHING",
            )
            .bind(ping.endpoint_id)
            .bind(event.id)
            .bind(&event.event_type)
            .bind(event.created_at)
            .execute(&mut **tx)
            .await?;
            return Ok(());
        }
        handle_many(tx, &[event]).await
    }

    /// The pings one by one (each names its endpoint); every other event of the batch in one
    /// statement (one round trip for the batch, whatever the number of endpoints, none).
    async fn handle_batch(&self, tx: &mut Tx, events: &[&Event]) -> Result<(), ConsumerError> {
        let (pings, others): (Vec<&Event>, Vec<&Event>) =
            events.iter().partition(|e| e.is(EventType::WebhookEndpointPing));
        for ping in pings {
            self.handle(tx, ping).await?;
        }
        handle_many(tx, &others).await
    }

    fn committed(&self, _event: &Event) {
        self.wake.notify_one();
    }
}

/// Enqueues events (no pings) for the active endpoints whose topics match: the store's
/// endpoints, and for an event of the whole tenant (no store) every store's.
async fn handle_many(tx: &mut Tx, events: &[&Event]) -> Result<(), ConsumerError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<_> = events.iter().map(|e| e.id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let at: Vec<_> = events.iter().map(|e| e.created_at).collect();
    let stores: Vec<_> = events.iter().map(|e| e.store_id).collect();
    sqlx::query(
        "INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, event_created_at)
         SELECT e.tenant_id, e.id, ev.id, ev.event_type, ev.at
           FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::uuid[]) WITH ORDINALITY AS ev(id, event_type, at, store_id, ord)
           JOIN webhook_endpoints e
             ON e.tenant_id = $1 AND e.status = 'active' AND (ev.store_id IS NULL OR e.store_id = ev.store_id)
                AND tenpo_topic_matches(e.event_types, ev.event_type)
          ORDER BY ev.ord
         ON CONFLICT (endpoint_id, event_id) DO NOTHING",
    )
    .bind(tx.tenant())
    .bind(&ids)
    .bind(&types)
    .bind(&at)
    .bind(&stores)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
