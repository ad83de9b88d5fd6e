//! The events checkout records (docs/EVENTS.md): one payload struct per event type. Amounts
//! are [`Money`] (minor units and currency).

use kernel::{CartId, CustomerId, Money, OrderId, OrderItemId, PaymentId, PromotionId, ShipmentId, StoreId, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::order::{OrderStatus, PaymentMethod};
use crate::promotions::Promotion;
use crate::settings::CheckoutSettings;

/// `cart.abandoned`: its holds were released.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartAbandoned {
    pub cart_id: CartId,
}
events::payload!(CartAbandoned => CartAbandoned, |p| p.cart_id);

/// `order.placed`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderPlaced {
    pub order_id: OrderId,
    /// The store's order number (sequential, without gaps).
    pub number: i64,
    pub total: Money,
    pub payment_method: PaymentMethod,
    /// Nothing to ship: no shipment, and no COD.
    pub digital_only: bool,
    pub customer_id: Option<CustomerId>,
}
events::payload!(OrderPlaced => OrderPlaced, |p| p.order_id);

/// `order.status_changed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderStatusChanged {
    pub order_id: OrderId,
    pub from: OrderStatus,
    pub to: OrderStatus,
}
events::payload!(OrderStatusChanged => OrderStatusChanged, |p| p.order_id);

/// `order.canceled`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderCanceled {
    pub order_id: OrderId,
    pub reason: String,
    /// Units that went back to stock.
    pub restocked_units: i64,
    /// What was already paid and is now owed back (zero when nothing was paid).
    pub refund_owed: Money,
}
events::payload!(OrderCanceled => OrderCanceled, |p| p.order_id);

/// `order.lines_canceled`: some lines of an order were canceled (mall mode); the order is what
/// is left.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLinesCanceled {
    pub order_id: OrderId,
    /// The vendor whose staff canceled them (none: the mall's staff).
    pub vendor_id: Option<VendorId>,
    pub line_ids: Vec<OrderItemId>,
    pub reason: String,
    /// Units that went back to stock.
    pub restocked_units: i64,
    /// The order's total now (what a COD collects, what a bank transfer owes).
    pub total: Money,
    /// What was paid above the new total and is owed back.
    pub refund_owed: Money,
}
events::payload!(OrderLinesCanceled => OrderLinesCanceled, |p| p.order_id);

/// `payment.confirmed`, whichever way the money came: a bank transfer staff recorded, cash the
/// carrier collected on the last delivery, or an order with nothing to pay.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentConfirmed {
    pub order_id: OrderId,
    pub payment_id: PaymentId,
    pub method: PaymentMethod,
    /// What the order asked for.
    pub due: Money,
    /// What arrived in all (bank transfers may come in parts).
    pub received: Money,
    /// `received` differs from `due`: an excess is a refund owed, a short amount was accepted.
    pub mismatch: bool,
    /// Confirmed although less than due arrived (staff accepted a short bank transfer, or the
    /// carrier collected less on delivery).
    pub accepted_short: bool,
}
events::payload!(PaymentConfirmed => PaymentConfirmed, |p| p.order_id);

impl PaymentConfirmed {
    pub fn new(order_id: OrderId, payment_id: PaymentId, method: PaymentMethod, due: Money, received: Money) -> Self {
        PaymentConfirmed {
            order_id,
            payment_id,
            method,
            due,
            received,
            mismatch: received != due,
            accepted_short: received.amount < due.amount,
        }
    }
}

/// `payment.short`: a bank transfer below what is due; the order keeps waiting.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentShort {
    pub order_id: OrderId,
    pub payment_id: PaymentId,
    pub due: Money,
    /// What arrived so far.
    pub received: Money,
}
events::payload!(PaymentShort => PaymentShort, |p| p.order_id);

/// `payment.failed`: the order was canceled before it was paid.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentFailed {
    pub order_id: OrderId,
    pub payment_id: PaymentId,
    pub reason: String,
}
events::payload!(PaymentFailed => PaymentFailed, |p| p.order_id);

/// `payment.refunded`: the refund owed was paid back (outside Tenpo).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentRefunded {
    pub order_id: OrderId,
    pub refunded: Money,
}
events::payload!(PaymentRefunded => PaymentRefunded, |p| p.order_id);

/// `shipment.shipped`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipmentShipped {
    pub order_id: OrderId,
    pub shipment_id: ShipmentId,
    pub carrier: String,
    pub tracking_no: String,
}
events::payload!(ShipmentShipped => ShipmentShipped, |p| p.shipment_id);

/// `shipment.delivered`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentDelivered {
    pub order_id: OrderId,
    pub shipment_id: ShipmentId,
}
events::payload!(ShipmentDelivered => ShipmentDelivered, |p| p.shipment_id);

/// `shipment.canceled`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentCanceled {
    pub order_id: OrderId,
    pub shipment_id: ShipmentId,
}
events::payload!(ShipmentCanceled => ShipmentCanceled, |p| p.shipment_id);

/// `promotion.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromotionCreated(pub Promotion);
events::payload!(PromotionCreated => PromotionCreated, |p| p.0.id);

/// `promotion.updated`: the promotion after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromotionUpdated(pub Promotion);
events::payload!(PromotionUpdated => PromotionUpdated, |p| p.0.id);

/// `promotion.deleted`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromotionDeleted {
    pub id: PromotionId,
}
events::payload!(PromotionDeleted => PromotionDeleted, |p| p.id);

/// `store.checkout_settings_updated`: the settings after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreCheckoutSettingsUpdated {
    pub store_id: StoreId,
    pub settings: CheckoutSettings,
}
events::payload!(StoreCheckoutSettingsUpdated => StoreCheckoutSettingsUpdated, |p| p.store_id);
