//! The transactional outbox.
//!
//! * [`record`] writes an event in the caller's tenant transaction, so the event exists exactly
//!   when the change it describes does.
//! * [`Relay`] (in the worker) claims pending events with `FOR UPDATE SKIP LOCKED` and a lease,
//!   hands each to every registered [`Consumer`], and marks it published.
//! * A consumer's effect and its `processed_events (consumer, event_id)` row commit in one
//!   transaction, so an event delivered again (after a crash between delivery and marking, or a
//!   lease that ran out) has no second effect.

mod outbox;
mod relay;

pub use outbox::{Event, NewEvent, record};
pub use relay::{Consumer, ConsumerError, Relay, RelayOptions};
