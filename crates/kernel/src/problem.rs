//! Errors that reach an API caller.
//!
//! Every domain has its own `thiserror` enum; each variant answers with an HTTP status and a
//! stable snake_case `code` through [`Problem`]. The HTTP layer turns any `Problem` into an
//! `application/problem+json` body; a problem whose status is 5xx is logged with the request id
//! and shown to the caller only as "internal".

use serde::Serialize;
use utoipa::ToSchema;

pub trait Problem: std::error::Error + Send + Sync + 'static {
    /// HTTP status: 4xx for the caller's mistakes, 5xx only for our own faults.
    fn status(&self) -> u16;
    /// A stable machine-readable code, documented in docs/ERRORS.md.
    fn code(&self) -> &'static str;
    /// Per-field details for validation failures.
    fn fields(&self) -> Vec<FieldError> {
        Vec::new()
    }
    /// Seconds the caller should wait before retrying (429 and 503).
    fn retry_after(&self) -> Option<u64> {
        None
    }
}

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the request, e.g. `variants[0].price.amount`.
    pub field: String,
    /// Stable code: `required`, `too_long`, `too_short`, `invalid`, `out_of_range`, ...
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// A database error reaching the caller is always our fault: 500, logged, details hidden.
impl Problem for sqlx::Error {
    fn status(&self) -> u16 {
        500
    }
    fn code(&self) -> &'static str {
        "internal"
    }
}
