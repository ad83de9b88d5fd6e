//! The "download ready" mail (docs/EMAIL.md): on `digital.delivery_created`, in the relay's
//! transaction, reads the order as the shopper sees it (checkout's [`checkout::order::view`])
//! and records the message with [`mail::send`], keyed by the event id, so a delivery mails
//! once however often its event is delivered.

use async_trait::async_trait;
use db::Tx;
use events::{Consumer, ConsumerError, Event, EventType};
use mail::Outgoing;
use mail::templates::DownloadReady;

use crate::event::DeliveryCreated;

pub const CONSUMER: &str = "digital.mails";

pub struct DownloadMails;

#[async_trait]
impl Consumer for DownloadMails {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn wants(&self, event: &Event) -> bool {
        event.store_id.is_some() && event.is(EventType::DigitalDeliveryCreated)
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError> {
        let Some(store) = event.store_id else { return Ok(()) };
        let p = event.data::<DeliveryCreated>()?;
        let o = checkout::order::view(tx, store, p.order_id, false).await.map_err(Box::new)?;
        let title = o
            .items
            .iter()
            .find(|l| l.id == p.order_item_id)
            .map(|l| checkout::mails::title(&l.product_title, &l.variant_title))
            .unwrap_or_default();
        let t = DownloadReady {
            number: o.number,
            customer_name: checkout::mails::customer_name(&o),
            title,
            expires_at: p.url_expires_at,
            max_downloads: p.max_downloads,
        };
        let key = event.id.to_string();
        mail::send(tx, Outgoing { store, key: &key, to: &o.email }, &t).await?;
        Ok(())
    }
}
