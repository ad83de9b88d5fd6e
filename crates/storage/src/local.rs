//! The local backend's half that object_store does not cover: HMAC-signed download URLs that
//! Tenpo serves itself, their verification, and serving the file with HTTP Range support.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures::Stream;
use hmac::{Hmac, Mac};
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::download::{DownloadOptions, content_disposition};
use crate::range::{ByteRange, RangeDecision, if_range_allows};
use crate::settings::Secret;
use crate::{LinkError, ObjectKey, StorageError};

type HmacSha256 = Hmac<Sha256>;

/// Signing, verifying and serving the files of the local backend. Get it from
/// [`Storage::local_files`](crate::Storage::local_files).
///
/// A download URL looks like
/// `/files/t/1/assets/2?expires=1767225600&filename=book.pdf&type=application%2Fpdf&sig=<hex>`:
/// `sig` is HMAC-SHA256, under the configured secret, of the key, `expires` (unix seconds) and
/// the optional `filename` and `type`. The prefix (`/files`) is not signed, so the same link
/// verifies whatever host or mount point serves it.
#[derive(Clone)]
pub struct LocalFiles {
    root: PathBuf,
    secret: Secret,
    url_prefix: String,
}

impl std::fmt::Debug for LocalFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalFiles")
            .field("root", &self.root)
            .field("url_prefix", &self.url_prefix)
            .finish_non_exhaustive()
    }
}

/// A local download link that verified: what to serve, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDownload {
    pub key: ObjectKey,
    pub expires_at: DateTime<Utc>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

impl LocalFiles {
    pub(crate) fn new(root: PathBuf, secret: Secret, url_prefix: String) -> Self {
        LocalFiles { root, secret, url_prefix: url_prefix.trim_end_matches('/').to_string() }
    }

    /// The directory the objects are in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key` (which may not exist).
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    pub(crate) fn sign(&self, key: &ObjectKey, expires: i64, opts: &DownloadOptions) -> String {
        let sig = hex::encode(self.mac(key.as_str(), expires, opts.filename.as_deref(), opts.content_type.as_deref()));
        let mut url = format!("{}/{}?expires={expires}", self.url_prefix, key.as_str());
        if let Some(f) = &opts.filename {
            url.push_str("&filename=");
            url.push_str(&crate::sign::uri_encode(f, false));
        }
        if let Some(t) = &opts.content_type {
            url.push_str("&type=");
            url.push_str(&crate::sign::uri_encode(t, false));
        }
        url.push_str("&sig=");
        url.push_str(&sig);
        url
    }

    fn mac(&self, key: &str, expires: i64, filename: Option<&str>, content_type: Option<&str>) -> Vec<u8> {
        // Each field is length-prefixed, and absent differs from present, so no two different
        // links share a message.
        let mut mac = HmacSha256::new_from_slice(self.secret.expose().as_bytes()).expect("any key length");
        mac.update(b"tenpo-local-download-v1\n");
        let expires = expires.to_string();
        for field in [Some(key), Some(expires.as_str()), filename, content_type] {
            match field {
                Some(v) => mac.update(format!("+{}:{v}\n", v.len()).as_bytes()),
                None => mac.update(b"-\n"),
            }
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks a local download link: `key` is the path after the prefix (as the router
    /// decoded it, e.g. axum's `Path` of `/files/{*key}`), `query` the raw query string
    /// (`uri.query()`). The signature is checked (in constant time) before the expiry, so an
    /// altered `expires` is [`LinkError::Invalid`], not `Expired`.
    pub fn verify(&self, key: &str, query: Option<&str>, now: DateTime<Utc>) -> Result<VerifiedDownload, LinkError> {
        let key = ObjectKey::parse(key.trim_start_matches('/')).map_err(|_| LinkError::Invalid)?;
        let (mut expires, mut filename, mut content_type, mut sig) = (None, None, None, None);
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match name.as_ref() {
                "expires" => &mut expires,
                "filename" => &mut filename,
                "type" => &mut content_type,
                "sig" => &mut sig,
                _ => return Err(LinkError::Invalid),
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(LinkError::Invalid);
            }
        }
        let expires: i64 = expires.and_then(|e| e.parse().ok()).ok_or(LinkError::Invalid)?;
        let sig = sig.and_then(|s| hex::decode(s).ok()).ok_or(LinkError::Invalid)?;

        let expected = self.mac(key.as_str(), expires, filename.as_deref(), content_type.as_deref());
        if sig.len() != expected.len()
            || !bool::from(subtle::ConstantTimeEq::ct_eq(sig.as_slice(), expected.as_slice()))
        {
            return Err(LinkError::Invalid);
        }
        let expires_at = Utc.timestamp_opt(expires, 0).single().ok_or(LinkError::Invalid)?;
        if now.timestamp() >= expires {
            return Err(LinkError::Expired { expired_at: expires_at });
        }
        Ok(VerifiedDownload { key, expires_at, filename, content_type })
    }

    /// Opens the file of a verified link for reading. [`StorageError::NotFound`] when it is gone.
    pub async fn open(&self, download: &VerifiedDownload) -> Result<LocalFile, StorageError> {
        let path = self.path_of(&download.key);
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StorageError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let meta = file.metadata().await?;
        if !meta.is_file() {
            return Err(StorageError::NotFound);
        }
        let modified = meta.modified().ok().map(DateTime::<Utc>::from);
        Ok(LocalFile { file, path, len: meta.len(), modified })
    }

    /// The whole response to a GET of a verified link, honouring `Range` (one byte range; several
    /// are answered with the whole file, as RFC 9110 allows) and `If-Range` from
    /// `request_headers`: 200 with the file, 206 with the range, or 416. Headers: `Content-Type`
    /// (the signed type, else `application/octet-stream`), `Content-Length`, `Accept-Ranges`,
    /// `Content-Range`, `ETag`, `Last-Modified`, `Content-Disposition: attachment` (with the
    /// signed filename), `X-Content-Type-Options: nosniff`, a sandboxing CSP and
    /// `Cache-Control: private, no-store`, so an uploaded file is never rendered as a page of
    /// Tenpo's origin. For HEAD, send the same status and headers without the body.
    pub async fn respond(
        &self,
        download: &VerifiedDownload,
        request_headers: &HeaderMap,
    ) -> Result<LocalResponse, StorageError> {
        let file = self.open(download).await?;
        let etag = file.etag();
        let range_header = request_headers.get(header::RANGE).and_then(|v| v.to_str().ok());
        let if_range = request_headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok());
        let decision = match if_range {
            Some(cond) if !if_range_allows(cond, &etag, file.modified) => RangeDecision::Full,
            _ => RangeDecision::of(range_header, file.len),
        };

        let mut headers = HeaderMap::new();
        let content_type = download.content_type.as_deref().unwrap_or("application/octet-stream");
        headers.insert(header::CONTENT_TYPE, value(content_type));
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        headers.insert(header::ETAG, value(&etag));
        if let Some(m) = file.modified {
            headers.insert(header::LAST_MODIFIED, value(&crate::range::http_date(m)));
        }
        let disposition = match &download.filename {
            Some(f) => content_disposition(f),
            None => "attachment".into(),
        };
        headers.insert(header::CONTENT_DISPOSITION, value(&disposition));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));

