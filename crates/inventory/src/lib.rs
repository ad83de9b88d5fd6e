//! Inventory: how many units of a variant each location holds (`stock`), how many of those are
//! held for shoppers (`reserved`), and the movement row behind every change to either number.

pub mod availability;
pub mod error;
pub mod stock;

pub use error::InventoryError;
