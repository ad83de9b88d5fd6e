//! Customers: one canonical customer per tenant, a profile per store, and the identity map
//! that ties emails, phone numbers and external ids to customers.
//!
//! * [`account`]: shoppers' accounts (sign-up, verification, sign-in, reset)
//! * [`identity`]: normalisation and resolution (sign-up, import, checkout: `identity::resolve`)
//! * [`customer`]: the admin's view (list, search, detail, create, update)
//! * [`profile`]: a store's profile of a customer and its per-field sync stamps
//! * [`address`]: Japanese addresses (also the shape of order addresses)
//! * [`merge`]: merging a duplicate into a survivor
//! * [`erase`]: erasing a customer's personal data
//! * [`sync`]: store sync settings and the outbox consumer that carries profile changes
//! * [`import`]: CSV import
//!
//! The rules (resolution, merge, sync conflicts, erasure) are written down in
//! docs/CUSTOMERS.md.

pub mod account;
pub mod address;
pub mod customer;
pub mod erase;
pub mod error;
pub mod event;
pub mod identity;
pub mod import;
pub mod merge;
pub mod profile;
pub mod sync;

pub use error::CustomersError;
