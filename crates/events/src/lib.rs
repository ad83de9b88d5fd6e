//! Events: the catalog and the transactional outbox.
//!
//! * [`EventType`] lists every event Tenpo records (docs/EVENTS.md); each has one typed
//!   [`Payload`] struct, in the domain that records it.
//! * [`record`] writes an event in the caller's tenant transaction, so the event exists exactly
//!   when the change it describes does, numbered among its aggregate's events.
//!   [`record_many`] writes many in one statement (bulk imports); [`Within`] writes them as
//!   CTEs of a caller's own statement (a checkout's last one, whose order number they carry).
//! * [`Relay`] (in the worker) claims pending events with `FOR UPDATE SKIP LOCKED` and a lease,
//!   hands each to every registered [`Consumer`], and marks it published.
//! * A consumer's effect and its `processed_events (consumer, event_id)` row commit in one
//!   transaction, so an event delivered again (after a crash between delivery and marking, or a
//!   lease that ran out) has no second effect.

mod catalog;
pub mod check;
mod outbox;
mod relay;

pub use catalog::{EventType, Payload, check_topic, topic_matches};
pub use outbox::{Aggregate, Envelope, Event, NewEvent, PayloadError, Within, record, record_many};
pub use relay::{Consumer, ConsumerError, Relay, RelayOptions};
