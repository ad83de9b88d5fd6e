use kernel::{FieldError, PageError, Problem, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum MallError {
    #[error("no such statement")]
    StatementNotFound,
    #[error("no such vendor")]
    VendorNotFound,
    #[error("statements exist only in mall tenants")]
    NotAMall,
    #[error("the statement is already paid")]
    StatementPaid,
    #[error("the encoding is utf-8 or shift_jis")]
    UnknownEncoding,
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] kernel::access::PermissionDenied),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error(transparent)]
    Tenancy(#[from] tenancy::TenancyError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl Problem for MallError {
    fn status(&self) -> u16 {
        use MallError::*;
        match self {
            StatementNotFound | VendorNotFound => 404,
            NotAMall | UnknownEncoding => 422,
            StatementPaid => 409,
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Page(e) => e.status(),
            Tenancy(e) => e.status(),
            Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        use MallError::*;
        match self {
            StatementNotFound => "statement_not_found",
            VendorNotFound => "vendor_not_found",
            NotAMall => "not_a_mall",
            StatementPaid => "statement_paid",
            UnknownEncoding => "unknown_encoding",
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Page(e) => e.code(),
            Tenancy(e) => e.code(),
            Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<FieldError> {
        match self {
            MallError::Validation(e) => e.fields(),
            MallError::Tenancy(e) => e.fields(),
            _ => Vec::new(),
        }
    }
}
