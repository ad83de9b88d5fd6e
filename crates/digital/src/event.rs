//! The events digital delivery records (docs/EVENTS.md): one payload struct per event type.

use chrono::{DateTime, Utc};
use kernel::access::Actor;
use kernel::{AssetId, DeliveryId, OrderId, OrderItemId, ProductId, VariantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `digital.asset_uploaded`: the variant's new file (`replaced`: the asset it took over from).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssetUploaded {
    pub asset_id: AssetId,
    pub product_id: ProductId,
    pub variant_id: VariantId,
    pub replaced: Option<AssetId>,
    pub size_bytes: i64,
    /// SHA-256 of the content, 64 hex digits.
    pub sha256: String,
    pub content_type: String,
}
events::payload!(AssetUploaded => DigitalAssetUploaded, |p| p.asset_id);

/// `digital.asset_deleted`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssetDeleted {
    pub asset_id: AssetId,
}
events::payload!(AssetDeleted => DigitalAssetDeleted, |p| p.asset_id);

/// `digital.delivery_created`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryCreated {
    pub delivery_id: DeliveryId,
    pub order_id: OrderId,
    pub order_item_id: OrderItemId,
    pub asset_id: AssetId,
    /// `null`: no expiry.
    pub url_expires_at: Option<DateTime<Utc>>,
    /// `null`: unlimited.
    pub max_downloads: Option<i32>,
}
events::payload!(DeliveryCreated => DigitalDeliveryCreated, |p| p.delivery_id);

/// `digital.delivery_revoked`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryRevoked {
    pub delivery_id: DeliveryId,
    pub order_id: OrderId,
    pub reason: Option<String>,
    pub by: Actor,
}
events::payload!(DeliveryRevoked => DigitalDeliveryRevoked, |p| p.delivery_id);

/// `digital.delivery_extended`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryExtended {
    pub delivery_id: DeliveryId,
    pub order_id: OrderId,
    pub url_expires_at: DateTime<Utc>,
    /// The delivery had expired and is active again.
    pub reactivated: bool,
    pub by: Actor,
}
events::payload!(DeliveryExtended => DigitalDeliveryExtended, |p| p.delivery_id);

/// `digital.delivery_limit_changed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryLimitChanged {
    pub delivery_id: DeliveryId,
    pub order_id: OrderId,
    /// Downloads counted before the change.
    pub previous_count: i32,
    pub downloaded_count: i32,
    /// `null`: unlimited.
    pub max_downloads: Option<i32>,
    pub by: Actor,
}
events::payload!(DeliveryLimitChanged => DigitalDeliveryLimitChanged, |p| p.delivery_id);

/// `digital.delivery_expired`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryExpired {
    pub delivery_id: DeliveryId,
    pub order_id: OrderId,
    pub url_expires_at: Option<DateTime<Utc>>,
}
events::payload!(DeliveryExpired => DigitalDeliveryExpired, |p| p.delivery_id);

/// `digital.downloaded`: one granted download (counted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Downloaded {
    pub delivery_id: DeliveryId,
    pub order_id: OrderId,
    pub downloaded_count: i32,
    pub max_downloads: Option<i32>,
}
events::payload!(Downloaded => DigitalDownloaded, |p| p.delivery_id);
