//! The quote: what the cart costs paid each way, and whether the store offers that way for this
//! cart. [`options`] shows every payment method; placing the order prices the chosen one by
//! the same rule ([`quote`]), so the checkout refuses exactly what the options show as
//! unavailable, with the same reason.

use catalog::variant::{FulfillmentType, TaxClass};
use chrono::{DateTime, Utc};
use db::Tx;
use kernel::{Money, StoreId};
use serde::Serialize;
use utoipa::ToSchema;

use super::status::PaymentMethod;
use crate::CheckoutError;
use crate::cart::{self, CartKey};
use crate::delivery::{DeliveryWindow, Destination};
use crate::promotions;
use crate::settings::{self, CheckoutSettings};
use crate::totals::{self, Discount, Line, ShippingRules, TaxLine, Totals};

/// A cart line as the order arithmetic sees it.
pub fn line(unit_price: i64, quantity: i32, tax: TaxClass, fulfillment: FulfillmentType) -> Line {
    Line {
        unit_price,
        quantity: quantity as i64,
        tax_bps: tax.rate_bps(),
        shipped: fulfillment == FulfillmentType::Physical,
    }
}

/// The store's shipping fees, for a destination prefecture (JIS code) if known.
pub fn shipping_rules(s: &CheckoutSettings, prefecture: Option<u8>) -> ShippingRules {
    ShippingRules {
        flat_fee: s.shipping_flat_fee.amount,
        free_threshold: s.free_shipping_threshold.map(|m| m.amount),
        prefecture_fee: prefecture.and_then(|c| s.prefecture_fee(c)),
    }
}

/// What paying one way costs, and why the store does not offer it for these lines, if not.
#[derive(Debug, Clone)]
pub struct Quote {
    pub totals: Totals,
    pub unavailable: Option<&'static str>,
}

/// The one rule of which payment methods a cart may use, and what each costs:
/// * bank transfer, when the store enabled it and its bank account is complete;
/// * cash on delivery, when the store offers it, something is delivered, a COD fee tier covers
///   the total (before the fee, or with it: `cod_fee_basis`) and the total is within the store's
///   COD limit.
pub fn quote(
    method: PaymentMethod,
    lines: &[Line],
    discount: Option<Discount>,
    shipping: &ShippingRules,
    s: &CheckoutSettings,
) -> Quote {
    match method {
        PaymentMethod::BankTransfer => Quote {
            totals: totals::compute(lines, discount, shipping, None),
            unavailable: if !s.bank_transfer_enabled {
                Some("bank transfer is not offered by this store")
            } else if !s.bank_transfer_offered {
                Some("this store has not set the bank account to pay into yet")
            } else {
                None
            },
        },
        PaymentMethod::Cod => {
            let rules = s.cod_rules();
            let t = totals::compute(lines, discount, shipping, Some(&rules));
            let unavailable = if !s.cod_enabled {
                Some("cash on delivery is not offered by this store")
            } else if !lines.iter().any(|l| l.shipped) {
                Some("cash on delivery needs something to deliver")
            } else if totals::cod_fee(t.total - t.cod_fee, &rules).is_none() || t.total > s.cod_limit.amount {
                Some("the total is above this store's cash-on-delivery limit")
            } else {
                None
            };
            Quote { totals: t, unavailable }
        }
    }
}

/// What a payment method would cost, or why it is not offered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MethodOption {
    pub method: PaymentMethod,
    pub available: bool,
    /// Why not, when not available.
    pub reason: Option<String>,
    pub shipping_fee: Money,
    pub cod_fee: Money,
    pub total: Money,
    pub tax_lines: Vec<TaxLine>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckoutOptions {
    pub subtotal: Money,
    pub discount: Money,
    pub promotion_code: Option<String>,
    pub payment_methods: Vec<MethodOption>,
    pub delivery_slots: Vec<crate::settings::DeliverySlot>,
    /// The delivery dates the shopper may ask for (for the destination given), when something
    /// is delivered: the earliest, the latest and the day the store ships.
    pub delivery_window: Option<DeliveryWindow>,
}

/// Where the cart goes, as far as the shopper told: a prefecture (name or JIS code) and a
/// postal code (for extra days to remote islands).
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionsFor<'a> {
    pub prefecture: Option<&'a str>,
    pub postal_code: Option<&'a str>,
}

/// Totals of the cart for each payment method, for a destination prefecture if known, now.
pub async fn options(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    prefecture: Option<&str>,
) -> Result<CheckoutOptions, CheckoutError> {
    options_at(tx, store, key, OptionsFor { prefecture, postal_code: None }, Utc::now()).await
}

/// [`options`] for a destination at `now` (the delivery window depends on both).
pub async fn options_at(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    to: OptionsFor<'_>,
    now: DateTime<Utc>,
) -> Result<CheckoutOptions, CheckoutError> {
    let prefecture = to.prefecture;
    let cart = cart::find(tx, store, key).await?;
    let s = settings::load(tx, store).await?;
    let code = match prefecture {
        Some(p) => Some(
            kernel::jp::Prefecture::parse(p)
                .map_err(|e| kernel::ValidationErrors::one("prefecture", "invalid", e.to_string()))?
                .code,
        ),
        None => None,
    };
    let lines: Vec<(i64, i32, TaxClass, FulfillmentType)> = sqlx::query_as(
        "SELECT i.price_amount, i.quantity, v.tax_class, v.fulfillment_type FROM cart_items i JOIN variants v ON v.id = i.variant_id
          WHERE i.cart_id = $1 ORDER BY i.created_at, i.id",
    )
    .bind(cart.id)
    .fetch_all(&mut **tx)
    .await?;
    let lines: Vec<Line> = lines.into_iter().map(|(price, qty, tax, kind)| line(price, qty, tax, kind)).collect();
    let shipped = lines.iter().any(|l| l.shipped);
    let promotion = promotions::for_cart(tx, store, cart.promotion_id).await?;
    let shipping = shipping_rules(&s, code);
    let discount = promotion.as_ref().map(|p| p.discount());
    let c = s.currency;
    let option = |method| {
        let Quote { totals: t, unavailable } = quote(method, &lines, discount, &shipping, &s);
        MethodOption {
            method,
            available: unavailable.is_none(),
            reason: unavailable.map(str::to_string),
            shipping_fee: Money::new(t.shipping_fee, c),
            cod_fee: Money::new(t.cod_fee, c),
            total: Money::new(t.total, c),
            tax_lines: t.tax_lines,
        }
    };
    let subtotal: i64 = lines.iter().map(Line::total).sum();
    let window = s.delivery_rules().window(now, Destination { prefecture: code, postal_code: to.postal_code });
    Ok(CheckoutOptions {
        subtotal: Money::new(subtotal, c),
        discount: Money::new(totals::discount_amount(subtotal, discount), c),
        promotion_code: promotion.as_ref().map(|p| p.code.clone()),
        payment_methods: vec![option(PaymentMethod::BankTransfer), option(PaymentMethod::Cod)],
        delivery_slots: if shipped { s.delivery_slots } else { Vec::new() },
        delivery_window: shipped.then_some(window),
    })
}
