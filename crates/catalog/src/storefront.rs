//! The storefront's view of the catalog: active products of one store with their active
//! variants, prices and availability (in stock / low / sold out; exact numbers only when the
//! store chooses to show them).

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::{ImageId, Money, Page, PageRequest, ProductId, StoreId, VariantId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::CatalogError;
use crate::image::Rendition;
use crate::variant::{FulfillmentType, TaxClass};

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
    /// Only products carrying this tag (as written on the product; see `GET .../tags`).
    pub tag: Option<String>,
    /// Only products of this type (`product_type`, as written).
    pub product_type: Option<String>,
}

/// A tag of the store's listed products, with how many carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct TagCount {
    pub tag: String,
    pub product_count: i64,
}

/// The store's tags, the most used first (then by name).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoreTags {
    pub items: Vec<TagCount>,
}

/// How many tags [`tags`] answers at most.
pub const MAX_TAGS: i64 = 500;

/// A product shoppers see (with `p` the product and `$1` the store): active, not deleted, its
/// vendor active. Lists also need an active variant.
const LISTED: &str = "p.store_id = $1 AND p.status = 'active' AND p.deleted_at IS NULL
          AND EXISTS (SELECT 1 FROM vendors ve WHERE ve.id = p.vendor_id AND ve.status = 'active')";

/// A product as the storefront's one statement reads it ([`read_sql`]).
#[derive(sqlx::FromRow)]
struct Row {
    id: ProductId,
    handle: String,
    title: String,
    description: String,
    vendor: String,
    product_type: String,
    tags: Vec<String>,
    options: Vec<String>,
    seo_title: Option<String>,
    seo_description: Option<String>,
    published_at: Option<DateTime<Utc>>,
    /// The cursor's value after this product (list pages only).
    sort_key: Option<String>,
    /// Active variants in position order, each with what is available now.
    variants: sqlx::types::Json<Vec<VariantPiece>>,
    /// Images with an original, in position order.
    images: sqlx::types::Json<Vec<ImagePiece>>,
    low_threshold: i32,
    show_quantity: bool,
}

#[derive(Deserialize)]
struct VariantPiece {
    id: VariantId,
    sku: String,
    title: String,
    option_values: Vec<String>,
    fulfillment_type: FulfillmentType,
    price: Money,
    compare_at_price: Option<Money>,
    tax_class: TaxClass,
    image_id: Option<ImageId>,
    available: i64,
}

#[derive(Deserialize)]
struct ImagePiece {
    id: ImageId,
    key: String,
    width: i32,
    height: i32,
    alt: String,
    renditions: Vec<RenditionPiece>,
}

#[derive(Deserialize)]
struct RenditionPiece {
    key: String,
    width: i32,
    height: i32,
}

/// The storefront's read of the products `page` answers, in one statement: `page` is a query
/// answering `id`, `ord` (the order shown) and `sort_key` (the cursor's value, or NULL); `$1` is
/// the store. Each product comes with its options, vendor, active variants with their
/// availability (inventory's rule, [`inventory::availability::available_sql`]), visible images
/// with their renditions and the store's display settings, so a page of any size is one round
/// trip instead of one per kind of row.
fn read_sql(page: &str) -> String {
    let available = inventory::availability::available_sql("v.id", "v.product_id");
    format!(
        "WITH page AS ({page}),
              -- one pass over the page's options, not a scan per product (each row costs its RLS check)
              opts AS (SELECT o.product_id, array_agg(o.name ORDER BY o.position) AS names FROM product_options o
                        WHERE o.product_id IN (SELECT id FROM page) GROUP BY o.product_id)
         SELECT p.id, p.handle, p.title, p.description, ve.name AS vendor, p.product_type, p.tags,
                p.seo_title, p.seo_description, p.published_at, page.sort_key,
                coalesce(opts.names, '{{}}') AS options,
                (SELECT coalesce(json_agg(json_build_object(
                          'id', v.id, 'sku', v.sku, 'title', v.title,
                          'option_values', array_remove(ARRAY[v.option1, v.option2, v.option3], NULL),
                          'fulfillment_type', v.fulfillment_type,
                          'price', json_build_object('amount', v.price_amount, 'currency', v.price_currency),
                          'compare_at_price', CASE WHEN v.compare_at_amount IS NOT NULL AND v.compare_at_currency IS NOT NULL
                                                   THEN json_build_object('amount', v.compare_at_amount, 'currency', v.compare_at_currency) END,
                          'tax_class', v.tax_class, 'image_id', v.image_id, 'available', {available})
                          ORDER BY v.position, v.id), '[]'::json)
                   FROM variants v WHERE v.product_id = p.id AND v.status = 'active' AND v.deleted_at IS NULL) AS variants,
                (SELECT coalesce(json_agg(json_build_object(
                          'id', i.id, 'key', i.object_key, 'width', i.width, 'height', i.height, 'alt', i.alt,
                          'renditions', (SELECT coalesce(json_agg(json_build_object('key', r.object_key, 'width', r.width, 'height', r.height)
                                                          ORDER BY r.width), '[]'::json)
                                           FROM product_image_renditions r WHERE r.image_id = i.id))
                          ORDER BY i.position, i.id), '[]'::json)
                   FROM product_images i
                  WHERE i.product_id = p.id AND i.object_key IS NOT NULL AND i.status <> 'failed'
                    AND i.width IS NOT NULL AND i.height IS NOT NULL) AS images,
                coalesce(st.low_stock_threshold, 5) AS low_threshold, coalesce(st.show_stock_quantity, false) AS show_quantity
           FROM page
           JOIN products p ON p.id = page.id AND p.store_id = $1 AND p.status = 'active' AND p.deleted_at IS NULL
           -- a suspended vendor's products never show, whatever ids the page names (search's
           -- index may still hold them until the worker re-indexes)
           JOIN vendors ve ON ve.id = p.vendor_id AND ve.status = 'active'
           LEFT JOIN opts ON opts.product_id = p.id
           LEFT JOIN store_settings st ON st.store_id = $1
          ORDER BY page.ord"
    )
}

