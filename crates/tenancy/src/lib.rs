//! Tenancy: the operator's tenants and their vendors, stores and store locations, the staff
//! who work in a store, and how staff prove who they are.
//!
//! Each module is one concept: its types, its SQL and its use cases. Services take the
//! [`db::Db`] (and open a tenant-scoped transaction) or a [`db::Tx`] the caller already holds.

pub mod auth;
pub mod commission;
pub mod disclosures;
pub mod error;
pub mod event;
pub mod locations;
pub mod mall;
pub mod password;
pub mod settings;
pub mod staff;
pub mod stores;
pub mod tenants;
pub mod throttle;
pub mod vendors;

pub use error::{AuthError, TenancyError};
