use kernel::access::PermissionDenied;
use kernel::{Currency, FieldError, PageError, Problem, ValidationErrors};

use crate::product::ProductStatus;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("no such product")]
    ProductNotFound,
    #[error("no such variant")]
    VariantNotFound,
    #[error("no such image of this product")]
    ImageNotFound,
    #[error("a product has at most {limit} images")]
    TooManyImages { limit: i64 },
    #[error("no such store")]
    StoreNotFound,
    #[error("another product of this store has the handle {0:?}")]
    HandleTaken(String),
    #[error("this product already has a variant with SKU {0:?}")]
    SkuTaken(String),
    #[error("this product already has a variant with these option values")]
    VariantOptionsTaken,
    #[error("a product cannot go from {} to {}", .from.as_str(), .to.as_str())]
    IllegalStatusTransition { from: ProductStatus, to: ProductStatus },
    #[error("a product needs at least one active variant with a price before it can be active")]
    NotPublishable,
    #[error("prices must be in the tenant's currency {expected}, not {given}")]
    CurrencyMismatch { expected: Currency, given: Currency },
    #[error("give the product options (such as Size) before adding a second variant")]
    OptionsRequired,
    #[error("the import has {} invalid rows; nothing was imported", .0.len())]
    ImportRejected(Vec<FieldError>),
    #[error("the file is not a readable CSV: {0}")]
    UnreadableCsv(String),
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] PermissionDenied),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error(transparent)]
    Inventory(#[from] inventory::InventoryError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl Problem for CatalogError {
    fn status(&self) -> u16 {
        use CatalogError::*;
        match self {
            ProductNotFound | VariantNotFound | ImageNotFound | StoreNotFound => 404,
            HandleTaken(_) | SkuTaken(_) | VariantOptionsTaken | IllegalStatusTransition { .. } => 409,
            NotPublishable
            | TooManyImages { .. }
            | CurrencyMismatch { .. }
            | OptionsRequired
            | ImportRejected(_)
            | UnreadableCsv(_) => 422,
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Page(e) => e.status(),
            Inventory(e) => e.status(),
            Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        use CatalogError::*;
        match self {
            ProductNotFound => "product_not_found",
            VariantNotFound => "variant_not_found",
            ImageNotFound => "image_not_found",
            TooManyImages { .. } => "too_many_images",
            StoreNotFound => "store_not_found",
            HandleTaken(_) => "handle_taken",
            SkuTaken(_) => "sku_taken",
            VariantOptionsTaken => "variant_options_taken",
            IllegalStatusTransition { .. } => "illegal_status_transition",
            NotPublishable => "product_not_publishable",
            CurrencyMismatch { .. } => "currency_mismatch",
            OptionsRequired => "options_required",
            ImportRejected(_) => "import_rejected",
            UnreadableCsv(_) => "unreadable_csv",
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Page(e) => e.code(),
            Inventory(e) => e.code(),
            Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<FieldError> {
        match self {
            CatalogError::Validation(e) => e.fields(),
            CatalogError::ImportRejected(rows) => rows.clone(),
            CatalogError::Inventory(e) => e.fields(),
            _ => Vec::new(),
        }
    }
}

/// Maps a violated constraint of the catalog tables to its specific error.
pub(crate) fn from_constraint(e: sqlx::Error, handle: &str, sku: &str) -> CatalogError {
    match db::constraint_of(&e) {
        Some("products_store_handle_key") => CatalogError::HandleTaken(handle.to_string()),
        Some("variants_product_sku_key") => CatalogError::SkuTaken(sku.to_string()),
        Some("variants_product_options_key") => CatalogError::VariantOptionsTaken,
        _ => e.into(),
    }
}
