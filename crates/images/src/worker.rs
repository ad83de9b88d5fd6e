//! The image worker: makes each pending image's renditions once, in the background.
//!
//! ```text
//! tenpo_claim_product_images(batch, lease)   pending and due, or a dead worker's lease passed
//!   -> per image, in its tenant: the job (still pending?)
//!   -> no original yet (imported)? fetch Image Src (crate::fetch) -> sniff -> store -> record
//!   -> read the original -> per width below its own (200, 600, 1200): resize -> store w<width>
//!   -> one transaction: the renditions (ON CONFLICT DO NOTHING) + status ready + product.updated
//!   failed: retried with backoff (10 s doubling); a file that is not an image, or the last
//!   attempt, marks it failed with the reason
//! ```
//!
//! Exactly once: an image is claimed by one worker at a time (lease), its objects have fixed
//! keys (a retry after a crash rewrites the same objects), and its renditions and status are
//! recorded in one transaction only while it is still pending. A worker killed at any point
//! leaves the image pending; the next claim after the lease finishes it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use catalog::image::{self, Job, StoredRendition};
use db::Db;
use futures::TryStreamExt;
use kernel::{ImageId, TenantId};
use storage::{ObjectKey, Storage};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::pixels::{self, Format};
use crate::upload::{object_key, store_original};
use crate::{ImageError, ImageSettings};

/// Images processed at once by one worker (decoding is CPU-bound).
const BATCH: i32 = 2;

/// What went wrong with one image: worth another attempt, or final.
#[derive(Debug)]
pub(crate) enum Failure {
    Retry(String),
    Permanent(String),
}

impl From<ImageError> for Failure {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::TypeRefused(_) | ImageError::Unreadable(_) | ImageError::DimensionsTooLarge(_) => {
                Failure::Permanent(e.to_string())
            }
            ImageError::TooLarge { .. } => Failure::Permanent(e.to_string()),
            other => Failure::Retry(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Retry(format!("database: {e}"))
    }
}

impl From<catalog::CatalogError> for Failure {
    fn from(e: catalog::CatalogError) -> Self {
        Failure::Retry(e.to_string())
    }
}

#[derive(Clone)]
pub struct ImageWorker {
    db: Db,
    storage: Storage,
    settings: ImageSettings,
    fetcher: crate::fetch::Fetcher,
    wake: Arc<Notify>,
}

impl ImageWorker {
    pub fn new(db: Db, storage: Storage, settings: ImageSettings) -> Result<ImageWorker, String> {
        settings.validate()?;
        let fetcher = crate::fetch::Fetcher::new(&settings)?;
        Ok(ImageWorker { db, storage, settings, fetcher, wake: Arc::new(Notify::new()) })
    }

    /// Wakes the worker before its next poll (after an upload or an import).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Works until `shutdown`; an image in progress then finishes or is left to its lease.
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_ms.max(10));
        tracing::info!("image worker started");
        while !shutdown.is_cancelled() {
            let worked = match self.once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim product images");
                    0
                }
            };
            if worked == 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                }
            }
        }
        tracing::info!("image worker stopped");
    }

    /// Claims and processes one batch; answers how many images it claimed.
    pub async fn once(&self) -> Result<usize, sqlx::Error> {
        let lease = self.settings.lease_secs.min(i32::MAX as u64) as i32;
        let claimed = image::claim(self.db.platform(), BATCH, lease).await?;
        let n = claimed.len();
        let work = claimed.into_iter().map(|(id, tenant)| self.process(tenant, id));
        futures::future::join_all(work).await;
        Ok(n)
    }

    async fn process(&self, tenant: TenantId, id: ImageId) {
        let job = async {
            let mut tx = self.db.begin(tenant).await?;
            let job = image::job(&mut tx, id).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(job)
        };
        let job = match job.await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(image_id = %id, error = %e, "cannot read a claimed image");
                return;
            }
        };
        let outcome = self.renditions(tenant, &job).await;
        let recorded = match outcome {
            Ok(renditions) => {
                metrics::counter!("tenpo_image_renditions_total").increment(renditions.len() as u64);
                async {
                    let mut tx = self.db.begin(tenant).await?;
                    image::record_renditions(&mut tx, &job, &renditions).await?;
                    tx.commit().await?;
                    Ok::<_, catalog::CatalogError>(())
                }
                .await
            }
            Err(failure) => {
                let (why, permanent) = match failure {
                    Failure::Retry(why) => (why, false),
                    Failure::Permanent(why) => (why, true),
                };
                let give_up = permanent || job.attempts >= self.settings.max_attempts;
                let retry_in = Duration::from_secs(10u64 << job.attempts.clamp(0, 8));
                tracing::warn!(image_id = %id, attempts = job.attempts, give_up, error = %why, "product image not processed");
                metrics::counter!("tenpo_image_failures_total").increment(1);
                async {
                    let mut tx = self.db.begin(tenant).await?;
                    image::record_failure(&mut tx, &job, &why, retry_in, give_up).await?;
                    tx.commit().await?;
                    Ok::<_, catalog::CatalogError>(())
                }
                .await
            }
        };
        if let Err(e) = recorded {
            // the lease runs out and another attempt records it
            tracing::warn!(image_id = %id, error = %e, "cannot record a product image's outcome");
        }
    }

    /// The original (fetched first when imported) and its renditions, stored.
    async fn renditions(&self, tenant: TenantId, job: &Job) -> Result<Vec<StoredRendition>, Failure> {
        let (bytes, format, width) = match (&job.object_key, &job.content_type, job.width) {
            (Some(key), Some(ct), Some(width)) => {
                let key = ObjectKey::parse(key.clone()).map_err(|e| Failure::Permanent(e.to_string()))?;
                let format =
                    Format::from_content_type(ct).ok_or_else(|| Failure::Permanent(format!("stored as {ct}")))?;
                let stream = self.storage.get(&key).await.map_err(|e| Failure::Retry(e.to_string()))?;
                let chunks: Vec<Bytes> = stream.try_collect().await.map_err(|e| Failure::Retry(e.to_string()))?;
                (chunks.concat(), format, width as u32)
            }
            _ => {
                let url =
                    job.source_url.clone().ok_or_else(|| Failure::Permanent("no original and no source".into()))?;
                let bytes = self.fetcher.fetch(&url, self.settings.max_bytes).await?;
                let probe = pixels::probe(&bytes).map_err(ImageError::from)?;
                let original = store_original(&self.storage, tenant, job.id, bytes.clone(), probe).await?;
                let mut tx = self.db.begin(tenant).await?;
                image::record_original(&mut tx, job.id, &original).await?;
                tx.commit().await?;
                (bytes, probe.format, probe.width)
            }
        };
        let bytes = Arc::new(bytes);
        let mut out = Vec::new();
        for w in pixels::widths_for(width) {
            let input = bytes.clone();
            let rendered = tokio::task::spawn_blocking(move || pixels::render(&input, w))
                .await
                .map_err(|e| Failure::Retry(format!("resizing stopped: {e}")))?
                .map_err(ImageError::from)?;
            let key = object_key(tenant, job.id, &format!("w{w}"), format);
            let size = rendered.bytes.len() as i64;
            let body = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(rendered.bytes)) });
            self.storage.put(&key, format.content_type(), body).await.map_err(|e| Failure::Retry(e.to_string()))?;
            out.push(StoredRendition {
                width: rendered.width as i32,
                height: rendered.height as i32,
                key: key.as_str().to_string(),
                size_bytes: size,
            });
        }
        Ok(out)
    }
}
