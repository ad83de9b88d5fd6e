//! Events to NATS JetStream (docs/NATS.md), on when `TENPO_NATS_URL` is set.
//!
//! Two stages, like every external destination (docs/WEBHOOKS.md, "Adding a destination"):
//! 1. [`Enqueue`], an outbox consumer, writes one `nats_outbox` row per event in the relay's
//!    transaction (exactly once: `processed_events` and the row's primary key);
//! 2. [`Publisher`] claims those rows with a lease, publishes each event's envelope to
//!    `tenpo.<tenant>.<store or _>.<aggregate>.<event>` with `Nats-Msg-Id` = the event id, and
//!    deletes a row only after the server acknowledged its message. A publisher stopped between
//!    the ack and the delete publishes the event again; the stream's duplicate window (at least
//!    10 minutes) drops the copy, and the ack's `duplicate` flag is counted.
//!
//! A NATS outage fills only `nats_outbox`: the relay, the in-process consumers and webhooks go
//! on, and the publisher catches up when the server returns.

mod enqueue;
mod publish;
mod settings;

pub use enqueue::{CONSUMER, Enqueue};
pub use publish::{Publisher, housekeeping, subject};
pub use settings::NatsSettings;
