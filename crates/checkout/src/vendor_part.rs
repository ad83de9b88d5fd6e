//! A vendor's part of an order, as a mall vendor's staff see it (docs/MALL.md).
//!
//! A vendor sees an order only when it holds lines of that vendor; another vendor's order is a
//! 404. Its view ([`narrow`]) keeps its own lines and shipment, the shipping address it ships to,
//! the payment's method and status, and the totals of its part only: the goods of its lines
//! after their share of the discount, its lines' shares of the shipping and COD fees, and the
//! consumption tax of that part per rate. Nothing of the other vendors' lines or the order's
//! totals is left. The shopper's contact details (name, email, phone, address lines) are masked
//! once the vendor's part was delivered (its shipment, or the payment for a digital part) more
//! than the mall's `contact_mask_days` ago.
//!
//! Every staff-facing service that answers an order answers [`for_staff`], so the narrowing has
//! one place.

use catalog::variant::TaxClass;
use chrono::{DateTime, Duration, Utc};
use db::Tx;
use kernel::access::Acting;
use kernel::{Money, OrderId, StoreId, VendorId};

use crate::CheckoutError;
use crate::order::{self, OrderLine, OrderView, PaymentStatus};
use crate::totals::{self, TaxLine};

/// What masked details read as.
pub const MASK: &str = "***";

/// Whether an order holds lines of `vendor` (or `vendor` is none: the mall sees every order).
pub async fn visible(tx: &mut Tx, order: OrderId, vendor: Option<VendorId>) -> Result<bool, sqlx::Error> {
    let Some(vendor) = vendor else { return Ok(true) };
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM order_items WHERE order_id = $1 AND vendor_id = $2)")
        .bind(order)
        .bind(vendor)
        .fetch_one(&mut **tx)
        .await
}

/// Answers `OrderNotFound` unless the acting party may see the order (module docs).
pub async fn check_visible(tx: &mut Tx, by: Acting<'_>, order: OrderId) -> Result<(), CheckoutError> {
    if visible(tx, order, by.vendor()).await? { Ok(()) } else { Err(CheckoutError::OrderNotFound) }
}

/// The order as the acting staff member may see it: whole for the mall's staff, the vendor's
/// part for a vendor's staff (a 404 when it holds none of its lines).
pub async fn for_staff(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: OrderId) -> Result<OrderView, CheckoutError> {
    let whole = order::view(tx, store, id, true).await?;
    let Some(vendor) = by.vendor() else { return Ok(whole) };
    if !whole.items.iter().any(|l| l.vendor_id == vendor) {
        return Err(CheckoutError::OrderNotFound);
    }
    let mask_days = contact_mask_days(tx).await?;
    Ok(narrow(whole, vendor, mask_days, Utc::now()))
}

/// The mall's `contact_mask_days`.
pub async fn contact_mask_days(tx: &mut Tx) -> Result<i32, CheckoutError> {
    tenancy::mall::load(tx)
        .await
        .map(|s| s.contact_mask_days)
        .map_err(|e| CheckoutError::Db(sqlx::Error::Protocol(e.to_string())))
}

/// The amounts of a set of lines: goods, discount, fee shares and the tax per rate of the part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartTotals {
    pub subtotal: i64,
    pub discount: i64,
    pub shipping_fee: i64,
    pub cod_fee: i64,
    pub total: i64,
    /// Tax-inclusive amount at 10% (goods after discount, plus the fee shares) and at 8%.
    pub taxable_standard: i64,
    pub taxable_reduced: i64,
}

