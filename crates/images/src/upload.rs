//! Staff upload an image of a product: the body is read up to the limit, its type decided
//! from its content ([`crate::pixels::probe`]: JPEG, PNG or WebP; an SVG, a program or anything
//! else is refused whatever its name or `Content-Type` say), stored as the original under a
//! fresh key, then recorded; the worker makes its renditions.

use bytes::Bytes;
use catalog::image::{self, NewImage, ProductImage, Source, StoredOriginal};
use db::Db;
use futures::{Stream, StreamExt};
use kernel::access::Acting;
use kernel::{ImageId, ProductId, StoreId, TenantId};
use storage::{ObjectKey, Storage};

use crate::ImageError;
use crate::pixels::{self, Format};

/// What an upload request says besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub alt: String,
    pub position: Option<i32>,
    /// The request's `Content-Length`, when sent: a file announced larger than the limit is
    /// refused before any byte is read.
    pub content_length: Option<u64>,
}

/// The key of an image's original or of its rendition `w<width>`.
pub fn object_key(tenant: TenantId, image: ImageId, name: &str, format: Format) -> ObjectKey {
    ObjectKey::parse(format!(
        "t/{}/images/{}/{name}.{}",
        tenant.as_uuid().simple(),
        image.as_uuid().simple(),
        format.extension()
    ))
    .expect("hex digits, letters, dots and slashes make a valid key")
}

/// Whether a key names an image object (the only objects `/media/...` serves).
pub fn is_image_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    parts.len() == 5 && parts[0] == "t" && parts[2] == "images" && ObjectKey::parse(key).is_ok()
}

/// Reads a body into memory, refusing it past `limit` bytes.
pub async fn read_limited<S, E>(body: S, limit: u64) -> Result<Vec<u8>, ImageError>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| ImageError::UploadInterrupted)?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(ImageError::TooLarge { limit });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Stores checked image bytes as an image's original.
pub async fn store_original(
    storage: &Storage,
    tenant: TenantId,
    image: ImageId,
    bytes: Vec<u8>,
    probe: pixels::Probe,
) -> Result<StoredOriginal, ImageError> {
    let key = object_key(tenant, image, "original", probe.format);
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(bytes)) });
    let stored = storage.put(&key, probe.format.content_type(), body).await?;
    Ok(StoredOriginal {
        provider: stored.provider.as_str().to_string(),
        key: stored.key.as_str().to_string(),
        content_type: stored.content_type,
        width: probe.width as i32,
        height: probe.height as i32,
        size_bytes: stored.size as i64,
        sha256: stored.sha256,
    })
}

/// Staff upload an image of a product (module docs). Needs `catalog_write`.
#[allow(clippy::too_many_arguments)]
pub async fn upload<S, E>(
    db: &Db,
    storage: &Storage,
    max_bytes: u64,
    tenant: TenantId,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    upload: Upload,
    body: S,
) -> Result<ProductImage, ImageError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
{
    let limit = max_bytes.min(storage.max_object_bytes());
    let new = NewImage { alt: upload.alt, position: upload.position };
    let mut tx = db.begin(tenant).await?;
    image::check_new(&mut tx, store, by, product, &new).await?;
    tx.commit().await?;
    if upload.content_length.is_some_and(|n| n > limit) {
        return Err(ImageError::TooLarge { limit });
    }
    let bytes = read_limited(body, limit).await?;
    let probe = pixels::probe(&bytes)?;

    let id = ImageId::new();
    let stored = store_original(storage, tenant, id, bytes, probe).await?;
    let recorded = async {
        let mut tx = db.begin(tenant).await?;
        let img = image::add(&mut tx, store, by, product, id, new, Source::Stored(stored.clone())).await?;
        tx.commit().await?;
        Ok::<_, ImageError>(img)
    }
    .await;
    match recorded {
        Ok(img) => {
            metrics::counter!("tenpo_images_uploaded_total").increment(1);
            Ok(img)
        }
        Err(e) => {
            // nothing refers to the new object: remove it (a crash here leaves only an orphan)
            if let Ok(key) = ObjectKey::parse(stored.key)
                && let Err(del) = storage.delete(&key).await
            {
                tracing::warn!(key = %key, error = %del, "could not remove the object of a failed image upload");
            }
            Err(e)
        }
    }
}

/// Deletes an image and then its objects (best effort: a failure leaves orphan objects).
pub async fn delete(
    db: &Db,
    storage: Option<&Storage>,
    tenant: TenantId,
    store: StoreId,
    by: Acting<'_>,
    product: ProductId,
    image: ImageId,
) -> Result<(), ImageError> {
    let mut tx = db.begin(tenant).await?;
    let keys = image::delete(&mut tx, store, by, product, image).await?;
    tx.commit().await?;
    if let Some(storage) = storage {
        for key in keys.into_iter().filter_map(|k| ObjectKey::parse(k).ok()) {
            if let Err(e) = storage.delete(&key).await {
                tracing::warn!(key = %key, error = %e, "could not delete an image object");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_keys_are_the_only_media() {
        let key = object_key(TenantId::new(), ImageId::new(), "w200", Format::Webp);
        assert!(is_image_key(key.as_str()), "{key}");
        for other in ["t/abc/assets/def", "t/abc/images/def", "x/abc/images/def/original.jpg", "t/a/images/../x.jpg"] {
            assert!(!is_image_key(other), "{other}");
        }
    }
}
