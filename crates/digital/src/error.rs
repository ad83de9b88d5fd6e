use chrono::{DateTime, Utc};
use kernel::access::PermissionDenied;
use kernel::{FieldError, Problem, ValidationErrors};
use storage::StorageError;

/// Everything the digital domain refuses, each with a stable code (docs/ERRORS.md).
#[derive(Debug, thiserror::Error)]
pub enum DigitalError {
    #[error("no such order")]
    OrderNotFound,
    #[error("no such download in this order")]
    DeliveryNotFound,
    #[error("no such digital asset")]
    AssetNotFound,
    #[error("this variant is shipped, not downloaded; only digital variants have a file")]
    VariantNotDigital,
    #[error("the file is larger than the limit of {limit} bytes")]
    AssetTooLarge { limit: u64 },
    #[error("the upload ended before the whole file arrived")]
    UploadInterrupted,
    /// 410: the delivery's download period is over.
    #[error("the download period ended at {0}")]
    DownloadExpired(DateTime<Utc>),
    /// 410: staff revoked the delivery.
    #[error("the store revoked this download")]
    DownloadRevoked,
    /// 410: every allowed download has been used.
    #[error("all {0} downloads of this purchase have been used")]
    DownloadLimitReached(i32),
    #[error("this download was revoked and can no longer be changed")]
    DeliveryRevoked,
    #[error("the order is not paid, so nothing can be delivered yet")]
    OrderNotPaid,
    #[error("the order is canceled")]
    OrderCanceled,
    /// The delivery's file is no longer in storage.
    #[error("the file of this download is missing from storage")]
    FileMissing,
    #[error("file storage is not configured in this process")]
    StorageUnavailable,
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] PermissionDenied),
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    /// The order token and Idempotency-Key rules are checkout's.
    #[error(transparent)]
    Checkout(#[from] checkout::CheckoutError),
    #[error("storage: {0}")]
    Storage(#[source] StorageError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<StorageError> for DigitalError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::TooLarge { limit } => DigitalError::AssetTooLarge { limit },
            StorageError::Body(_) => DigitalError::UploadInterrupted,
            StorageError::NotFound => DigitalError::FileMissing,
            StorageError::InvalidContentType(m) => ValidationErrors::one("Content-Type", "invalid", m).into(),
            StorageError::InvalidFilename(m) => ValidationErrors::one("filename", "invalid", m).into(),
            other => DigitalError::Storage(other),
        }
    }
}

impl Problem for DigitalError {
    fn status(&self) -> u16 {
        use DigitalError::*;
        match self {
            OrderNotFound | DeliveryNotFound | AssetNotFound => 404,
            VariantNotDigital => 422,
            AssetTooLarge { .. } => 413,
            UploadInterrupted => 400,
            DownloadExpired(_) | DownloadRevoked | DownloadLimitReached(_) | FileMissing => 410,
            DeliveryRevoked | OrderNotPaid | OrderCanceled => 409,
            StorageUnavailable => 503,
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Catalog(e) => e.status(),
            Checkout(e) => e.status(),
            Storage(_) | Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        use DigitalError::*;
        match self {
            OrderNotFound => "order_not_found",
            DeliveryNotFound => "delivery_not_found",
            AssetNotFound => "asset_not_found",
            VariantNotDigital => "variant_not_digital",
            AssetTooLarge { .. } => "asset_too_large",
            UploadInterrupted => "upload_interrupted",
            DownloadExpired(_) => "download_expired",
            DownloadRevoked => "download_revoked",
            DownloadLimitReached(_) => "download_limit_reached",
            DeliveryRevoked => "delivery_revoked",
            OrderNotPaid => "order_not_paid",
            OrderCanceled => "order_canceled",
            FileMissing => "download_file_missing",
            StorageUnavailable => "storage_unavailable",
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Catalog(e) => e.code(),
            Checkout(e) => e.code(),
            Storage(_) | Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<FieldError> {
        match self {
            DigitalError::Validation(e) => e.fields(),
            DigitalError::Catalog(e) => e.fields(),
            DigitalError::Checkout(e) => e.fields(),
            _ => Vec::new(),
        }
    }
}
