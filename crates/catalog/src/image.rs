//! Product images: their order, alt text, a variant's image, and where their bytes are.
//!
//! This module owns `product_images` and `product_image_renditions`; the bytes (sniffing,
//! decoding, resizing, storage, fetching an imported `Image Src`) are the `images` crate's,
//! which calls the functions here to record what it did.
//!
//! An image is `pending` until its renditions exist, then `ready`; `failed` when its original
//! could not be fetched or decoded after the last attempt (`error` says why). An uploaded
//! image has its original from the start and is shown at once; an imported one appears on the
//! storefront once its original has been fetched.
//!
//! URLs: every stored object of an image is served by Tenpo at `/media/<object key>` (a path on
//! the API's own origin), e.g. `/media/t/<tenant>/images/<image>/w600.jpg`. Keys are fresh per
//! image, so the answers may be cached for ever.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{ImageId, ProductId, StoreId, TenantId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CatalogError;
use crate::event::ProductUpdated;

/// The path under which Tenpo serves image objects.
pub const MEDIA_PREFIX: &str = "/media/";

/// At most this many images per product.
pub const MAX_PER_PRODUCT: i64 = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ImageStatus {
    /// Waiting for its renditions (and, when imported, for its original to be fetched).
    Pending,
    /// Original and renditions stored.
    Ready,
    /// Could not be fetched or read; `error` says why.
    Failed,
}

/// A resized copy of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rendition {
    /// `/media/...`, on the API's origin.
    pub url: String,
    pub width: i32,
    pub height: i32,
}

/// An image of a product, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductImage {
    pub id: ImageId,
    /// 1 for the main image, then in order.
    pub position: i32,
    /// Alternative text for screen readers and search engines.
    pub alt: String,
    pub status: ImageStatus,
    /// The original, once stored (`/media/...` on the API's origin).
    pub url: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// `image/jpeg`, `image/png` or `image/webp`, from the content (not the file name).
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    /// Where an imported image was fetched from (CSV `Image Src`).
    pub source_url: Option<String>,
    /// Narrower copies (200, 600, 1200 px wide; only those narrower than the original).
    pub renditions: Vec<Rendition>,
    /// Why a failed image failed.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ProductImage {
    /// Shown to shoppers: it has an original.
    pub fn is_visible(&self) -> bool {
        self.url.is_some() && self.status != ImageStatus::Failed
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ImageRow {
    id: ImageId,
    product_id: ProductId,
    position: i32,
    alt: String,
    status: ImageStatus,
    object_key: Option<String>,
    width: Option<i32>,
    height: Option<i32>,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    source_url: Option<String>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, product_id, position, alt, status, object_key, width, height, content_type, size_bytes,
    source_url, last_error, created_at";

pub(crate) fn url_of(key: &str) -> String {
    format!("{MEDIA_PREFIX}{key}")
}

/// The images of products, each product's in position order.
pub async fn for_products(
    tx: &mut Tx,
    products: &[ProductId],
) -> Result<HashMap<ProductId, Vec<ProductImage>>, sqlx::Error> {
    let rows: Vec<ImageRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM product_images WHERE product_id = ANY($1) ORDER BY product_id, position, id"
    ))
    .bind(products)
    .fetch_all(&mut **tx)
    .await?;
    let ids: Vec<ImageId> = rows.iter().map(|r| r.id).collect();
    let mut renditions: HashMap<ImageId, Vec<Rendition>> = HashMap::new();
    let found: Vec<(ImageId, i32, i32, String)> = sqlx::query_as(
        "SELECT image_id, width, height, object_key FROM product_image_renditions WHERE image_id = ANY($1) ORDER BY image_id, width",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    for (image, width, height, key) in found {
        renditions.entry(image).or_default().push(Rendition { url: url_of(&key), width, height });
    }
    let mut out: HashMap<ProductId, Vec<ProductImage>> = HashMap::new();
    for r in rows {
        let image = ProductImage {
            id: r.id,
            position: r.position,
            alt: r.alt,
            status: r.status,
            url: r.object_key.as_deref().map(url_of),
            width: r.width,
            height: r.height,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            source_url: r.source_url,
            renditions: renditions.remove(&r.id).unwrap_or_default(),
            error: r.last_error,
            created_at: r.created_at,
        };
        out.entry(r.product_id).or_default().push(image);
    }
    Ok(out)
}

/// The images of one product of the store (within the acting vendor's scope).
pub async fn list(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
) -> Result<Vec<ProductImage>, CatalogError> {
    crate::product::get_product(tx, store, by, product).await?;
    Ok(for_products(tx, &[product]).await?.remove(&product).unwrap_or_default())
}

/// One image of a product.
pub async fn get(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    image: ImageId,
) -> Result<ProductImage, CatalogError> {
    list(tx, store, by, product).await?.into_iter().find(|i| i.id == image).ok_or(CatalogError::ImageNotFound)
}

/// An original stored by the `images` crate.
#[derive(Debug, Clone)]
pub struct StoredOriginal {
    pub provider: String,
    pub key: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
    pub size_bytes: i64,
    pub sha256: String,
}

/// Where a new image's bytes are.
#[derive(Debug, Clone)]
pub enum Source {
    /// Uploaded and stored already.
    Stored(StoredOriginal),
    /// To be fetched by the worker (a CSV's `Image Src`, checked by the caller).
    Remote(String),
}

/// A new image's text.
#[derive(Debug, Clone, Default)]
pub struct NewImage {
    pub alt: String,
    /// 1-based; at the end when omitted (or past the end).
    pub position: Option<i32>,
}

fn check_alt(v: &mut Validator, alt: &str) -> String {
    let alt = alt.trim();
    if alt.chars().count() > 512 {
        v.push("alt", "too_long", "must be at most 512 characters");
    }
    alt.to_string()
}

/// Checks a new image's text before its bytes are stored (every bad field at once), and that
/// the product exists and has room for another image.
pub async fn check_new(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    new: &NewImage,
) -> Result<(), CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let mut v = Validator::new();
    check_alt(&mut v, &new.alt);
    if let Some(p) = new.position {
        v.range("position", p, 1, MAX_PER_PRODUCT as i32);
    }
    v.into_result()?;
    crate::product::lock(tx, store, by, product).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM product_images WHERE product_id = $1")
        .bind(product)
        .fetch_one(&mut **tx)
        .await?;
    if count >= MAX_PER_PRODUCT {
        return Err(CatalogError::TooManyImages { limit: MAX_PER_PRODUCT });
    }
    Ok(())
}

