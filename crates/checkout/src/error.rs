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
    #[error("{}", .0.message())]
    Ineligible(crate::promotions::Ineligible),
    #[error("no such promotion")]
    PromotionNotFound,
    #[error("no such order")]
    OrderNotFound,
    #[error("the cart is empty")]
    EmptyCart,
    #[error("a hold on an item lapsed just now; check out again")]
    HoldLapsed,
    #[error("prices changed since the items were added; the cart now shows the current prices")]
    PricesChanged,
    #[error("{0}")]
    PaymentMethodUnavailable(&'static str),
    #[error("bank transfer needs a complete bank account first (missing: {})", .0.join(", "))]
    BankAccountIncomplete(Vec<&'static str>),
    #[error("no such shipment in this order")]
    ShipmentNotFound,
    #[error("this order is not paid by bank transfer")]
    WrongPaymentMethod,
    #[error("the payment is not waiting to be confirmed")]
    PaymentNotPending,
    #[error("a bank-transfer order ships once it is paid")]
    OrderNotPaid,
    #[error("the order is canceled")]
    OrderCanceled,
    #[error("the order has shipped; it cannot be canceled")]
    OrderAlreadyShipped,
    #[error("a receipt is issued once the payment is received")]
    ReceiptBeforePayment,
    #[error("no refund is owed on this order")]
    NoRefundOwed,
    #[error("no such line in this order")]
    LineNotFound,
    #[error("the line is already canceled")]
    LineCanceled,
    #[error("a digital line cannot be canceled once paid: its download was delivered")]
    LineDelivered,
    #[error("a shipment cannot go from {from:?} to {to:?}")]
    IllegalShipmentTransition { from: crate::order::ShipmentStatus, to: crate::order::ShipmentStatus },
    #[error("this store already has the promotion code {0:?}")]
    PromotionCodeTaken(String),
    #[error(
        "flash-sale items are added through POST .../items, so the queue decides fairly; the quantity can only go down here"
    )]
    HotItemIncrease,
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] kernel::access::PermissionDenied),
    #[error(transparent)]
    Page(#[from] kernel::PageError),
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
            CartNotFound | VariantNotFound | ItemNotFound | RequestNotFound | PromotionNotFound | OrderNotFound => 404,
            EmptyCart | PaymentMethodUnavailable(_) | WrongPaymentMethod | BankAccountIncomplete(_) => 422,
            ShipmentNotFound | LineNotFound => 404,
            LineCanceled | LineDelivered => 409,
            PaymentNotPending
            | OrderNotPaid
            | OrderCanceled
            | OrderAlreadyShipped
            | NoRefundOwed
            | ReceiptBeforePayment
            | IllegalShipmentTransition { .. } => 409,
            PricesChanged | HoldLapsed => 409,
            Ineligible(crate::promotions::Ineligible::Unknown) => 404,
            Ineligible(crate::promotions::Ineligible::UsedUp) => 409,
            Ineligible(_) => 422,
            PromotionCodeTaken(_) => 409,
            CartNotActive(_) | Refused(_) => 409,
            VariantNotAvailable | IdempotencyKeyReused | HotItemIncrease => 422,
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Page(e) => e.status(),
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
            Ineligible(i) => i.code(),
            PromotionNotFound => "promotion_not_found",
            OrderNotFound => "order_not_found",
            EmptyCart => "cart_empty",
            HoldLapsed => "hold_lapsed",
            PricesChanged => "prices_changed",
            PaymentMethodUnavailable(_) => "payment_method_unavailable",
            BankAccountIncomplete(_) => "bank_account_incomplete",
            ShipmentNotFound => "shipment_not_found",
            WrongPaymentMethod => "wrong_payment_method",
            PaymentNotPending => "payment_not_pending",
            OrderNotPaid => "order_not_paid",
            OrderCanceled => "order_canceled",
            OrderAlreadyShipped => "order_already_shipped",
            NoRefundOwed => "no_refund_owed",
            ReceiptBeforePayment => "receipt_before_payment",
            LineNotFound => "order_line_not_found",
            LineCanceled => "order_line_canceled",
            LineDelivered => "order_line_delivered",
            IllegalShipmentTransition { .. } => "illegal_shipment_transition",
            PromotionCodeTaken(_) => "promotion_code_taken",
            HotItemIncrease => "hot_item_increase",
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Page(e) => e.code(),
            Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<FieldError> {
        match self {
            CheckoutError::Validation(e) => e.fields(),
            CheckoutError::BankAccountIncomplete(missing) => missing
                .iter()
                .map(|f| FieldError::new(format!("bank_account.{f}"), "required", "needed to offer bank transfer"))
                .collect(),
            _ => Vec::new(),
        }
    }
}
