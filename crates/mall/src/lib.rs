//! Mall mode: what the mall owes its vendors. One module, [`statements`]: a vendor's settled
//! order lines, less the mall's commission, per closing period (docs/MALL.md).
//!
//! Statements read the order lines, payments and shipments checkout writes and the vendors and
//! settings tenancy writes; they write only their own tables.

pub mod check;
pub mod error;
pub mod event;
pub mod statements;

pub use error::MallError;
