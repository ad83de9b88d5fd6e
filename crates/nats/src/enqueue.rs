//! The outbox consumer that queues every event for NATS, in the relay's transaction.

use std::sync::Arc;

use async_trait::async_trait;
use db::Tx;
use events::{Consumer, ConsumerError, Event};
use tokio::sync::Notify;

pub const CONSUMER: &str = "nats.enqueue";

pub struct Enqueue {
    wake: Arc<Notify>,
}

impl Enqueue {
    /// `wake` is the publisher's ([`crate::Publisher::waker`]).
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
        sqlx::query(
            "INSERT INTO nats_outbox (event_id, tenant_id, event_created_at) VALUES ($1, $2, $3)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event.id)
        .bind(event.tenant_id)
        .bind(event.created_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A batch of events in one statement.
    async fn handle_batch(&self, tx: &mut Tx, events: &[&Event]) -> Result<(), ConsumerError> {
        let ids: Vec<_> = events.iter().map(|e| e.id).collect();
        let at: Vec<_> = events.iter().map(|e| e.created_at).collect();
        sqlx::query(
            "INSERT INTO nats_outbox (event_id, tenant_id, event_created_at)
             SELECT e.id, $1, e.at FROM unnest($2::uuid[], $3::timestamptz[]) AS e(id, at)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(tx.tenant())
        .bind(&ids)
        .bind(&at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    fn committed(&self, _event: &Event) {
        self.wake.notify_one();
    }
}
