//! Assets: the files digital variants sell.
//!
//! **Upload** ([`upload`]): staff stream a file for a digital variant. The variant is checked
//! first (it must exist in the store and be digital), then the body goes straight to storage
//! under a fresh key `t/<tenant>/assets/<asset id>` with its size limit and SHA-256 taken on
//! the way (nothing is held whole in memory, and no transaction is open while bytes arrive).
//! Then one transaction records the `digital_assets` row (provider, key, filename, content
//! type, size, SHA-256) and points the variant at it.
//!
//! **Replacing** is another upload: a new asset with a new key; the variant points at the new
//! one. Deliveries copy the key when they are created, so buyers before the replacement keep the
//! file they bought and buyers after get the new one. The previous asset is deleted, row and
//! object, only when nothing refers to it any more (no variant, no delivery); otherwise it is
//! kept, for as long as a delivery refers to it. Its foreign keys decide that race: a delivery
//! created concurrently with the deletion makes the deletion fail, and the file stays.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use db::{Db, Tx};
use futures::Stream;
use kernel::access::{Acting, Permission};
use kernel::{AssetId, ProductId, StoreId, TenantId, Validator, VariantId};
use serde::Serialize;
use storage::{ObjectKey, Storage, StoredObject};
use utoipa::ToSchema;

use crate::DigitalError;

/// A stored file, as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Asset {
    pub id: AssetId,
    /// The name the shopper's download is saved as.
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the content, 64 hex digits.
    pub sha256: String,
    /// `local`, `s3` or `gcs`: where the object is.
    pub provider: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, filename, content_type, size_bytes, sha256, provider, created_at";

/// What an upload request says about its file.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The download's file name (any Unicode, 1 to 255 characters, no control characters or
    /// slashes).
    pub filename: String,
    /// The request's `Content-Type`; `application/octet-stream` when absent.
    pub content_type: Option<String>,
    /// The request's `Content-Length`, when sent: a file announced larger than the limit is
    /// refused before any byte is read.
    pub content_length: Option<u64>,
}

/// Checks the upload's description (every bad field at once); answers the content type.
pub fn check_upload(upload: &Upload, max_bytes: u64) -> Result<String, DigitalError> {
    let mut v = Validator::new();
    let name = upload.filename.as_str();
    let chars = name.chars().count();
    if name.trim().is_empty() {
        v.push("filename", "required", "must not be empty");
    } else if chars > 255 {
        v.push("filename", "too_long", "must be at most 255 characters");
    } else if name.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        v.push("filename", "invalid", "must not contain control characters or slashes");
    }
    let content_type = upload.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
    if let Err(e) = storage::validate_content_type(&content_type) {
        v.push("Content-Type", "invalid", e.to_string());
    }
    v.into_result()?;
    if upload.content_length.is_some_and(|n| n > max_bytes) {
        return Err(DigitalError::AssetTooLarge { limit: max_bytes });
    }
    Ok(content_type)
}

/// The key of a new asset's object.
pub fn object_key(tenant: TenantId, asset: AssetId) -> ObjectKey {
    ObjectKey::parse(format!("t/{}/assets/{}", tenant.as_uuid().simple(), asset.as_uuid().simple()))
        .expect("hex digits, letters and slashes make a valid key")
}

async fn digital_variant(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    variant: VariantId,
) -> Result<catalog::variant::Variant, DigitalError> {
    let v = catalog::variant::get_variant(tx, store, by, product, variant).await?;
    if v.fulfillment_type != catalog::variant::FulfillmentType::Digital {
        return Err(DigitalError::VariantNotDigital);
    }
    Ok(v)
}