/// Records a new image of a product (its bytes stored, or to be fetched), at its position;
/// the worker then makes its renditions. Records `product.updated`.
pub async fn add(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    id: ImageId,
    new: NewImage,
    source: Source,
) -> Result<ProductImage, CatalogError> {
    check_new(tx, store, by, product, &new).await?;
    let mut v = Validator::new();
    let alt = check_alt(&mut v, &new.alt);
    v.into_result()?;
    let (stored, remote) = match source {
        Source::Stored(s) => (Some(s), None),
        Source::Remote(url) => (None, Some(url)),
    };
    let s = stored.as_ref();
    sqlx::query(
        "INSERT INTO product_images (id, tenant_id, store_id, product_id, position, alt, source_url, provider, object_key,
            content_type, width, height, size_bytes, sha256)
         VALUES ($1, $2, $3, $4, (SELECT coalesce(max(position), 0) + 1 FROM product_images WHERE product_id = $4),
            $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(id)
    .bind(tx.tenant())
    .bind(store)
    .bind(product)
    .bind(&alt)
    .bind(&remote)
    .bind(s.map(|s| s.provider.as_str()))
    .bind(s.map(|s| s.key.as_str()))
    .bind(s.map(|s| s.content_type.as_str()))
    .bind(s.map(|s| s.width))
    .bind(s.map(|s| s.height))
    .bind(s.map(|s| s.size_bytes))
    .bind(s.map(|s| s.sha256.as_str()))
    .execute(&mut **tx)
    .await?;
    if let Some(position) = new.position {
        move_to(tx, product, id, position).await?;
    }
    changed(tx, store, product).await?;
    get(tx, store, by, product, id).await
}

/// Puts an image at a position (1-based, clamped to the end), renumbering the others 1..n.
async fn move_to(tx: &mut Tx, product: ProductId, image: ImageId, position: i32) -> Result<(), sqlx::Error> {
    let mut order: Vec<ImageId> =
        sqlx::query_scalar("SELECT id FROM product_images WHERE product_id = $1 ORDER BY position, id FOR UPDATE")
            .bind(product)
            .fetch_all(&mut **tx)
            .await?;
    order.retain(|i| *i != image);
    let at = (position.max(1) as usize - 1).min(order.len());
    order.insert(at, image);
    sqlx::query(
        "UPDATE product_images i SET position = o.n, updated_at = now()
           FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, n)
          WHERE i.id = o.id AND i.position <> o.n",
    )
    .bind(&order)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A change to an image: its alt text and/or its position.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateImage {
    #[schema(example = "抹茶ラテのパッケージ、正面")]
    pub alt: Option<String>,
    /// 1-based; the others move to make room (past the end means last).
    #[schema(example = 1)]
    pub position: Option<i32>,
}

/// Changes an image's alt text or position. Records `product.updated`.
pub async fn update(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    image: ImageId,
    input: UpdateImage,
) -> Result<ProductImage, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    let mut v = Validator::new();
    let alt = input.alt.as_deref().map(|a| check_alt(&mut v, a));
    if let Some(p) = input.position {
        v.range("position", p, 1, MAX_PER_PRODUCT as i32);
    }
    v.into_result()?;
    crate::product::lock(tx, store, by, product).await?;
    let found = sqlx::query(
        "UPDATE product_images SET alt = coalesce($3, alt), updated_at = now() WHERE id = $1 AND product_id = $2",
    )
    .bind(image)
    .bind(product)
    .bind(alt)
    .execute(&mut **tx)
    .await?;
    if found.rows_affected() == 0 {
        return Err(CatalogError::ImageNotFound);
    }
    if let Some(p) = input.position {
        move_to(tx, product, image, p).await?;
    }
    changed(tx, store, product).await?;
    get(tx, store, by, product, image).await
}

