use inventory::reservation::Refusal;
use kernel::{FieldError, Problem, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("no such cart (or the cart secret is wrong)")]
    CartNotFound,
    #[error("the cart is {0}; start a new cart")]
    CartNotActive(String),
    #[error("no such variant in this store")]
    VariantNotFound,
    #[error("this variant is not for sale")]
    VariantNotAvailable,
    #[error("no such item in this cart")]
    ItemNotFound,
    #[error("no such add-to-cart request")]
    RequestNotFound,
    #[error("{}", refusal_text(*.0))]
    Refused(Refusal),
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    #[error(
        "flash-sale items are added through POST .../items, so the queue decides fairly; the quantity can only go down here"
    )]
    HotItemIncrease,
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

fn refusal_text(r: Refusal) -> &'static str {
    match r {
        Refusal::SoldOut => "sold out",
        Refusal::InsufficientStock => "not enough left for this quantity",
        Refusal::LimitExceeded => "the per-customer limit for this item is reached",
    }
}

impl Problem for CheckoutError {
    fn status(&self) -> u16 {
        use CheckoutError::*;
        match self {
            CartNotFound | VariantNotFound | ItemNotFound | RequestNotFound => 404,
            CartNotActive(_) | Refused(_) => 409,
            VariantNotAvailable | IdempotencyKeyReused | HotItemIncrease => 422,
            Validation(e) => e.status(),
            Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        use CheckoutError::*;
        match self {
            CartNotFound => "cart_not_found",
            CartNotActive(_) => "cart_not_active",
            VariantNotFound => "variant_not_found",
            VariantNotAvailable => "variant_not_available",
            ItemNotFound => "item_not_found",
            RequestNotFound => "request_not_found",
            Refused(r) => r.code(),
            IdempotencyKeyReused => "idempotency_key_reused",
            HotItemIncrease => "hot_item_increase",
            Validation(e) => e.code(),
            Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<FieldError> {
        match self {
            CheckoutError::Validation(e) => e.fields(),
            _ => Vec::new(),
        }
    }
}
