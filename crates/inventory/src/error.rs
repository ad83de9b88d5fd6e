use kernel::access::PermissionDenied;
use kernel::{PageError, Problem, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("no such variant in this store")]
    VariantNotFound,
    #[error("no such location in this store")]
    LocationNotFound,
    #[error("stock cannot go below the {reserved} units held in carts")]
    StockBelowReserved { reserved: i32 },
    #[error("stock cannot be negative")]
    NegativeStock,
    #[error("digital variants have no stock")]
    DigitalVariant,
    #[error("this location is another vendor's warehouse: a vendor's stock lives at its own locations or the mall's")]
    AnotherVendorsLocation,
    #[error("a reservation cannot go from {from:?} to {to:?}")]
    IllegalReservationTransition {
        from: crate::reservation::ReservationStatus,
        to: crate::reservation::ReservationStatus,
    },
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] PermissionDenied),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl Problem for InventoryError {
    fn status(&self) -> u16 {
        use InventoryError::*;
        match self {
            VariantNotFound | LocationNotFound => 404,
            StockBelowReserved { .. } | IllegalReservationTransition { .. } => 409,
            NegativeStock | DigitalVariant | AnotherVendorsLocation => 422,
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Page(e) => e.status(),
            Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        use InventoryError::*;
        match self {
            VariantNotFound => "variant_not_found",
            LocationNotFound => "location_not_found",
            StockBelowReserved { .. } => "stock_below_reserved",
            NegativeStock => "negative_stock",
            DigitalVariant => "digital_variant_has_no_stock",
            AnotherVendorsLocation => "another_vendors_location",
            IllegalReservationTransition { .. } => "illegal_reservation_transition",
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Page(e) => e.code(),
            Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<kernel::FieldError> {
        match self {
            InventoryError::Validation(e) => e.fields(),
            _ => Vec::new(),
        }
    }
}