/// Removes an image (a variant showing it shows none); answers the object keys to delete from
/// storage once the transaction has committed. Records `product.updated`.
pub async fn delete(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    image: ImageId,
) -> Result<Vec<String>, CatalogError> {
    by.require(Permission::CatalogWrite)?;
    crate::product::lock(tx, store, by, product).await?;
    let mut keys: Vec<String> =
        sqlx::query_scalar("SELECT object_key FROM product_image_renditions WHERE image_id = $1")
            .bind(image)
            .fetch_all(&mut **tx)
            .await?;
    let original: Option<Option<String>> =
        sqlx::query_scalar("DELETE FROM product_images WHERE id = $1 AND product_id = $2 RETURNING object_key")
            .bind(image)
            .bind(product)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(original) = original else { return Err(CatalogError::ImageNotFound) };
    keys.extend(original);
    let order: Vec<ImageId> =
        sqlx::query_scalar("SELECT id FROM product_images WHERE product_id = $1 ORDER BY position, id")
            .bind(product)
            .fetch_all(&mut **tx)
            .await?;
    if let Some(first) = order.first() {
        move_to(tx, product, *first, 1).await?;
    }
    changed(tx, store, product).await?;
    Ok(keys)
}

/// Checks that `image` is one of `product`'s images (for a variant's `image_id`).
pub(crate) async fn check_belongs(
    tx: &mut Tx,
    product: ProductId,
    image: ImageId,
    field: &str,
) -> Result<(), CatalogError> {
    let found: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM product_images WHERE id = $1 AND product_id = $2)")
            .bind(image)
            .bind(product)
            .fetch_one(&mut **tx)
            .await?;
    if found {
        Ok(())
    } else {
        Err(kernel::ValidationErrors::one(field, "invalid", "not an image of this product").into())
    }
}

async fn changed(tx: &mut Tx, store: StoreId, product: ProductId) -> Result<(), CatalogError> {
    sqlx::query("UPDATE products SET updated_at = now() WHERE id = $1").bind(product).execute(&mut **tx).await?;
    let p = crate::product::load_one(tx, store, product).await?;
    crate::product::record(tx, ProductUpdated, &p).await?;
    Ok(())
}

// ---- the image worker's side (crates/images) ----