impl PartTotals {
    /// The totals of the lines not canceled.
    pub fn of<'a>(lines: impl IntoIterator<Item = &'a OrderLine>) -> PartTotals {
        let mut t = PartTotals::default();
        for l in lines.into_iter().filter(|l| l.canceled_at.is_none()) {
            let goods = l.price_amount * l.quantity as i64;
            t.subtotal += goods;
            t.discount += l.discount_amount;
            t.shipping_fee += l.shipping_fee_share;
            t.cod_fee += l.cod_fee_share;
            t.taxable_standard += l.shipping_fee_share + l.cod_fee_share;
            if l.tax_class == TaxClass::Reduced {
                t.taxable_reduced += goods - l.discount_amount;
            } else {
                t.taxable_standard += goods - l.discount_amount;
            }
        }
        t.total = t.subtotal - t.discount + t.shipping_fee + t.cod_fee;
        t
    }

    /// Consumption tax of the part per rate, rounded down once per rate.
    pub fn tax_lines(&self) -> Vec<TaxLine> {
        [(totals::STANDARD_BPS, self.taxable_standard), (totals::REDUCED_BPS, self.taxable_reduced)]
            .into_iter()
            .filter(|(_, amount)| *amount > 0)
            .map(|(rate_bps, taxable_amount)| TaxLine {
                rate_bps,
                taxable_amount,
                tax_amount: totals::inclusive_tax(taxable_amount, rate_bps),
            })
            .collect()
    }
}

/// When the vendor's part counts as delivered, for masking: its shipment's delivery, or for a
/// part without a shipment (digital goods) the payment's confirmation.
pub fn delivered_at(view: &OrderView, vendor: VendorId) -> Option<DateTime<Utc>> {
    match view.shipments.iter().find(|s| s.vendor_id == vendor) {
        Some(s) => s.delivered_at,
        None => view.payment.confirmed_at,
    }
}

/// Whether contact details delivered at `delivered` are masked `now`.
pub fn masked(delivered: Option<DateTime<Utc>>, mask_days: i32, now: DateTime<Utc>) -> bool {
    delivered.is_some_and(|d| now >= d + Duration::days(mask_days as i64))
}

/// The vendor's view of a whole order (module docs). Pure: the caller has checked the order
/// holds lines of the vendor.
pub fn narrow(mut view: OrderView, vendor: VendorId, mask_days: i32, now: DateTime<Utc>) -> OrderView {
    let hide = masked(delivered_at(&view, vendor), mask_days, now);
    view.items.retain(|l| l.vendor_id == vendor);
    view.shipments.retain(|s| s.vendor_id == vendor);
    let part = PartTotals::of(&view.items);
    let c = view.currency;
    view.subtotal = Money::new(part.subtotal, c);
    view.discount = Money::new(part.discount, c);
    view.shipping_fee = Money::new(part.shipping_fee, c);
    view.cod_fee = Money::new(part.cod_fee, c);
    view.total = Money::new(part.total, c);
    view.tax_lines = part.tax_lines();
    let shipments: Vec<_> = view.shipments.iter().map(|s| s.status).collect();
    let canceled = view.status == order::OrderStatus::Canceled || view.items.iter().all(|l| l.canceled_at.is_some());
    view.status = order::derive_status(view.payment.method, view.payment.status, &shipments, canceled);
    // the payment: its method and status; what is due is the part's
    let p = &mut view.payment;
    p.amount = Money::new(if p.status == PaymentStatus::Failed { 0 } else { part.total }, c);
    p.received = None;
    p.amount_mismatch = false;
    p.refund_owed = Money::new(0, c);
    p.refunded_at = None;
    p.bank_account = None;
    view.customer_id = None;
    view.billing_address = None;
    view.history = None;
    view.vendor_id = Some(vendor);
    if hide {
        view.email = MASK.into();
        if let Some(a) = &mut view.shipping_address {
            a.name = MASK.into();
            a.name_kana = MASK.into();
            a.city = MASK.into();
            a.line1 = MASK.into();
            a.line2 = a.line2.as_ref().map(|_| MASK.into());
            a.phone = a.phone.as_ref().map(|_| MASK.into());
        }
        view.contact_masked = true;
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_details_are_masked_the_given_days_after_delivery() {
        let delivered = "2026-11-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let day = Duration::days(1);
        assert!(!masked(None, 30, delivered + day * 400), "not delivered: never masked");
        assert!(!masked(Some(delivered), 30, delivered + day * 29));
        assert!(masked(Some(delivered), 30, delivered + day * 30));
        assert!(masked(Some(delivered), 0, delivered), "0 days: masked once delivered");
    }
}
