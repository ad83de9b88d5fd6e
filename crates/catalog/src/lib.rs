//! The catalog: what a store sells.
//!
//! * [`product`]: products, their options and statuses (draft / active / archived, legal moves
//!   only), admin list with filters and cursor pagination, bulk status changes;
//! * [`variant`]: variants with SKU, price, compare-at price, tax class, fulfilment type;
//! * [`locations`]: which locations carry a product;
//! * [`image`]: product images: order, alt text, a variant's image, renditions (bytes: the
//!   `images` crate);
//! * [`digital`]: download link lifetime and limits, product over store;
//! * [`storefront`]: the public read model with availability;
//! * [`csv`]: import and export in Shopify's product CSV layout.

pub mod csv;
pub mod digital;
pub mod error;
pub mod event;
pub mod handle;
pub mod image;
pub mod locations;
pub mod product;
pub mod storefront;
pub mod variant;

use db::Tx;
use kernel::Currency;

pub use error::CatalogError;

/// The currency every price of the tenant is in.
pub(crate) async fn tenant_currency(tx: &mut Tx) -> Result<Currency, CatalogError> {
    tenancy::tenants::find(tx).await?.map(|t| t.default_currency).ok_or(CatalogError::StoreNotFound)
}
