//! Checkout: carts and what happens when a shopper adds to them.
//!
//! * [`cart`]: carts addressed by an unguessable id plus a secret;
//! * [`items`]: adding, changing and removing lines, holding stock through inventory's
//!   reservations (one transaction per shopper);
//! * [`hot`]: the queue for flash-sale variants: add-to-cart records a request, and a worker
//!   decides requests per variant in arrival order, a whole batch per transaction.
//!
//! * [`mails`]: the outbox consumer sending the order mails (confirmation, bank-transfer
//!   instructions, payment received, shipped) through `mail::send`;
//! * [`delivery`]: delivery dates in the store's business days, the carriers' slot presets;
//! * [`documents`]: an order's invoice, receipt and delivery slip, printable HTML;
//! * [`vendor_part`]: a mall vendor's part of an order, the only view its staff get.
//!
//! This crate owns carts, cart_items and inventory_reservation_requests; stock numbers and
//! reservations belong to the inventory crate, whose functions it calls.

pub mod carrier_csv;
pub mod cart;
pub mod check;
pub mod delivery;
pub mod documents;
pub mod error;
pub mod event;
pub mod fulfillment;
pub mod hot;
pub mod idempotency;
pub mod items;
pub mod jobs;
pub mod mails;
pub mod order;
pub mod orders;
pub mod promotions;
pub mod settings;
pub mod totals;
pub mod vendor_part;

pub use error::CheckoutError;
