//! The events inventory records (docs/EVENTS.md).

use chrono::{DateTime, Utc};
use kernel::{LocationId, VariantId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::stock::{MovementReason, StockLevel};

/// `inventory.stock_changed`: staff set or adjusted a variant's stock at a location. Holds and
/// sales move `reserved` and `stock` too, without this event (see the movement history).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockChanged {
    pub variant_id: VariantId,
    pub location_id: LocationId,
    /// Units on hand after the change.
    pub stock: i32,
    pub previous_stock: i32,
    /// Units held by carts.
    pub reserved: i32,
    pub reason: MovementReason,
    pub updated_at: DateTime<Utc>,
}
events::payload!(StockChanged => InventoryStockChanged, |p| p.variant_id);

impl StockChanged {
    pub fn new(after: &StockLevel, previous_stock: i32, reason: MovementReason) -> Self {
        StockChanged {
            variant_id: after.variant_id,
            location_id: after.location_id,
            stock: after.stock,
            previous_stock,
            reserved: after.reserved,
            reason,
            updated_at: after.updated_at,
        }
    }
}
