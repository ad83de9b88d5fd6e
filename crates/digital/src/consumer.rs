//! The outbox consumer that delivers: `payment.confirmed` creates the order's deliveries;
//! `order.canceled` revokes them. Its effects and its processed_events row commit together (the
//! relay's transaction), and creation is idempotent per order item besides, so a redelivered
//! event never creates a second delivery.

use async_trait::async_trait;
use db::Tx;
use events::{Consumer, ConsumerError, Event};
use kernel::OrderId;

use crate::delivery;

pub const CONSUMER: &str = "digital.deliveries";

pub struct Deliveries;

fn order_of(event: &Event) -> Option<OrderId> {
    event.payload["order_id"].as_str().or(Some(event.aggregate_id.as_str())).and_then(|s| s.parse().ok())
}

#[async_trait]
impl Consumer for Deliveries {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn wants(&self, event: &Event) -> bool {
        event.store_id.is_some() && matches!(event.event_type.as_str(), "payment.confirmed" | "order.canceled")
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError> {
        let (Some(store), Some(order)) = (event.store_id, order_of(event)) else {
            tracing::warn!(event_id = %event.id, "digital deliveries: event without a store or an order");
            return Ok(());
        };
        match event.event_type.as_str() {
            "payment.confirmed" => {
                let created = delivery::deliver_order(tx, store, order).await.map_err(Box::new)?;
                tracing::debug!(order_id = %order, created = created.len(), "digital deliveries created");
            }
            _ => {
                let revoked = delivery::revoke_all(tx, store, order, "order canceled").await.map_err(Box::new)?;
                tracing::debug!(order_id = %order, revoked, "digital deliveries of a canceled order revoked");
            }
        }
        Ok(())
    }
}
