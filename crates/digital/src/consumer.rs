//! The outbox consumer that delivers: `payment.confirmed` creates the order's deliveries;
//! `order.canceled` revokes them. Its effects and its processed_events row commit together (the
//! relay's transaction), and creation is idempotent per order item besides, so a redelivered
//! event never creates a second delivery.

use async_trait::async_trait;
use checkout::event::{OrderCanceled, PaymentConfirmed};
use db::Tx;
use events::{Consumer, ConsumerError, Event, EventType};
use kernel::access::Acting;

use crate::delivery;

pub const CONSUMER: &str = "digital.deliveries";

pub struct Deliveries;

#[async_trait]
impl Consumer for Deliveries {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn wants(&self, event: &Event) -> bool {
        event.store_id.is_some() && matches!(event.kind(), Some(EventType::PaymentConfirmed | EventType::OrderCanceled))
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError> {
        let Some(store) = event.store_id else {
            tracing::warn!(event_id = %event.id, "digital deliveries: event without a store");
            return Ok(());
        };
        if event.is(EventType::PaymentConfirmed) {
            let order = event.data::<PaymentConfirmed>()?.order_id;
            let created = delivery::deliver_order(tx, store, Acting::System, order).await.map_err(Box::new)?;
            tracing::debug!(order_id = %order, created = created.len(), "digital deliveries created");
        } else {
            let order = event.data::<OrderCanceled>()?.order_id;
            let revoked = delivery::revoke_all(tx, store, order, "order canceled").await.map_err(Box::new)?;
            tracing::debug!(order_id = %order, revoked, "digital deliveries of a canceled order revoked");
        }
        Ok(())
    }
}
