use kernel::access::{PermissionDenied, Role};
use kernel::{PageError, Problem, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("no such tenant")]
    TenantNotFound,
    #[error("no such store")]
    StoreNotFound,
    #[error("no such location")]
    LocationNotFound,
    #[error("no such staff member")]
    StaffNotFound,
    #[error("no such vendor")]
    VendorNotFound,
    #[error("no such product")]
    ProductNotFound,
    #[error("the store handle {0:?} is taken")]
    StoreHandleTaken(String),
    #[error("another store already has the domain {0:?}")]
    StoreDomainTaken(String),
    #[error("this store already has a location with code {0:?}")]
    LocationCodeTaken(String),
    #[error("another staff member of this store already signs in with this {0}")]
    StaffLoginTaken(&'static str),
    #[error("your role cannot manage staff with the {} role", .0.as_str())]
    CannotManageRole(Role),
    #[error("the store must keep at least one active owner")]
    LastOwner,
    #[error("a location that still holds stock cannot be deleted")]
    LocationHasStock,
    #[error("vendors can be added only to mall tenants; a single-brand tenant is its own vendor")]
    NotAMall,
    #[error("a vendor's staff act for their own vendor only: leave vendor_id out or give your own")]
    OutsideVendorScope,
    #[error("this store has not published its commercial disclosures (特定商取引法に基づく表記) yet")]
    DisclosuresNotPublished,
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] PermissionDenied),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("password hashing failed")]
    Hashing,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl Problem for TenancyError {
    fn status(&self) -> u16 {
        use TenancyError::*;
        match self {
            TenantNotFound
            | StoreNotFound
            | LocationNotFound
            | StaffNotFound
            | VendorNotFound
            | ProductNotFound
            | DisclosuresNotPublished => 404,
            StoreHandleTaken(_) | StoreDomainTaken(_) | LocationCodeTaken(_) | StaffLoginTaken(_) | LastOwner
            | LocationHasStock => 409,
            CannotManageRole(_) | OutsideVendorScope => 403,
            NotAMall => 422,
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Page(e) => e.status(),
            Db(_) | Hashing => 500,
        }
    }

    fn code(&self) -> &'static str {
        use TenancyError::*;
        match self {
            TenantNotFound => "tenant_not_found",
            StoreNotFound => "store_not_found",
            LocationNotFound => "location_not_found",
            StaffNotFound => "staff_not_found",
            VendorNotFound => "vendor_not_found",
            ProductNotFound => "product_not_found",
            StoreHandleTaken(_) => "store_handle_taken",
            StoreDomainTaken(_) => "store_domain_taken",
            LocationCodeTaken(_) => "location_code_taken",
            StaffLoginTaken(_) => "staff_login_taken",
            CannotManageRole(_) => "cannot_manage_role",
            LastOwner => "last_owner",
            LocationHasStock => "location_has_stock",
            NotAMall => "not_a_mall",
            OutsideVendorScope => "outside_vendor_scope",
            DisclosuresNotPublished => "legal_disclosures_not_published",
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Page(e) => e.code(),
            Db(_) | Hashing => "internal",
        }
    }

    fn fields(&self) -> Vec<kernel::FieldError> {
        match self {
            TenancyError::Validation(e) => e.fields(),
            // the form shows it at the field
            TenancyError::StoreDomainTaken(_) => {
                vec![kernel::FieldError::new("domain", "taken", "another store already has this domain")]
            }
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the store, sign-in name or password is wrong")]
    InvalidCredentials,
    #[error("too many failed sign-ins; try again in {retry_after} seconds")]
    Throttled { retry_after: u64 },
    #[error("this endpoint needs a staff bearer token (Authorization: Bearer ...)")]
    MissingToken,
    #[error("the token is unknown, expired or revoked; sign in again")]
    InvalidToken,
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("password hashing failed")]
    Hashing,
    /// The staff member's store lives in another database (docs/ROUTING.md).
    #[error(transparent)]
    Route(#[from] db::routing::RouteError),
}

impl Problem for AuthError {
    fn status(&self) -> u16 {
        match self {
            AuthError::InvalidCredentials | AuthError::MissingToken | AuthError::InvalidToken => 401,
            AuthError::Throttled { .. } => 429,
            AuthError::Validation(e) => e.status(),
            AuthError::Db(_) | AuthError::Hashing => 500,
            AuthError::Route(e) => e.status(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AuthError::InvalidCredentials => "invalid_credentials",
            AuthError::Throttled { .. } => "too_many_attempts",
            AuthError::MissingToken => "missing_token",
            AuthError::InvalidToken => "invalid_token",
            AuthError::Validation(e) => e.code(),
            AuthError::Db(_) | AuthError::Hashing => "internal",
            AuthError::Route(e) => e.code(),
        }
    }

    fn fields(&self) -> Vec<kernel::FieldError> {
        match self {
            AuthError::Validation(e) => e.fields(),
            _ => Vec::new(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            AuthError::Throttled { retry_after } => Some(*retry_after),
            AuthError::Route(e) => e.retry_after(),
            _ => None,
        }
    }
}
