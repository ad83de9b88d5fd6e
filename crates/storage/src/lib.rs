//! Object storage for Tenpo's digital goods.
//!
//! One type, [`Storage`], over three backends chosen by configuration ([`StorageSettings`]):
//! the local filesystem (the default, under `<data dir>/objects`), S3 or an S3-compatible
//! service, and Google Cloud Storage. Transfers go through the `object_store` crate; download
//! URLs are signed here, with the clock as a parameter: SigV4 query presigning for S3, V4
//! `GOOG4-RSA-SHA256` for GCS, and an HMAC-SHA256 link that Tenpo serves itself for local files.
//!
//! # Using it
//!
//! Build one [`Storage`] at start-up and keep it in the application state (it is cheap to clone):
//!
//! ```no_run
//! # async fn f(settings: tenpo_storage::StorageSettings) -> Result<(), tenpo_storage::StorageError> {
//! let storage = tenpo_storage::Storage::from_settings(&settings, std::path::Path::new(".tenpo"))?;
//! # Ok(()) }
//! ```
//!
//! **Uploading an asset** (staff, `PUT /admin/v1/.../asset`): stream the request body straight in.
//! The size limit, SHA-256 and size are handled while streaming; on any failure nothing is left
//! behind. Record the returned [`StoredObject`] (`provider`, `key`, `size`, `sha256`,
//! `content_type`) in `digital_assets`.
//!
//! ```ignore
//! async fn upload(State(app): State<AppState>, headers: HeaderMap, body: axum::body::Body) -> ... {
//!     let key = ObjectKey::parse(format!("t/{tenant}/assets/{asset_id}/{upload_id}"))?;
//!     let stored = app.storage.put(&key, content_type, body.into_data_stream()).await?;
//!     // INSERT INTO digital_assets (provider, object_key, size_bytes, sha256, content_type, ...)
//!     //   VALUES (stored.provider.as_str(), stored.key.as_str(), stored.size, stored.sha256, ...)
//! }
//! ```
//!
//! The upload route must lift the router's body limit and timeout for itself:
//! `DefaultBodyLimit::max(storage.max_object_bytes() as usize)` on that route (the global
//! `http.max_body_bytes` is 1 MiB) and a longer timeout than `http.request_timeout_secs`. A
//! `Content-Length` above [`Storage::max_object_bytes`] can be refused with 413 before reading.
//!
//! **Replacing** an asset is a `put` to a key. `put` to an existing key replaces it atomically
//! (readers see the old or the new object, never a mix; a failed replacement leaves the old one).
//! Deliveries copy `object_key` when they are created, so to keep links of earlier buyers
//! pointing at the file they bought, prefer a fresh key per upload (as above) and
//! [`Storage::delete`] the old object once nothing refers to it.
//!
//! **Downloading** (shopper, after the delivery's count was taken in one statement): sign a URL
//! and redirect (303) to it. The lifetime is the configured short TTL, never past the
//! delivery's own expiry:
//!
//! ```ignore
//! storage.check_provider(&delivery.provider)?;
//! let now = Utc::now();
//! let expires_at = storage.download_expiry(now, delivery.url_expires_at);
//! let opts = DownloadOptions::new().filename(asset.filename).content_type(asset.content_type);
//! let signed = storage.download_url_at(&key, now, expires_at, &opts)?;
//! Ok(Redirect::to(&signed.url))
//! ```
//!
//! **Serving local files**: with the local provider the URL points back at Tenpo
//! (`/files/<key>?expires=..&sig=..`; prefix from `local.url_prefix`). Its route verifies the
//! link, then answers with [`LocalFiles::respond`], which handles `Range`/`If-Range`:
//!
//! ```ignore
//! // .route("/files/{*key}", get(serve_file))   -- no auth: the signature is the authorisation
//! async fn serve_file(State(app): State<AppState>, Path(key): Path<String>, uri: Uri, headers: HeaderMap)
//!     -> Result<Response, ApiError>
//! {
//!     let files = app.storage.local_files().ok_or(ApiError::not_found())?;
//!     let download = files.verify(&key, uri.query(), Utc::now())?;   // LinkError: 403 / 410
//!     let response = files.respond(&download, &headers).await?;       // 200 / 206 / 416
//!     Ok(response.into_http().map(axum::body::Body::from_stream))
//! }
//! ```
//!
//! (`tower_http::services::ServeFile::new(files.path_of(&download.key))` also works after
//! `verify`, but then the content type comes from the file name and the disposition and
//! security headers must be added by hand.) The route's path and query must not be logged in
//! full: the query is a bearer credential until it expires.
//!
//! # Consistency notes
//!
//! * `put` returns only after the object is complete and visible; the caller records the row
//!   afterwards. A crash between the two leaves an unreferenced object, never a row without one.
//! * On S3 a large upload that fails at its very last step (completing the multipart upload)
//!   can leave uploaded parts behind; a bucket lifecycle rule that aborts incomplete multipart
//!   uploads after a day cleans them up.

mod download;
mod error;
mod key;
pub mod local;
pub mod range;
mod settings;
pub mod sign;
mod store;
pub mod testing;

pub use download::{DownloadOptions, SignedUrl, content_disposition, validate_content_type};
pub use error::{LinkError, StorageError};
pub use key::{InvalidKey, ObjectKey};
pub use local::{LocalFiles, LocalResponse, VerifiedDownload};
pub use settings::{GcsSettings, LocalSettings, Provider, S3Settings, Secret, StorageSettings};
pub use store::{ObjectInfo, Storage, StoredObject, install_tls_provider};
