//! [`Storage`]: the one type the rest of Tenpo uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::{Attribute, Attributes, GetOptions, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::download::{DownloadOptions, SignedUrl, content_disposition, validate_content_type};
use crate::local::LocalFiles;
use crate::settings::{GcsSettings, S3Settings, Secret};
use crate::sign::{GcsSigner, MAX_EXPIRES_SECS, S3Presigner};
use crate::{ObjectKey, Provider, StorageError, StorageSettings};

/// Object storage as configured for this deployment. Cheap to clone (an `Arc` inside).
#[derive(Clone, Debug)]
pub struct Storage {
    inner: Arc<Inner>,
    part_size: usize,
}

struct Inner {
    provider: Provider,
    store: Arc<dyn ObjectStore>,
    signer: UrlSigner,
    max_object_bytes: u64,
    download_url_ttl_secs: u64,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("provider", &self.provider)
            .field("store", &self.store.to_string())
            .field("signer", &self.signer)
            .field("max_object_bytes", &self.max_object_bytes)
            .field("download_url_ttl_secs", &self.download_url_ttl_secs)
            .finish()
    }
}

#[derive(Debug)]
enum UrlSigner {
    Local(LocalFiles),
    S3(S3Presigner),
    Gcs { signer: GcsSigner, bucket: String },
}

/// What [`Storage::put`] stored: the values a `digital_assets` row records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub provider: Provider,
    pub key: ObjectKey,
    pub size: u64,
    /// SHA-256 of the content, 64 lower-case hex digits.
    pub sha256: String,
    pub content_type: String,
}

/// What [`Storage::head`] knows of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub e_tag: Option<String>,
    /// As stored with the object (S3, GCS); `None` on the local backend, which keeps only bytes.
    pub content_type: Option<String>,
}

/// Multipart part size: S3 wants at least 5 MiB per part but the last; at most
/// `PUT_CONCURRENCY` parts are in flight, so an upload holds about 16-24 MiB of memory at most.
const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
const PUT_CONCURRENCY: usize = 2;

impl Storage {
    /// Builds the configured backend. `data_dir` is Tenpo's data directory: the local backend
    /// defaults to `<data_dir>/objects` and keeps a generated signing key in
    /// `<data_dir>/storage-signing.key` when none is configured. Secrets named by
    /// `*_env` settings are read from the process environment.
    ///
    /// Nothing is contacted over the network here; a wrong bucket or credentials show at the
    /// first transfer.
    pub fn from_settings(settings: &StorageSettings, data_dir: &Path) -> Result<Storage, StorageError> {
        Self::from_settings_with_env(settings, data_dir, |name| std::env::var(name).ok())
    }

