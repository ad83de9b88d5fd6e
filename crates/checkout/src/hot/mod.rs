//! The hot-item queue: flash-sale variants never take a stock-row lock per shopper.
//!
//! **Asking.** Add-to-cart for a hot variant records an inventory_reservation_requests row
//! (`queued`, keyed by the cart's Idempotency-Key). A [`HotQueue`] in each API process batches
//! those inserts: submissions that arrive while one insert is running go into the next, so a
//! thousand shoppers cost a handful of transactions. Each request's id is a UUIDv7 taken when
//! it arrives, which is the order it is decided in.
//!
//! **Deciding.** A [`Decider`] in the worker takes a per-variant advisory lock (one decider per
//! variant, so arrival order holds), claims up to a batch of queued requests with a lease
//! (`processing`, `claimed_by`, `lease_expires_at`; committed), then decides the whole batch in
//! one transaction: grants while stock lasts at the first location that covers each quantity,
//! refuses the rest (`sold_out`, `insufficient_stock`, `limit_exceeded`), writes the
//! reservations and cart lines, and updates each stock row once. A decider that dies after
//! claiming leaves its requests `processing`. The next decider to take the variant's lock takes
//! them over at once, in arrival order with the queued ones: holding the lock, any `processing`
//! request it finds is a dead decider's (the lease only guards claims made without the lock).
//! The decision transaction writes only requests still claimed by itself (and starts over on
//! those if any was taken over), so a request is decided exactly once.
//!
//! **In hand.** When nothing of a variant is queued or claimed and no decider holds its lock,
//! the queue's batcher takes that lock for its own transaction and decides the batch there
//! ([`decider::decide_in_hand`]): each request is inserted together with its decision, one row
//! write per request, one commit per batch. Otherwise the batch is queued as above.
//!
//! **Answering.** The HTTP call waits briefly for its decision: the decider in the same
//! process wakes it directly, deciders elsewhere through `NOTIFY tenpo_hot_decided`. If no
//! decision comes in time the caller gets 202 and polls.
//!
//! The code: [`queue`] is the API side (recording requests, handing callers their
//! decisions), [`decider`] the worker side (claiming and deciding), [`thread`] the helper both
//! run their loops on.

pub mod decider;
pub mod queue;
pub mod thread;

pub use decider::{ClaimSpec, Claimed, Decider, HotSettings, Takeover, claim, decide_then_claim};
pub use queue::{HotAnswer, HotQueue, IN_HAND, QueueSettings};
pub use thread::apart;
