use kernel::access::PermissionDenied;
use kernel::{FieldError, Problem, ValidationErrors};
use storage::StorageError;

use crate::pixels::Refused;

/// Everything an image upload or fetch refuses, each with a stable code (docs/ERRORS.md).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// SVG, a program, another format, or nothing recognisable (decided from the content).
    #[error("{0}")]
    TypeRefused(Refused),
    /// Announced as an image it is, but its data cannot be read.
    #[error("{0}")]
    Unreadable(Refused),
    #[error("{0}")]
    DimensionsTooLarge(Refused),
    #[error("the image is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload ended before the whole file arrived")]
    UploadInterrupted,
    #[error("file storage is not configured in this process")]
    StorageUnavailable,
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] PermissionDenied),
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    #[error("storage: {0}")]
    Storage(#[source] StorageError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<Refused> for ImageError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Corrupt(..) => ImageError::Unreadable(r),
            Refused::TooManyPixels { .. } => ImageError::DimensionsTooLarge(r),
            _ => ImageError::TypeRefused(r),
        }
    }
}

impl From<StorageError> for ImageError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::TooLarge { limit } => ImageError::TooLarge { limit },
            StorageError::Body(_) => ImageError::UploadInterrupted,
            other => ImageError::Storage(other),
        }
    }
}

impl Problem for ImageError {
    fn status(&self) -> u16 {
        use ImageError::*;
        match self {
            TypeRefused(_) | Unreadable(_) | DimensionsTooLarge(_) => 422,
            TooLarge { .. } => 413,
            UploadInterrupted => 400,
            StorageUnavailable => 503,
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Catalog(e) => e.status(),
            Storage(_) | Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        use ImageError::*;
        match self {
            TypeRefused(_) => "image_type_refused",
            Unreadable(_) => "image_unreadable",
            DimensionsTooLarge(_) => "image_dimensions_too_large",
            TooLarge { .. } => "image_too_large",
            UploadInterrupted => "upload_interrupted",
            StorageUnavailable => "storage_unavailable",
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Catalog(e) => e.code(),
            Storage(_) | Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<FieldError> {
        match self {
            ImageError::Validation(e) => e.fields(),
            ImageError::Catalog(e) => e.fields(),
            _ => Vec::new(),
        }
    }
}
