//! Merchant webhooks (docs/WEBHOOKS.md): events leave Tenpo as signed HTTP POSTs.
//!
//! The path of an event to a receiver, in two stages like every external destination:
//! 1. [`enqueue::Enqueue`], an outbox consumer, writes one `webhook_deliveries` row per
//!    matching endpoint in the relay's transaction (exactly once per event and endpoint);
//! 2. [`deliver::DeliveryWorker`] claims due rows with a lease, signs and POSTs the event's
//!    envelope (Standard Webhooks 1.0), and logs each attempt with its outcome; retries follow
//!    the schedule, `Retry-After` and 410 are honoured, and an endpoint failing for days is
//!    disabled with a `webhook_endpoint.disabled` event.
//!
//! The relay never waits for a receiver, and a receiver never waits for another.

pub mod deliver;
pub mod endpoint;
pub mod enqueue;
pub mod error;
pub mod event;
pub mod log;
pub mod settings;
pub mod signature;
pub mod target;

pub use error::WebhookError;
pub use settings::WebhookSettings;
