use kernel::access::PermissionDenied;
use kernel::{CustomerId, PageError, Problem, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum CustomersError {
    /// No such customer with a profile in the caller's store (another store's or tenant's
    /// customer, an erased one, or none at all).
    #[error("no such customer")]
    CustomerNotFound,
    #[error("no such address")]
    AddressNotFound,
    #[error("this store already has customer {0} with that email or phone; change that customer instead")]
    CustomerExists(CustomerId),
    #[error("another customer already has this {0}; merge the two customers instead")]
    IdentityTaken(&'static str),
    #[error("a customer cannot be merged into itself")]
    CannotMergeSelf,
    #[error("the customer has orders that are not finished (payment, shipping); erase after they are")]
    HasOpenOrders,
    #[error("an account with this email exists already; sign in, or reset the password")]
    AccountExists,
    #[error("confirm the email first: enter the code sent to it (or ask for a new one)")]
    EmailNotVerified,
    #[error("the code is wrong, used or expired; ask for a new one")]
    InvalidCode,
    #[error(transparent)]
    Auth(#[from] tenancy::AuthError),
    #[error("the CSV file cannot be read: {0}")]
    UnreadableCsv(String),
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] PermissionDenied),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A database holding one of the tenant's stores did not answer (docs/ROUTING.md).
    #[error(transparent)]
    Route(#[from] db::routing::RouteError),
}

impl Problem for CustomersError {
    fn status(&self) -> u16 {
        use CustomersError::*;
        match self {
            CustomerNotFound | AddressNotFound => 404,
            CustomerExists(_) | IdentityTaken(_) | HasOpenOrders | AccountExists => 409,
            CannotMergeSelf | UnreadableCsv(_) | InvalidCode => 422,
            EmailNotVerified => 403,
            Auth(e) => e.status(),
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Page(e) => e.status(),
            Db(_) => 500,
            Route(e) => e.status(),
        }
    }

    fn code(&self) -> &'static str {
        use CustomersError::*;
        match self {
            CustomerNotFound => "customer_not_found",
            AddressNotFound => "address_not_found",
            CustomerExists(_) => "customer_exists",
            IdentityTaken(_) => "identity_taken",
            CannotMergeSelf => "cannot_merge_self",
            HasOpenOrders => "customer_has_open_orders",
            UnreadableCsv(_) => "unreadable_csv",
            AccountExists => "account_exists",
            EmailNotVerified => "email_not_verified",
            InvalidCode => "invalid_code",
            Auth(e) => e.code(),
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Page(e) => e.code(),
            Db(_) => "internal",
            Route(e) => e.code(),
        }
    }

    fn fields(&self) -> Vec<kernel::FieldError> {
        match self {
            CustomersError::Validation(e) => e.fields(),
            CustomersError::Auth(e) => e.fields(),
            _ => Vec::new(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            CustomersError::Auth(e) => e.retry_after(),
            CustomersError::Route(e) => e.retry_after(),
            _ => None,
        }
    }
}