/// Staff upload (or replace) the file of a digital variant (module docs). Needs
/// `digital_manage`, and `catalog_write` to point the variant at it.
#[allow(clippy::too_many_arguments)]
pub async fn upload<S, E>(
    db: &Db,
    storage: &Storage,
    tenant: TenantId,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    variant: VariantId,
    upload: Upload,
    body: S,
) -> Result<Asset, DigitalError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    by.require(Permission::DigitalManage)?;
    by.require(Permission::CatalogWrite)?;
    let content_type = check_upload(&upload, storage.max_object_bytes())?;
    let mut tx = db.begin(tenant).await?;
    digital_variant(&mut tx, store, by, product, variant).await?;
    tx.commit().await?;

    let id = AssetId::new();
    let key = object_key(tenant, id);
    let stored = storage.put(&key, &content_type, body).await?;
    let recorded = record_upload(db, tenant, store, by, product, variant, id, &upload.filename, &stored).await;
    let (asset, previous) = match recorded {
        Ok(done) => done,
        Err(e) => {
            // nothing refers to the new object: remove it (a crash here leaves only an orphan object)
            if let Err(del) = storage.delete(&key).await {
                tracing::warn!(key = %key, error = %del, "could not remove the object of a failed upload");
            }
            return Err(e);
        }
    };
    if let Some(previous) = previous {
        forget_if_unused(db, storage, tenant, store, previous).await;
    }
    metrics::counter!("tenpo_digital_assets_uploaded_total").increment(1);
    Ok(asset)
}

/// Records an uploaded object as the variant's asset; answers it and the asset it replaced.
#[allow(clippy::too_many_arguments)]
async fn record_upload(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    variant: VariantId,
    id: AssetId,
    filename: &str,
    stored: &StoredObject,
) -> Result<(Asset, Option<AssetId>), DigitalError> {
    let mut tx = db.begin(tenant).await?;
    // the variant again, under the product's lock (the one catalog takes to change a variant,
    // so in the same order): it may have changed while the bytes arrived, and of two uploads for
    // one variant each must see the asset the other replaced
    sqlx::query("SELECT 1 FROM products WHERE id = $1 AND store_id = $2 FOR UPDATE")
        .bind(product)
        .bind(store)
        .execute(&mut *tx)
        .await?;
    let previous = digital_variant(&mut tx, store, by, product, variant).await?.digital_asset_id;
    let asset: Asset = sqlx::query_as(&format!(
        "INSERT INTO digital_assets (id, tenant_id, store_id, provider, object_key, filename, content_type, size_bytes, sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(tenant)
    .bind(store)
    .bind(stored.provider.as_str())
    .bind(stored.key.as_str())
    .bind(filename)
    .bind(&stored.content_type)
    .bind(stored.size as i64)
    .bind(&stored.sha256)
    .fetch_one(&mut *tx)
    .await?;
    let change = catalog::variant::UpdateVariant { digital_asset_id: Some(Some(id)), ..Default::default() };
    catalog::variant::update_variant(&mut tx, store, by, product, variant, change).await?;
    let event = crate::event::AssetUploaded {
        asset_id: id,
        product_id: product,
        variant_id: variant,
        replaced: previous,
        size_bytes: asset.size_bytes,
        sha256: asset.sha256.clone(),
        content_type: asset.content_type.clone(),
    };
    events::record(&mut tx, events::NewEvent::of(&event).in_store(store)).await?;
    tx.commit().await?;
    Ok((asset, previous.filter(|p| *p != id)))
}

/// Deletes a replaced asset, row and object, when no variant and no delivery refers to it any
/// more; keeps it otherwise. Best effort: a failure leaves the file in place, never a delivery
/// without its file.
async fn forget_if_unused(db: &Db, storage: &Storage, tenant: TenantId, store: StoreId, asset: AssetId) {
    let attempt = async {
        let mut tx = db.begin(tenant).await?;
        let key: Option<String> = sqlx::query_scalar(
            "DELETE FROM digital_assets a WHERE a.id = $1 AND a.store_id = $2
                AND NOT EXISTS (SELECT 1 FROM variants v WHERE v.digital_asset_id = a.id)
                AND NOT EXISTS (SELECT 1 FROM digital_deliveries d WHERE d.asset_id = a.id)
             RETURNING a.object_key",
        )
        .bind(asset)
        .bind(store)
        .fetch_optional(&mut *tx)
        .await?;
        if key.is_some() {
            let event = crate::event::AssetDeleted { asset_id: asset };
            events::record(&mut tx, events::NewEvent::of(&event).in_store(store)).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(key)
    };
    match attempt.await {
        Ok(Some(key)) => match ObjectKey::parse(key) {
            Ok(key) => {
                if let Err(e) = storage.delete(&key).await {
                    tracing::warn!(asset_id = %asset, error = %e, "replaced asset's object could not be deleted");
                }
            }
            Err(e) => tracing::warn!(asset_id = %asset, error = %e, "replaced asset had an invalid key"),
        },
        Ok(None) => tracing::debug!(asset_id = %asset, "replaced asset is still referred to; kept"),
        // a delivery created at the same moment refers to it (foreign key): kept
        Err(e) if db::is_foreign_key_violation(&e) => tracing::debug!(asset_id = %asset, "replaced asset kept"),
        Err(e) => tracing::warn!(asset_id = %asset, error = %e, "could not check a replaced asset; kept"),
    }
}

/// An asset of this store. A vendor's staff see the files of their vendor's products (those a
/// variant sells, or a delivery of one of their lines refers to).
pub async fn get_asset(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: AssetId) -> Result<Asset, DigitalError> {
    by.require(Permission::CatalogRead)?;
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM digital_assets a WHERE id = $1 AND store_id = $2
            AND ($3::uuid IS NULL
                 OR EXISTS (SELECT 1 FROM variants v JOIN products p ON p.id = v.product_id
                             WHERE v.digital_asset_id = a.id AND p.vendor_id = $3)
                 OR EXISTS (SELECT 1 FROM digital_deliveries d JOIN order_items oi ON oi.id = d.order_item_id
                             WHERE d.asset_id = a.id AND oi.vendor_id = $3))"
    ))
    .bind(id)
    .bind(store)
    .bind(by.vendor())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DigitalError::AssetNotFound)
}