    /// As [`Storage::from_settings`], reading the variables named by `*_env` settings through
    /// `env` (for tests, or a binary with its own environment handling).
    pub fn from_settings_with_env(
        settings: &StorageSettings,
        data_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Storage, StorageError> {
        if !(1..=MAX_EXPIRES_SECS).contains(&settings.download_url_ttl_secs) {
            return Err(StorageError::Config(format!("download_url_ttl_secs must be 1 to {MAX_EXPIRES_SECS}")));
        }
        if settings.max_object_bytes == 0 {
            return Err(StorageError::Config("max_object_bytes must be positive".into()));
        }
        let (store, signer) = match settings.provider {
            Provider::Local => build_local(settings, data_dir)?,
            Provider::S3 => {
                let s3 = settings
                    .s3
                    .as_ref()
                    .ok_or_else(|| StorageError::Config("provider is s3 but there is no [storage.s3] table".into()))?;
                build_s3(s3, &env)?
            }
            Provider::Gcs => {
                let gcs = settings.gcs.as_ref().ok_or_else(|| {
                    StorageError::Config("provider is gcs but there is no [storage.gcs] table".into())
                })?;
                build_gcs(gcs)?
            }
        };
        Ok(Storage {
            inner: Arc::new(Inner {
                provider: settings.provider,
                store,
                signer,
                max_object_bytes: settings.max_object_bytes,
                download_url_ttl_secs: settings.download_url_ttl_secs,
            }),
            part_size: DEFAULT_PART_SIZE,
        })
    }

    /// Uses `bytes`-sized parts for multipart uploads instead of 8 MiB (S3 needs at least 5 MiB).
    /// Objects smaller than a part are sent in a single request.
    pub fn with_part_size(mut self, bytes: usize) -> Storage {
        self.part_size = bytes.max(1);
        self
    }

    /// The provider every object of this deployment is stored with (the `provider` column).
    pub fn provider(&self) -> Provider {
        self.inner.provider
    }

    /// The largest object [`Storage::put`] accepts.
    pub fn max_object_bytes(&self) -> u64 {
        self.inner.max_object_bytes
    }

    /// How long a download URL lives unless its delivery expires sooner.
    pub fn download_url_ttl(&self) -> Duration {
        Duration::from_secs(self.inner.download_url_ttl_secs)
    }

    /// The local backend's link verifier and file server; `None` for S3 and GCS.
    pub fn local_files(&self) -> Option<&LocalFiles> {
        match &self.inner.signer {
            UrlSigner::Local(files) => Some(files),
            _ => None,
        }
    }

    /// Refuses a row recorded under another provider than the configured one (its object is
    /// not where this deployment looks).
    pub fn check_provider(&self, recorded: &str) -> Result<(), StorageError> {
        if recorded == self.provider().as_str() {
            Ok(())
        } else {
            Err(StorageError::ProviderMismatch { recorded: recorded.to_string(), configured: self.provider() })
        }
    }

    /// Stores the bytes of `body` under `key`, replacing any object there.
    ///
    /// The body is streamed: at most one part (8 MiB) per in-flight request is held in memory,
    /// objects under one part go up in one request, larger ones as a multipart upload. Size and
    /// SHA-256 are computed on the way. When the stream passes
    /// [`max_object_bytes`](Storage::max_object_bytes) ([`StorageError::TooLarge`]) or fails
    /// ([`StorageError::Body`]), the upload is aborted, nothing is stored under `key`, and an
    /// object already there is left as it was.
    ///
    /// `content_type` (such as `application/pdf`) is validated, stored with the object on S3 and
    /// GCS, and returned for the caller to record.
    pub async fn put<S, E>(&self, key: &ObjectKey, content_type: &str, body: S) -> Result<StoredObject, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        validate_content_type(content_type)?;
        let inner = &self.inner;
        let mut writer = BufWriter::with_capacity(Arc::clone(&inner.store), key.to_path(), self.part_size)
            .with_max_concurrency(PUT_CONCURRENCY);
        if inner.provider != Provider::Local {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.to_string().into());
            writer = writer.with_attributes(attributes);
        }

        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut body = std::pin::pin!(body);
        let streamed: Result<(), StorageError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| StorageError::Body(e.into()))?;
                size += chunk.len() as u64;
                if size > inner.max_object_bytes {
                    return Err(StorageError::TooLarge { limit: inner.max_object_bytes });
                }
                hasher.update(&chunk);
                writer.put(chunk).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            // Nothing was completed: drop the buffer, or abort the multipart upload and its parts.
            if let Err(abort) = writer.abort().await {
                tracing::warn!(key = %key, error = %abort, "could not abort a failed upload");
            }
            return Err(e);
        }
        // Completes the single put or the multipart upload; on failure object_store has
        // already given up on it (the local backend removes its staging file).
        writer.shutdown().await.map_err(|e| match e.downcast::<object_store::Error>() {
            Ok(e) => StorageError::Backend(e),
            Err(e) => StorageError::Io(e),
        })?;

        let stored = StoredObject {
            provider: inner.provider,
            key: key.clone(),
            size,
            sha256: hex::encode(hasher.finalize()),
            content_type: content_type.to_string(),
        };
        tracing::debug!(provider = %stored.provider, key = %key, size, "stored object");
        Ok(stored)
    }

    /// Size and metadata of the object at `key`, or `None` when there is none.
    pub async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>, StorageError> {
        let options = GetOptions::default().with_head(true);
        match self.inner.store.get_opts(&key.to_path(), options).await {
            Ok(result) => Ok(Some(ObjectInfo {
                size: result.meta.size,
                last_modified: result.meta.last_modified,
                e_tag: result.meta.e_tag.clone(),
                content_type: result.attributes.get(&Attribute::ContentType).map(|v| v.to_string()),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The object's bytes as a stream ([`StorageError::NotFound`] when there is none). Shoppers
    /// get files through signed URLs; this is for Tenpo's own use (checks, exports).
    pub async fn get(&self, key: &ObjectKey) -> Result<BoxStream<'static, Result<Bytes, StorageError>>, StorageError> {
        match self.inner.store.get(&key.to_path()).await {
            Ok(result) => Ok(result.into_stream().map_err(StorageError::from).boxed()),
            Err(object_store::Error::NotFound { .. }) => Err(StorageError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the object at `key`; deleting what is not there succeeds.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self.inner.store.delete(&key.to_path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// When a download URL signed at `now` should expire: after the configured TTL, but never
    /// after `not_after` (the delivery's `url_expires_at`, when it has one).
    pub fn download_expiry(&self, now: DateTime<Utc>, not_after: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let ttl = now + chrono::Duration::seconds(self.inner.download_url_ttl_secs as i64);
        match not_after {
            Some(limit) if limit < ttl => limit,
            _ => ttl,
        }
    }

    /// [`Storage::download_url_at`] signed now.
    pub fn download_url(
        &self,
        key: &ObjectKey,
        expires_at: DateTime<Utc>,
        opts: &DownloadOptions,
    ) -> Result<SignedUrl, StorageError> {
        self.download_url_at(key, Utc::now(), expires_at, opts)
    }

    /// A URL that downloads `key` until `expires_at`, signed as of `now`: presigned by S3 or GCS,
    /// or an HMAC link to Tenpo's own file route for local storage. The URL works for whole
    /// seconds, so the returned [`SignedUrl::expires_at`] is at or before `expires_at` (and at
    /// most 7 days after `now` on the clouds). `expires_at` must be at least a second after `now`.
    ///
    /// The optional filename and content type become the response's `Content-Disposition:
    /// attachment` and `Content-Type`, signed into the URL.
    pub fn download_url_at(
        &self,
        key: &ObjectKey,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        opts: &DownloadOptions,
    ) -> Result<SignedUrl, StorageError> {
        opts.validate()?;
        let secs = (expires_at - now).num_seconds();
        if secs < 1 {
            return Err(StorageError::InvalidExpiry(format!("a URL signed at {now} cannot expire at {expires_at}")));
        }
        let secs = secs as u64;
        let signed_at = now.timestamp();

        let mut response: Vec<(&str, String)> = Vec::new();
        if let Some(f) = &opts.filename {
            response.push(("response-content-disposition", content_disposition(f)));
        }
        if let Some(t) = &opts.content_type {
            response.push(("response-content-type", t.clone()));
        }
        let response: Vec<(&str, &str)> = response.iter().map(|(k, v)| (*k, v.as_str())).collect();

        let (url, secs) = match &self.inner.signer {
            UrlSigner::Local(files) => (files.sign(key, signed_at + secs as i64, opts), secs),
            UrlSigner::S3(signer) => {
                let secs = secs.min(MAX_EXPIRES_SECS);
                (signer.presign_get(key.as_str(), &response, now, secs)?, secs)
            }
            UrlSigner::Gcs { signer, bucket } => {
                let secs = secs.min(MAX_EXPIRES_SECS);
                (signer.presign_get(bucket, key.as_str(), &response, now, secs)?, secs)
            }
        };
        let expires_at = DateTime::from_timestamp(signed_at + secs as i64, 0)
            .ok_or_else(|| StorageError::InvalidExpiry("out of range".into()))?;
        Ok(SignedUrl { url, expires_at })
    }
}

fn build_local(settings: &StorageSettings, data_dir: &Path) -> Result<(Arc<dyn ObjectStore>, UrlSigner), StorageError> {
    let dir = settings.local.dir.clone().unwrap_or_else(|| data_dir.join("objects"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| StorageError::Config(format!("cannot create the objects directory {}: {e}", dir.display())))?;
    let dir = std::fs::canonicalize(&dir)?;
    let secret = match &settings.local.signing_secret {
        Some(secret) if secret.expose().len() < 32 => {
            return Err(StorageError::Config("local.signing_secret must be at least 32 characters".into()));
        }
        Some(secret) => secret.clone(),
        None => load_or_create_key(&data_dir.join("storage-signing.key"))?,
    };
    let store = LocalFileSystem::new_with_prefix(&dir)?.with_automatic_cleanup(true).with_fsync(true);
    let prefix = settings.local.url_prefix.clone();
    Ok((Arc::new(store), UrlSigner::Local(LocalFiles::new(dir, secret, prefix))))
}

/// Reads the generated local signing key, or creates it (64 hex digits, mode 0600). Creation is
/// atomic (write a temporary file, hard-link it into place), so concurrent first starts agree.
fn load_or_create_key(path: &Path) -> Result<Secret, StorageError> {
    let read = |path: &Path| -> Result<Secret, StorageError> {
        let key = std::fs::read_to_string(path)?.trim().to_string();
        if key.len() < 32 {
            return Err(StorageError::Config(format!("{} holds no usable key", path.display())));
        }
        Ok(Secret::new(key))
    };
    match read(path) {
        Err(StorageError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => return other,
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| StorageError::Config("no system randomness for a signing key".into()))?;
    let tmp = PathBuf::from(format!("{}.{}.tmp", path.display(), hex::encode(&bytes[..4])));
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(hex::encode(bytes).as_bytes())?;
        file.sync_all()?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    read(path)
}

/// Installs ring as the process's default rustls crypto provider, unless one is installed.
///
/// object_store's HTTP client (reqwest 0.13) is built with rustls but without a bundled provider,
/// so that aws-lc-sys is not compiled; such a client panics when it is built with no provider
/// installed. [`Storage::from_settings`] calls this before building an S3 or GCS store; call it
/// yourself before building any other reqwest 0.13 client in a process that links this crate.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn build_s3(
    s: &S3Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Arc<dyn ObjectStore>, UrlSigner), StorageError> {
    if s.bucket.is_empty() || s.access_key_id.is_empty() || s.region.is_empty() {
        return Err(StorageError::Config("s3 needs bucket, region and access_key_id".into()));
    }
    let secret = env(&s.secret_access_key_env).filter(|v| !v.is_empty()).ok_or_else(|| {
        StorageError::Config(format!(
            "environment variable {} (the S3 secret access key) is not set",
            s.secret_access_key_env
        ))
    })?;
    let token = match &s.session_token_env {
        Some(name) => Some(env(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            StorageError::Config(format!("environment variable {name} (the S3 session token) is not set"))
        })?),
        None => None,
    };

    let (bucket, region) = (&s.bucket, &s.region);
    // Where the bucket's objects are: the presigner signs for it, and object_store is given the
    // same endpoint so both agree.
    let (endpoint, bucket_url) = match &s.endpoint {
        Some(endpoint) => {
            let url = url::Url::parse(endpoint)
                .map_err(|e| StorageError::Config(format!("s3.endpoint {endpoint:?}: {e}")))?;
            let host = crate::sign::host_header(&url)
                .filter(|_| matches!(url.scheme(), "http" | "https") && url.path() == "/" && url.query().is_none())
                .ok_or_else(|| {
                    StorageError::Config(format!("s3.endpoint {endpoint:?} must be http(s)://host[:port]"))
                })?;
            if s.path_style {
                let origin = format!("{}://{host}", url.scheme());
                (origin.clone(), format!("{origin}/{bucket}"))
            } else {
                let bucket_origin = format!("{}://{bucket}.{host}", url.scheme());
                (bucket_origin.clone(), bucket_origin)
            }
        }
        None if s.path_style => {
            let origin = format!("https://s3.{region}.amazonaws.com");
            (origin.clone(), format!("{origin}/{bucket}"))
        }
        None => {
            let bucket_origin = format!("https://{bucket}.s3.{region}.amazonaws.com");
            (bucket_origin.clone(), bucket_origin)
        }
    };
    let presigner = S3Presigner::new(&bucket_url, region, &s.access_key_id, &secret, token.as_deref())?;

    install_tls_provider();
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_endpoint(&endpoint)
        .with_virtual_hosted_style_request(!s.path_style)
        .with_allow_http(endpoint.starts_with("http://"))
        .with_access_key_id(&s.access_key_id)
        .with_secret_access_key(secret);
    if let Some(token) = token {
        builder = builder.with_token(token);
    }
    let store = builder.build()?;
    Ok((Arc::new(store), UrlSigner::S3(presigner)))
}

fn build_gcs(g: &GcsSettings) -> Result<(Arc<dyn ObjectStore>, UrlSigner), StorageError> {
    if g.bucket.is_empty() {
        return Err(StorageError::Config("gcs needs a bucket".into()));
    }
    let json = std::fs::read_to_string(&g.credentials_file).map_err(|e| {
        StorageError::Config(format!("cannot read gcs.credentials_file {}: {e}", g.credentials_file.display()))
    })?;
    let signer = GcsSigner::from_service_account_json(&json)?;
    install_tls_provider();
    let store = GoogleCloudStorageBuilder::new().with_bucket_name(&g.bucket).with_service_account_key(json).build()?;
    Ok((Arc::new(store), UrlSigner::Gcs { signer, bucket: g.bucket.clone() }))
}
