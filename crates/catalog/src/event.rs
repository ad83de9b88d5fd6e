//! The events the catalog records (docs/EVENTS.md): one payload struct per event type.

use kernel::{ProductId, StoreId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::digital::{ProductDigitalSettings, StoreDigitalSettings};
use crate::product::Product;
use crate::variant::Variant;

/// `product.created`: the product with its variants, as the admin API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductCreated(pub Product);
events::payload!(ProductCreated => ProductCreated, |p| p.0.id);

/// `product.updated`: the product after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductUpdated(pub Product);
events::payload!(ProductUpdated => ProductUpdated, |p| p.0.id);

/// `product.archived`: the product after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductArchived(pub Product);
events::payload!(ProductArchived => ProductArchived, |p| p.0.id);

/// `product.deleted`: the product as it was.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDeleted(pub Product);
events::payload!(ProductDeleted => ProductDeleted, |p| p.0.id);

/// `product.digital_settings_updated`: the product's override and the effective values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductDigitalSettingsUpdated(pub ProductDigitalSettings);
events::payload!(ProductDigitalSettingsUpdated => ProductDigitalSettingsUpdated, |p| p.0.product_id);

/// A variant and its product (the payload of every `variant.*` event).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantChange {
    pub product_id: ProductId,
    pub variant: Variant,
}

/// `variant.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantCreated(pub VariantChange);
events::payload!(VariantCreated => VariantCreated, |p| p.0.variant.id);

/// `variant.updated`: the variant after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantUpdated(pub VariantChange);
events::payload!(VariantUpdated => VariantUpdated, |p| p.0.variant.id);

/// `variant.deleted`: the variant as it was.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantDeleted(pub VariantChange);
events::payload!(VariantDeleted => VariantDeleted, |p| p.0.variant.id);

/// `store.digital_settings_updated`: the store's defaults after the change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreDigitalSettingsUpdated {
    pub store_id: StoreId,
    pub settings: StoreDigitalSettings,
}
events::payload!(StoreDigitalSettingsUpdated => StoreDigitalSettingsUpdated, |p| p.store_id);