/// The asset a digital variant sells (404 `asset_not_found` until one is uploaded).
pub async fn variant_asset(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    variant: VariantId,
) -> Result<Asset, DigitalError> {
    let v = catalog::variant::get_variant(tx, store, by, product, variant).await?;
    let id = v.digital_asset_id.ok_or(DigitalError::AssetNotFound)?;
    get_asset(tx, store, by, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(filename: &str, ct: Option<&str>, len: Option<u64>) -> Upload {
        Upload { filename: filename.into(), content_type: ct.map(str::to_string), content_length: len }
    }

    #[test]
    fn an_upload_names_its_file_and_type() {
        assert_eq!(
            check_upload(&upload("抹茶の淹れ方.pdf", Some("application/pdf"), Some(10)), 100).unwrap(),
            "application/pdf"
        );
        assert_eq!(check_upload(&upload("a.bin", None, None), 100).unwrap(), "application/octet-stream");
        let fields = |u: Upload| match check_upload(&u, 100) {
            Err(DigitalError::Validation(e)) => e.0.into_iter().map(|f| f.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(fields(upload(" ", Some("pdf"), None)), ["filename", "Content-Type"]);
        assert_eq!(fields(upload("../etc/passwd", None, None)), ["filename"]);
        assert_eq!(fields(upload(&"a".repeat(256), None, None)), ["filename"]);
        assert!(matches!(
            check_upload(&upload("a", None, Some(101)), 100),
            Err(DigitalError::AssetTooLarge { limit: 100 })
        ));
    }

    #[test]
    fn keys_are_valid_and_per_asset() {
        let (t, a) = (TenantId::new(), AssetId::new());
        let k = object_key(t, a);
        assert!(k.as_str().starts_with("t/") && k.as_str().contains("/assets/"));
        assert_ne!(k, object_key(t, AssetId::new()));
    }
}