fn availability_of(kind: FulfillmentType, available: i32, low: i32) -> Availability {
    match kind {
        FulfillmentType::Digital => Availability::InStock,
        _ if available <= 0 => Availability::SoldOut,
        _ if available <= low => Availability::Low,
        _ => Availability::InStock,
    }
}

/// The product as shoppers see it; `None` when it has no active variant.
fn shape(r: Row) -> Option<StorefrontProduct> {
    let images: Vec<StorefrontImage> = r
        .images
        .0
        .into_iter()
        .map(|i| StorefrontImage {
            id: i.id,
            url: crate::image::url_of(&i.key),
            width: i.width,
            height: i.height,
            alt: i.alt,
            renditions: i
                .renditions
                .into_iter()
                .map(|x| Rendition { url: crate::image::url_of(&x.key), width: x.width, height: x.height })
                .collect(),
        })
        .collect();
    let shown: std::collections::HashSet<ImageId> = images.iter().map(|i| i.id).collect();
    let variants: Vec<StorefrontVariant> = r
        .variants
        .0
        .into_iter()
        .map(|v| {
            let n = v.available.min(i32::MAX as i64) as i32;
            StorefrontVariant {
                availability: availability_of(v.fulfillment_type, n, r.low_threshold),
                available_quantity: (r.show_quantity && v.fulfillment_type == FulfillmentType::Physical).then_some(n),
                id: v.id,
                sku: v.sku,
                title: v.title,
                option_values: v.option_values,
                fulfillment_type: v.fulfillment_type,
                price: v.price,
                compare_at_price: v.compare_at_price,
                tax_class: v.tax_class,
                image_id: v.image_id.filter(|i| shown.contains(i)),
            }
        })
        .collect();
    let min = variants.iter().map(|v| v.price).min_by_key(|m| m.amount)?;
    let max = variants.iter().map(|v| v.price).max_by_key(|m| m.amount)?;
    let availability = if variants.iter().any(|v| v.availability == Availability::InStock) {
        Availability::InStock
    } else if variants.iter().any(|v| v.availability == Availability::Low) {
        Availability::Low
    } else {
        Availability::SoldOut
    };
    Some(StorefrontProduct {
        id: r.id,
        handle: r.handle,
        images,
        seo_title: r.seo_title.unwrap_or_else(|| r.title.clone()),
        seo_description: r.seo_description,
        title: r.title,
        description: r.description,
        vendor: r.vendor,
        product_type: r.product_type,
        tags: r.tags,
        options: r.options,
        variants,
        price_min: min,
        price_max: max,
        availability,
        published_at: r.published_at,
    })
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
    // `= ANY(p.tags)` filters rows the store's index found: under RLS a GIN index on tags is
    // never an index condition (array operators are not leakproof), so none is kept
    let base = format!(
        "FROM products p
        JOIN LATERAL (SELECT min(price_amount) AS min_price FROM variants v
                       WHERE v.product_id = p.id AND v.status = 'active' AND v.deleted_at IS NULL) mp ON mp.min_price IS NOT NULL
        WHERE {LISTED}
          AND ($5::text IS NULL OR $5 = ANY(p.tags)) AND ($6::text IS NULL OR p.product_type = $6)"
    );
    let tag = query.tag.as_deref().filter(|t| !t.is_empty());
    let product_type = query.product_type.as_deref().filter(|t| !t.is_empty());
    let rows: Vec<Row> = match sort {
        StorefrontSort::Newest => {
            let (after_at, after_id) = match &after {
                Some((v, id)) => {
                    (Some(v.parse::<DateTime<Utc>>().map_err(|_| kernel::PageError::InvalidCursor)?), Some(*id))
                }
                None => (None, None),
            };
            let order = "coalesce(p.published_at, p.created_at) DESC, p.id DESC";
            sqlx::query_as(&read_sql(&format!(
                "SELECT p.id, to_char(coalesce(p.published_at, p.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS sort_key,
                        row_number() OVER (ORDER BY {order}) AS ord {base}
                   AND ($2::timestamptz IS NULL OR (coalesce(p.published_at, p.created_at), p.id) < ($2, $3))
                 ORDER BY {order} LIMIT $4"
            )))
            .bind(store)
            .bind(after_at)
            .bind(after_id)
            .bind(limit as i64 + 1)
            .bind(tag)
            .bind(product_type)
            .fetch_all(&mut **tx)
            .await?
        }
        StorefrontSort::PriceAsc | StorefrontSort::PriceDesc => {
            let (after_price, after_id) = match &after {
                Some((v, id)) => (Some(v.parse::<i64>().map_err(|_| kernel::PageError::InvalidCursor)?), Some(*id)),
                None => (None, None),
            };
            let (cmp, dir) = if sort == StorefrontSort::PriceAsc { (">", "ASC") } else { ("<", "DESC") };
            let order = format!("mp.min_price {dir}, p.id {dir}");
            sqlx::query_as(&read_sql(&format!(
                "SELECT p.id, mp.min_price::text AS sort_key, row_number() OVER (ORDER BY {order}) AS ord {base}
                   AND ($2::bigint IS NULL OR (mp.min_price, p.id) {cmp} ($2, $3))
                 ORDER BY {order} LIMIT $4"
            )))
            .bind(store)
            .bind(after_price)
            .bind(after_id)
            .bind(limit as i64 + 1)
            .bind(tag)
            .bind(product_type)
            .fetch_all(&mut **tx)
            .await?
        }
    };
    let page = Page::from_rows(rows, limit, |r| (r.sort_key.clone().unwrap_or_default(), r.id));
    Ok(Page { items: page.items.into_iter().filter_map(shape).collect(), next_cursor: page.next_cursor })
}

