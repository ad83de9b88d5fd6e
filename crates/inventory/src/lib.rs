//! Inventory: how many units of a variant each location holds (`stock`), how many of those are
//! held for shoppers (`reserved`), and the movement row behind every change to either number.

pub mod availability;
pub mod check;
pub mod error;
pub mod event;
pub mod movements;
pub mod reservation;
pub mod stock;
pub mod sweep;

pub use error::InventoryError;
