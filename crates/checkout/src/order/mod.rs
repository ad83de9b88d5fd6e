//! Orders: what an order is and how it comes to be, one module per concept:
//!
//! * [`status`]: the order's status, derived from its payment and shipments by one rule, and
//!   its history;
//! * [`read_model`]: the order as staff and the shopper see it;
//! * [`place`]: placing an order from a cart, one transaction in named steps;
//! * [`quote`]: what the cart costs paid each way, and which payment methods it may use (the
//!   one rule the checkout options and placing share);
//! * [`confirmation`]: the final confirmation of a checkout form, by placing's own steps.
//!
//! Everything is re-exported here: callers write `order::view`, `order::place_order`.

pub mod confirmation;
pub mod place;
pub mod quote;
pub mod read_model;
pub mod status;

pub use confirmation::{Confirmation, confirm};
pub use place::{PlaceOrder, PlacedOrder, place_order, place_order_at};
pub use quote::{CheckoutOptions, MethodOption, OptionsFor, options, options_at};
pub use read_model::{
    LINE_COLUMNS, LineCommission, OrderLine, OrderView, Payment, Shipment, StatusChange, by_token, hash_token, view,
};
pub(crate) use status::record_history;
pub use status::{OrderStatus, PaymentMethod, PaymentStatus, ShipmentStatus, derive_status};