        let (status, range) = match decision {
            RangeDecision::Full => (StatusCode::OK, ByteRange { start: 0, end: file.len }),
            RangeDecision::Partial(r) => {
                headers.insert(header::CONTENT_RANGE, value(&format!("bytes {}-{}/{}", r.start, r.end - 1, file.len)));
                (StatusCode::PARTIAL_CONTENT, r)
            }
            RangeDecision::Unsatisfiable => {
                headers.insert(header::CONTENT_RANGE, value(&format!("bytes */{}", file.len)));
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                return Ok(LocalResponse {
                    status: StatusCode::RANGE_NOT_SATISFIABLE,
                    headers,
                    body: FileBody::empty(),
                });
            }
        };
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(range.end - range.start));
        let body = file.read_range(range).await?;
        Ok(LocalResponse { status, headers, body })
    }
}

fn value(s: &str) -> HeaderValue {
    // Every value here is validated ASCII (content type, disposition, dates, numbers).
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// An open object file of the local backend.
#[derive(Debug)]
pub struct LocalFile {
    file: tokio::fs::File,
    path: PathBuf,
    len: u64,
    modified: Option<DateTime<Utc>>,
}

impl LocalFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn modified(&self) -> Option<DateTime<Utc>> {
        self.modified
    }
    /// A strong validator from the file's length and modification time (replacing an object
    /// renames a new file into place, which changes both or at least the time).
    pub fn etag(&self) -> String {
        let nanos = self.modified.map(|m| m.timestamp_nanos_opt().unwrap_or_else(|| m.timestamp())).unwrap_or(0);
        format!("\"{:x}-{:x}\"", self.len, nanos)
    }

    /// The bytes `range.start..range.end` as a stream of chunks (64 KiB), for a response body.
    pub async fn read_range(mut self, range: ByteRange) -> Result<FileBody, StorageError> {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        self.file.seek(SeekFrom::Start(start)).await?;
        Ok(FileBody(Some(ReaderStream::with_capacity(self.file.take(end - start), 64 * 1024))))
    }
}

/// What [`LocalFiles::respond`] answers: status, headers and body; `into_http()` for an
/// `http::Response` (with axum: `.map(axum::body::Body::from_stream)`).
#[derive(Debug)]
pub struct LocalResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: FileBody,
}

impl LocalResponse {
    pub fn into_http(self) -> http::Response<FileBody> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// A response body streaming part of a file (or nothing).
#[derive(Debug)]
pub struct FileBody(Option<ReaderStream<tokio::io::Take<tokio::fs::File>>>);

impl FileBody {
    pub fn empty() -> Self {
        FileBody(None)
    }
}

impl Stream for FileBody {
    type Item = std::io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.0 {
            Some(s) => Pin::new(s).poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}