/// The tags of the store's listed products (as [`list`] shows them), each with how many
/// products carry it, the most used first, at most [`MAX_TAGS`]. One statement; the API and
/// the pages keep its answer in the read cache (catalog changes drop it).
pub async fn tags(tx: &mut Tx, store: StoreId) -> Result<Vec<TagCount>, CatalogError> {
    Ok(sqlx::query_as(&format!(
        "SELECT t.tag, count(*) AS product_count
           FROM products p CROSS JOIN LATERAL unnest(p.tags) AS t (tag)
          WHERE {LISTED}
            AND EXISTS (SELECT 1 FROM variants v WHERE v.product_id = p.id AND v.status = 'active' AND v.deleted_at IS NULL)
          GROUP BY t.tag ORDER BY count(*) DESC, t.tag LIMIT $2"
    ))
    .bind(store)
    .bind(MAX_TAGS)
    .fetch_all(&mut **tx)
    .await?)
}

/// Active products of the store by id, in the order given, with current availability; ids of
/// products that are not (or no longer) on the storefront are left out, a suspended vendor's
/// among them. Search answers with
/// this, so its results always show what the catalog shows now.
pub async fn by_ids(tx: &mut Tx, store: StoreId, ids: &[ProductId]) -> Result<Vec<StorefrontProduct>, CatalogError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Row> = sqlx::query_as(&read_sql(
        "SELECT u.id, u.ord, NULL::text AS sort_key FROM unnest($2::uuid[]) WITH ORDINALITY AS u (id, ord)",
    ))
    .bind(store)
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().filter_map(shape).collect())
}

/// One active product by its handle.
pub async fn by_handle(tx: &mut Tx, store: StoreId, handle: &str) -> Result<StorefrontProduct, CatalogError> {
    let row: Option<Row> = sqlx::query_as(&read_sql(&format!(
        "SELECT p.id, 1 AS ord, NULL::text AS sort_key FROM products p WHERE p.handle = $2 AND {LISTED}"
    )))
    .bind(store)
    .bind(handle.to_lowercase())
    .fetch_optional(&mut **tx)
    .await?;
    row.and_then(shape).ok_or(CatalogError::ProductNotFound)
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
