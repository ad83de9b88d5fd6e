//! The final confirmation (最終確認画面): what the shopper confirms before placing the order,
//! as the 2022 amendment of the Act on Specified Commercial Transactions requires on the last
//! screen: each line's quantity and price, the total, the payment method and its fee, the
//! delivery timing, the cancellation and returns terms, and the offer's period if any.
//!
//! It reads the checkout form that placing would read and runs placing's own steps on it
//! (`place::check_the_form`, the price check, `place::price_the_order`, i.e. the quote's rule),
//! so what it shows is what placing the same form charges, and what placing refuses it refuses
//! with the same answer. It writes nothing, except, like placing, the new prices of lines whose
//! price changed (409 `prices_changed`: the shopper sees the new total).

use chrono::{DateTime, NaiveDate, Utc};
use db::Tx;
use kernel::{Money, StoreId, VariantId, VendorId};
use serde::Serialize;
use tenancy::disclosures::{self, SellerTerms};
use utoipa::ToSchema;

use super::place::{self, PlaceOrder};
use super::status::PaymentMethod;
use crate::CheckoutError;
use crate::cart::{self, CartKey};
use crate::promotions;
use crate::settings::{self, DeliverySlot};
use crate::totals::TaxLine;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Confirmation {
    pub lines: Vec<ConfirmationLine>,
    pub subtotal: Money,
    pub discount: Money,
    pub promotion_code: Option<String>,
    pub shipping_fee: Money,
    pub payment_method: PaymentMethod,
    /// What the payment method adds: the COD fee (代引手数料); 0 for a bank transfer.
    pub payment_fee: Money,
    /// What the shopper pays.
    pub total: Money,
    /// The consumption tax contained in the total, per rate.
    pub tax_lines: Vec<TaxLine>,
    pub delivery: DeliveryTiming,
    /// Each seller's terms (in a mall, one per vendor of the cart's goods): delivery and
    /// payment timing, returns and cancellation, the offer's period. Empty while the store has
    /// not published its commercial disclosures.
    pub terms: Vec<SellerTerms>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfirmationLine {
    pub variant_id: VariantId,
    pub vendor_id: VendorId,
    pub product_title: String,
    pub variant_title: String,
    pub sku: String,
    pub quantity: i32,
    pub unit_price: Money,
    /// Unit price × quantity (before the code's discount).
    pub line_total: Money,
    /// At the reduced 8% rate (軽減税率).
    pub reduced_rate: bool,
}

/// When the goods come: the day and slot the shopper chose, else the seller's own words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryTiming {
    pub date: Option<NaiveDate>,
    pub slot: Option<DeliverySlot>,
    /// The seller's delivery timing (引渡時期) from its disclosures, when no date was chosen.
    pub timing: Option<String>,
}

/// The final confirmation of a cart for a checkout form at `now` (module docs; the delivery
/// date is checked against the window of that moment, as placing does).
pub async fn confirm(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    input: &PlaceOrder,
    now: DateTime<Utc>,
) -> Result<Confirmation, CheckoutError> {
    let cart = cart::still_active(cart::find(tx, store, key).await?)?;
    let s = settings::load(tx, store).await?;
    let lines = place::read_the_lines(tx, &cart).await?;
    let form = place::check_the_form(input, &lines, &s, now)?;
    place::check_prices_and_availability(tx, &lines).await?;
    let promotion = promotions::for_cart(tx, store, cart.promotion_id).await?;
    let t = place::price_the_order(input.payment_method, &lines, promotion.as_ref(), &form, &s)?;

    let mut vendors: Vec<VendorId> = Vec::new();
    for l in lines.iter().filter(|l| !l.house) {
        if !vendors.contains(&l.vendor_id) {
            vendors.push(l.vendor_id);
        }
    }
    let terms = disclosures::seller_terms(tx, store, &vendors).await?;
    let c = s.currency;
    let slot = input.delivery_slot.as_ref().and_then(|code| s.delivery_slots.iter().find(|d| &d.code == code).cloned());
    let timing = match input.delivery_date {
        Some(_) => None,
        None => terms.first().map(|t| t.delivery_timing.clone()),
    };
    Ok(Confirmation {
        lines: lines
            .iter()
            .map(|l| ConfirmationLine {
                variant_id: l.variant_id,
                vendor_id: l.vendor_id,
                product_title: l.product_title.clone(),
                variant_title: l.variant_title.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price: Money::new(l.price_amount, c),
                line_total: Money::new(l.price_amount * l.quantity as i64, c),
                reduced_rate: l.tax_class == catalog::variant::TaxClass::Reduced,
            })
            .collect(),
        subtotal: Money::new(t.subtotal, c),
        discount: Money::new(t.discount, c),
        promotion_code: promotion.map(|p| p.code),
        shipping_fee: Money::new(t.shipping_fee, c),
        payment_method: input.payment_method,
        payment_fee: Money::new(t.cod_fee, c),
        total: Money::new(t.total, c),
        tax_lines: t.tax_lines,
        delivery: DeliveryTiming { date: input.delivery_date, slot, timing },
        terms,
    })
}
