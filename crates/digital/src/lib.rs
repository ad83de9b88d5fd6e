//! Digital delivery (docs/DIGITAL.md).
//!
//! * [`asset`]: staff upload the file of a digital variant, streamed into the configured
//!   [`storage::Storage`]; replacing keeps what earlier buyers bought;
//! * [`delivery`]: one delivery per digital item of a paid order, with the download period and
//!   limit from the product else the store; staff list, revoke, extend, reset or raise the limit;
//! * [`consumer`]: the outbox consumer creating deliveries on `payment.confirmed` (exactly once
//!   per item) and revoking them on `order.canceled`;
//! * [`download`]: the one-statement download check and the signed URL;
//! * [`mails`]: the outbox consumer mailing 'download ready' on `digital.delivery_created`;
//! * [`expiry`]: the worker job marking passed deliveries expired.
//!
//! This crate owns `digital_assets` and `digital_deliveries`; variants are changed through the
//! catalog's functions.

pub mod asset;
pub mod check;
pub mod consumer;
pub mod delivery;
pub mod download;
pub mod error;
pub mod event;
pub mod expiry;
pub mod mails;

pub use error::DigitalError;