/// What the worker must do for a claimed image.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: ImageId,
    pub store_id: StoreId,
    pub product_id: ProductId,
    pub attempts: i32,
    /// Set when the original must be fetched first.
    pub source_url: Option<String>,
    pub object_key: Option<String>,
    pub content_type: Option<String>,
    pub width: Option<i32>,
}

/// Claims up to `limit` due images across tenants with a lease (`tenpo_claim_product_images`).
pub async fn claim(
    platform: &sqlx::PgPool,
    limit: i32,
    lease_secs: i32,
) -> Result<Vec<(ImageId, TenantId)>, sqlx::Error> {
    sqlx::query_as("SELECT id, tenant_id FROM tenpo_claim_product_images($1, $2)")
        .bind(limit)
        .bind(lease_secs)
        .fetch_all(platform)
        .await
}

/// A claimed image's job, while it is still pending.
pub async fn job(tx: &mut Tx, image: ImageId) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, store_id, product_id, attempts, source_url, object_key, content_type, width
           FROM product_images WHERE id = $1 AND status = 'pending'",
    )
    .bind(image)
    .fetch_optional(&mut **tx)
    .await
}

/// Records a fetched original of an imported image.
pub async fn record_original(tx: &mut Tx, image: ImageId, s: &StoredOriginal) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE product_images SET provider = $2, object_key = $3, content_type = $4, width = $5, height = $6,
            size_bytes = $7, sha256 = $8, updated_at = now()
          WHERE id = $1 AND status = 'pending' AND object_key IS NULL",
    )
    .bind(image)
    .bind(&s.provider)
    .bind(&s.key)
    .bind(&s.content_type)
    .bind(s.width)
    .bind(s.height)
    .bind(s.size_bytes)
    .bind(&s.sha256)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A stored rendition, as the worker records it.
#[derive(Debug, Clone)]
pub struct StoredRendition {
    pub width: i32,
    pub height: i32,
    pub key: String,
    pub size_bytes: i64,
}

/// Records an image's renditions (once: a width recorded before is kept) and marks it ready.
/// Records `product.updated`, so caches and the search index see the new URLs.
pub async fn record_renditions(tx: &mut Tx, job: &Job, renditions: &[StoredRendition]) -> Result<(), CatalogError> {
    lock_product(tx, job).await?;
    for r in renditions {
        sqlx::query(
            "INSERT INTO product_image_renditions (tenant_id, image_id, width, height, object_key, size_bytes)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (image_id, width) DO NOTHING",
        )
        .bind(tx.tenant())
        .bind(job.id)
        .bind(r.width)
        .bind(r.height)
        .bind(&r.key)
        .bind(r.size_bytes)
        .execute(&mut **tx)
        .await?;
    }
    let done = sqlx::query(
        "UPDATE product_images SET status = 'ready', locked_until = NULL, last_error = NULL, updated_at = now()
          WHERE id = $1 AND status = 'pending'",
    )
    .bind(job.id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        changed(tx, job.store_id, job.product_id).await?;
    }
    Ok(())
}

/// Locks the image's product before its image row, in the order every staff write on a
/// product's images takes them (`product::lock`, then `product_images`): the other order
/// deadlocks with a staff member reordering the images while the worker records them.
async fn lock_product(tx: &mut Tx, job: &Job) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1 FROM products WHERE id = $1 FOR UPDATE").bind(job.product_id).execute(&mut **tx).await?;
    Ok(())
}

/// Records a failed attempt: tried again after `retry_in`, or, when `give_up`, marked failed.
pub async fn record_failure(
    tx: &mut Tx,
    job: &Job,
    error: &str,
    retry_in: std::time::Duration,
    give_up: bool,
) -> Result<(), CatalogError> {
    let error: String = error.chars().take(1000).collect();
    lock_product(tx, job).await?;
    sqlx::query(
        "UPDATE product_images SET status = CASE WHEN $3 THEN 'failed' ELSE status END, last_error = $2,
            locked_until = NULL, available_at = now() + make_interval(secs => $4), updated_at = now()
          WHERE id = $1 AND status = 'pending'",
    )
    .bind(job.id)
    .bind(error)
    .bind(give_up)
    .bind(retry_in.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    if give_up {
        changed(tx, job.store_id, job.product_id).await?;
    }
    Ok(())
}
