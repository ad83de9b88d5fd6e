use crate::Provider;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What can go wrong storing, describing or signing an object.
///
/// Suggested mapping for the HTTP layer (the digital domain wraps these in its own error):
///
/// | variant | status | suggested code |
/// |---|---|---|
/// | `TooLarge` | 413 | `asset_too_large` |
/// | `Body` | 400 | `upload_interrupted` (the client's body failed mid-stream) |
/// | `InvalidContentType`, `InvalidFilename` | 422 | `validation_failed` |
/// | `NotFound` | 404 (or 410 for a delivery whose file is gone) | `asset_missing` |
/// | `InvalidExpiry`, `ProviderMismatch`, `Config`, `Backend`, `Io` | 500 | internal |
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The stream passed `max_object_bytes`; the upload was aborted and nothing was stored.
    #[error("object is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The body stream given to `put` failed; the upload was aborted and nothing was stored.
    #[error("the upload stream failed: {0}")]
    Body(#[source] BoxError),
    #[error("invalid content type: {0}")]
    InvalidContentType(String),
    #[error("invalid download filename: {0}")]
    InvalidFilename(String),
    /// A URL cannot expire when asked (not after the signing instant, or beyond 7 days on a
    /// cloud).
    #[error("invalid expiry: {0}")]
    InvalidExpiry(String),
    #[error("object not found")]
    NotFound,
    /// A row recorded under one provider cannot be served by a deployment configured for another.
    #[error("object is stored with {recorded:?} but storage is configured for {configured}")]
    ProviderMismatch { recorded: String, configured: Provider },
    #[error("storage configuration: {0}")]
    Config(String),
    #[error("object store: {0}")]
    Backend(#[from] object_store::Error),
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a local download URL is refused. The two cases are distinct so that the route can answer
/// a tampered link (403) differently from an expired one (410).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Missing, malformed, unknown or altered parameters, a bad key, or a signature that does not
    /// match: the link was not issued by this deployment as presented.
    #[error("download link is invalid")]
    Invalid,
    /// The link was genuine but its time is up.
    #[error("download link expired at {expired_at}")]
    Expired { expired_at: chrono::DateTime<chrono::Utc> },
}

impl LinkError {
    /// A stable code for problem+json: `download_link_invalid` or `download_link_expired`.
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::Invalid => "download_link_invalid",
            LinkError::Expired { .. } => "download_link_expired",
        }
    }
    /// 403 for an invalid link, 410 for an expired one.
    pub fn status(&self) -> http::StatusCode {
        match self {
            LinkError::Invalid => http::StatusCode::FORBIDDEN,
            LinkError::Expired { .. } => http::StatusCode::GONE,
        }
    }
}
