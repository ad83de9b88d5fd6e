//! The storefront's view of the catalog: active products of one store with their active
//! variants, prices and availability (in stock / low / sold out; exact numbers only when the
//! store chooses to show them).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::{ImageId, Money, Page, PageRequest, ProductId, StoreId, VariantId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::CatalogError;
use crate::image::Rendition;
use crate::product::{self, Product};
use crate::variant::{FulfillmentType, TaxClass, VariantStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    InStock,
    /// At or below the store's low-stock threshold.
    Low,
    SoldOut,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StorefrontVariant {
    pub id: VariantId,
    pub sku: String,
    pub title: String,
    pub option_values: Vec<String>,
    pub fulfillment_type: FulfillmentType,
    /// Tax-inclusive.
    pub price: Money,
    pub compare_at_price: Option<Money>,
    pub tax_class: TaxClass,
    pub availability: Availability,
    /// Units available, when the store shows stock numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_quantity: Option<i32>,
    /// The product image showing this variant (an id in the product's `images`).
    pub image_id: Option<ImageId>,
}

/// A product image for shoppers: the original and its narrower renditions, each with its
/// size, so a page can choose (`srcset`) and reserve the space before it loads. URLs are paths
/// on the API's origin (`/media/...`), cacheable for ever.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StorefrontImage {
    pub id: ImageId,
    pub url: String,
    pub width: i32,
    pub height: i32,
    pub alt: String,
    /// Narrowest first; empty until they are made (or when the original is narrower).
    pub renditions: Vec<Rendition>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StorefrontProduct {
    pub id: ProductId,
    pub handle: String,
    pub title: String,
    pub description: String,
    pub vendor: String,
    pub product_type: String,
    pub tags: Vec<String>,
    pub options: Vec<String>,
    pub variants: Vec<StorefrontVariant>,
    /// In order; the first is the main image.
    pub images: Vec<StorefrontImage>,
    /// For the page's `<title>`: the SEO title, else the title.
    pub seo_title: String,
    /// For `<meta name="description">`, when set.
    pub seo_description: Option<String>,
    /// Lowest and highest variant price.
    pub price_min: Money,
    pub price_max: Money,
    /// In stock when any variant is; low when the best is low.
    pub availability: Availability,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StorefrontSort {
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StorefrontQuery {
    /// `newest` (default), `price_asc` or `price_desc`.
    #[param(inline)]
    pub sort: Option<StorefrontSort>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

struct Display {
    low_threshold: i32,
    show_quantity: bool,
}

async fn display(tx: &mut Tx, store: StoreId) -> Result<Display, sqlx::Error> {
    let (low_threshold, show_quantity): (i32, bool) =
        sqlx::query_as("SELECT low_stock_threshold, show_stock_quantity FROM store_settings WHERE store_id = $1")
            .bind(store)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or((5, false));
    Ok(Display { low_threshold, show_quantity })
}

fn availability_of(kind: FulfillmentType, available: i32, low: i32) -> Availability {
    match kind {
        FulfillmentType::Digital => Availability::InStock,
        _ if available <= 0 => Availability::SoldOut,
        _ if available <= low => Availability::Low,
        _ => Availability::InStock,
    }
}

async fn shape(tx: &mut Tx, store: StoreId, products: Vec<Product>) -> Result<Vec<StorefrontProduct>, sqlx::Error> {
    let d = display(tx, store).await?;
    let variant_ids: Vec<VariantId> = products
        .iter()
        .flat_map(|p| p.variants.iter().filter(|v| v.status == VariantStatus::Active).map(|v| v.id))
        .collect();
    let available = inventory::availability::of_variants(tx, &variant_ids).await?;
    let vendor_ids: Vec<kernel::VendorId> = products.iter().map(|p| p.vendor_id).collect();
    let vendors: HashMap<kernel::VendorId, String> =
        sqlx::query_as::<_, (kernel::VendorId, String)>("SELECT id, name FROM vendors WHERE id = ANY($1)")
            .bind(&vendor_ids)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    let mut out = Vec::with_capacity(products.len());
    for p in products {
        let variants: Vec<StorefrontVariant> = p
            .variants
            .into_iter()
            .filter(|v| v.status == VariantStatus::Active)
            .map(|v| {
                let n = available.get(&v.id).copied().unwrap_or(0);
                StorefrontVariant {
                    availability: availability_of(v.fulfillment_type, n, d.low_threshold),
                    available_quantity: (d.show_quantity && v.fulfillment_type == FulfillmentType::Physical)
                        .then_some(n),
                    id: v.id,
                    sku: v.sku,
                    title: v.title,
                    option_values: v.option_values,
                    fulfillment_type: v.fulfillment_type,
                    price: v.price,
                    compare_at_price: v.compare_at_price,
                    tax_class: v.tax_class,
                    image_id: v.image_id,
                }
            })
            .collect();
        let (Some(min), Some(max)) = (
            variants.iter().map(|v| v.price).min_by_key(|m| m.amount),
            variants.iter().map(|v| v.price).max_by_key(|m| m.amount),
        ) else {
            continue;
        };
        let availability = if variants.iter().any(|v| v.availability == Availability::InStock) {
            Availability::InStock
        } else if variants.iter().any(|v| v.availability == Availability::Low) {
            Availability::Low
        } else {
            Availability::SoldOut
        };
        let images: Vec<StorefrontImage> = p
            .images
            .into_iter()
            .filter(|i| i.is_visible())
            .filter_map(|i| {
                Some(StorefrontImage {
                    id: i.id,
                    url: i.url?,
                    width: i.width?,
                    height: i.height?,
                    alt: i.alt,
                    renditions: i.renditions,
                })
            })
            .collect();
        let shown: std::collections::HashSet<ImageId> = images.iter().map(|i| i.id).collect();
        let mut variants = variants;
        for v in &mut variants {
            v.image_id = v.image_id.filter(|i| shown.contains(i));
        }
        out.push(StorefrontProduct {
            id: p.id,
            handle: p.handle,
            images,
            seo_title: p.seo_title.unwrap_or_else(|| p.title.clone()),
            seo_description: p.seo_description,
            title: p.title,
            description: p.description,
            vendor: vendors.get(&p.vendor_id).cloned().unwrap_or_default(),
            product_type: p.product_type,
            tags: p.tags,
            options: p.options,
            variants,
            price_min: min,
            price_max: max,
            availability,
            published_at: p.published_at,
        });
    }
    Ok(out)
}

/// A page of the store's active products.
pub async fn list(
    tx: &mut Tx,
    store: StoreId,
    query: &StorefrontQuery,
) -> Result<Page<StorefrontProduct>, CatalogError> {
    let page = PageRequest { limit: query.limit, cursor: query.cursor.clone() };
    let limit = page.limit()?;
    let sort = query.sort.unwrap_or_default();
    let after: Option<(String, ProductId)> = page.after()?;
    let base = "FROM products p
        JOIN LATERAL (SELECT min(price_amount) AS min_price FROM variants v
                       WHERE v.product_id = p.id AND v.status = 'active' AND v.deleted_at IS NULL) mp ON mp.min_price IS NOT NULL
        WHERE p.store_id = $1 AND p.status = 'active' AND p.deleted_at IS NULL
          AND EXISTS (SELECT 1 FROM vendors ve WHERE ve.id = p.vendor_id AND ve.status = 'active')";
    let keys: Vec<(ProductId, String)> = match sort {
        StorefrontSort::Newest => {
            let (after_at, after_id) = match &after {
                Some((v, id)) => {
                    (Some(v.parse::<DateTime<Utc>>().map_err(|_| kernel::PageError::InvalidCursor)?), Some(*id))
                }
                None => (None, None),
            };
            sqlx::query_as(&format!(
                "SELECT p.id, to_char(coalesce(p.published_at, p.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') {base}
                   AND ($2::timestamptz IS NULL OR (coalesce(p.published_at, p.created_at), p.id) < ($2, $3))
                 ORDER BY coalesce(p.published_at, p.created_at) DESC, p.id DESC LIMIT $4"
            ))
            .bind(store)
            .bind(after_at)
            .bind(after_id)
            .bind(limit as i64 + 1)
            .fetch_all(&mut **tx)
            .await?
        }
        StorefrontSort::PriceAsc | StorefrontSort::PriceDesc => {
            let (after_price, after_id) = match &after {
                Some((v, id)) => (Some(v.parse::<i64>().map_err(|_| kernel::PageError::InvalidCursor)?), Some(*id)),
                None => (None, None),
            };
            let (cmp, dir) = if sort == StorefrontSort::PriceAsc { (">", "ASC") } else { ("<", "DESC") };
            sqlx::query_as(&format!(
                "SELECT p.id, mp.min_price::text {base}
                   AND ($2::bigint IS NULL OR (mp.min_price, p.id) {cmp} ($2, $3))
                 ORDER BY mp.min_price {dir}, p.id {dir} LIMIT $4"
            ))
            .bind(store)
            .bind(after_price)
            .bind(after_id)
            .bind(limit as i64 + 1)
            .fetch_all(&mut **tx)
            .await?
        }
    };
    let keys = Page::from_rows(keys, limit, |(id, v)| (v.clone(), *id));
    let ids: Vec<ProductId> = keys.items.iter().map(|(id, _)| *id).collect();
    let products = product::load(tx, store, &ids).await?;
    Ok(Page { items: shape(tx, store, products).await?, next_cursor: keys.next_cursor })
}

/// Active products of the store by id, in the order given, with current availability; ids of
/// products that are not (or no longer) on the storefront are left out. Search answers with
/// this, so its results always show what the catalog shows now.
pub async fn by_ids(tx: &mut Tx, store: StoreId, ids: &[ProductId]) -> Result<Vec<StorefrontProduct>, CatalogError> {
    let products: Vec<Product> = product::load(tx, store, ids)
        .await?
        .into_iter()
        .filter(|p| p.status == product::ProductStatus::Active)
        .collect();
    Ok(shape(tx, store, products).await?)
}

/// One active product by its handle.
pub async fn by_handle(tx: &mut Tx, store: StoreId, handle: &str) -> Result<StorefrontProduct, CatalogError> {
    let id: Option<ProductId> = sqlx::query_scalar(
        "SELECT p.id FROM products p WHERE p.store_id = $1 AND p.handle = $2 AND p.status = 'active' AND p.deleted_at IS NULL
            AND EXISTS (SELECT 1 FROM vendors ve WHERE ve.id = p.vendor_id AND ve.status = 'active')",
    )
    .bind(store)
    .bind(handle.to_lowercase())
    .fetch_optional(&mut **tx)
    .await?;
    let id = id.ok_or(CatalogError::ProductNotFound)?;
    let products = product::load(tx, store, &[id]).await?;
    shape(tx, store, products).await?.pop().ok_or(CatalogError::ProductNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_buckets() {
        assert_eq!(availability_of(FulfillmentType::Physical, 0, 5), Availability::SoldOut);
        assert_eq!(availability_of(FulfillmentType::Physical, 5, 5), Availability::Low);
        assert_eq!(availability_of(FulfillmentType::Physical, 6, 5), Availability::InStock);
        assert_eq!(availability_of(FulfillmentType::Digital, 0, 5), Availability::InStock);
    }
}
