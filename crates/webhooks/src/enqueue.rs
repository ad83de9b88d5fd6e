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
        // the store's endpoints; an event of the whole tenant (no store) goes to every store's
        sqlx::query(
            "INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, event_created_at)
             SELECT e.tenant_id, e.id, $2, $3, $4 FROM webhook_endpoints e
              WHERE e.tenant_id = $1 AND e.status = 'active' AND ($5::uuid IS NULL OR e.store_id = $5)
                AND tenpo_topic_matches(e.event_types, $3)
             ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        )
        .bind(event.tenant_id)
        .bind(event.id)
        .bind(&event.event_type)
        .bind(event.created_at)
        .bind(event.store_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    fn committed(&self, _event: &Event) {
        self.wake.notify_one();
    }
}
