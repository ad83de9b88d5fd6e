//! Commission: what the mall keeps of each order line (docs/MALL.md).
//!
//! A line's rate is the product's override in effect the day the order is placed (Asia/Tokyo),
//! else its vendor's default rate in effect that day ([`crate::vendors`]), else 0. The base is
//! the tax-inclusive line total after the line's share of the discount, plus its shares of the
//! shipping fee and the COD fee when the mall's settings say those carry commission. The amount
//! is `base × rate / 10000`, rounded down (a yen the mall does not keep is the vendor's).
//! Checkout freezes rate, base and amount on the line when the order is placed; nothing later
//! changes them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::jp;
use kernel::{ProductId, Validator, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;
use crate::vendors::CommissionRate;

/// What commission applies to an order's lines, read once when it is placed.
#[derive(Debug, Clone, Default)]
pub struct Terms {
    /// The rate of each product of the order (override, else its vendor's default).
    pub rates: HashMap<ProductId, i32>,
    pub on_shipping: bool,
    pub on_cod_fee: bool,
}

impl Terms {
    pub fn rate(&self, product: ProductId) -> i32 {
        self.rates.get(&product).copied().unwrap_or(0)
    }

    /// The commission base of a line: its goods after discount, plus the fee shares that carry
    /// commission under the mall's settings.
    pub fn base(&self, goods_after_discount: i64, shipping_share: i64, cod_share: i64) -> i64 {
        goods_after_discount
            + if self.on_shipping { shipping_share } else { 0 }
            + if self.on_cod_fee { cod_share } else { 0 }
    }
}

/// The commission on a base at a rate, rounded down.
pub fn amount(base: i64, rate_bps: i32) -> i64 {
    ((base.max(0) as i128 * rate_bps.clamp(0, 10_000) as i128) / 10_000) as i64
}

/// The terms for these (product, vendor) lines on a day, in one round trip.
pub async fn terms(tx: &mut Tx, lines: &[(ProductId, VendorId)], day: NaiveDate) -> Result<Terms, sqlx::Error> {
    let rows: Vec<(ProductId, i32, Option<bool>, Option<bool>)> = sqlx::query_as(
        "SELECT l.product_id, coalesce(
                (SELECT r.rate_bps FROM product_commission_rates r
                  WHERE r.product_id = l.product_id AND r.effective_from <= $3 ORDER BY r.effective_from DESC LIMIT 1),
                (SELECT r.rate_bps FROM vendor_commission_rates r
                  WHERE r.vendor_id = l.vendor_id AND r.effective_from <= $3 ORDER BY r.effective_from DESC LIMIT 1),
                0),
                s.commission_on_shipping, s.commission_on_cod_fee
           FROM UNNEST($1::uuid[], $2::uuid[]) AS l(product_id, vendor_id) LEFT JOIN mall_settings s ON true",
    )
    .bind(lines.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind(day)
    .fetch_all(&mut **tx)
    .await?;
    let on_shipping = rows.first().and_then(|r| r.2).unwrap_or(false);
    let on_cod_fee = rows.first().and_then(|r| r.3).unwrap_or(false);
    Ok(Terms { rates: rows.into_iter().map(|r| (r.0, r.1)).collect(), on_shipping, on_cod_fee })
}

/// A product's commission schedule: overrides of its vendor's default rate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductCommission {
    pub product_id: ProductId,
    pub vendor_id: VendorId,
    /// The rate lines of this product take today (the override, else the vendor's default).
    pub rate_bps: i32,
    /// Whether an override is in effect today.
    pub overridden: bool,
    /// The product's overrides, latest first (future ones included).
    pub overrides: Vec<CommissionRate>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetProductCommission {
    /// Basis points (1000 = 10%).
    pub rate_bps: i32,
    /// The first day (Asia/Tokyo, today or later) orders take it; default today. An override
    /// already set for that day is replaced.
    pub effective_from: Option<NaiveDate>,
}

async fn product_vendor(tx: &mut Tx, by: Acting<'_>, product: ProductId) -> Result<VendorId, TenancyError> {
    let vendor: Option<VendorId> =
        sqlx::query_scalar("SELECT vendor_id FROM products WHERE id = $1 AND deleted_at IS NULL")
            .bind(product)
            .fetch_optional(&mut **tx)
            .await?;
    match vendor {
        Some(v) if by.sees_vendor(v) => Ok(v),
        _ => Err(TenancyError::ProductNotFound),
    }
}

/// A product's commission: the rate today and its overrides (the mall's staff; a vendor's
/// staff see their own products').
pub async fn product_commission(
    tx: &mut Tx,
    by: Acting<'_>,
    product: ProductId,
) -> Result<ProductCommission, TenancyError> {
    by.require(Permission::CatalogRead)?;
    let vendor = product_vendor(tx, by, product).await?;
    let overrides: Vec<(i32, NaiveDate, DateTime<Utc>)> = sqlx::query_as(
        "SELECT rate_bps, effective_from, created_at FROM product_commission_rates WHERE product_id = $1
          ORDER BY effective_from DESC",
    )
    .bind(product)
    .fetch_all(&mut **tx)
    .await?;
    let today = jp::today();
    let t = terms(tx, &[(product, vendor)], today).await?;
    Ok(ProductCommission {
        product_id: product,
        vendor_id: vendor,
        rate_bps: t.rate(product),
        overridden: overrides.iter().any(|o| o.1 <= today),
        updated_at: overrides.iter().map(|o| o.2).max(),
        overrides: overrides
            .into_iter()
            .map(|(rate_bps, effective_from, _)| CommissionRate { rate_bps, effective_from })
            .collect(),
    })
}

/// Sets a product's override from a day on (the mall's staff: `store_manage`).
pub async fn set_product_commission(
    tx: &mut Tx,
    by: Acting<'_>,
    product: ProductId,
    input: SetProductCommission,
) -> Result<ProductCommission, TenancyError> {
    by.require(Permission::StoreManage)?;
    let mut v = Validator::new();
    v.range("rate_bps", input.rate_bps, 0, 10_000);
    let from = input.effective_from.unwrap_or_else(jp::today);
    if from < jp::today() {
        v.push("effective_from", "out_of_range", "a rate takes effect today or later (placed orders keep theirs)");
    }
    v.into_result()?;
    let tenant = crate::tenants::find(tx).await?.ok_or(TenancyError::TenantNotFound)?;
    if tenant.kind != crate::tenants::TenantKind::Mall {
        return Err(TenancyError::NotAMall);
    }
    product_vendor(tx, by, product).await?;
    sqlx::query(
        "INSERT INTO product_commission_rates (tenant_id, product_id, effective_from, rate_bps) VALUES ($1, $2, $3, $4)
         ON CONFLICT (product_id, effective_from) DO UPDATE SET rate_bps = excluded.rate_bps, created_at = now()",
    )
    .bind(tx.tenant())
    .bind(product)
    .bind(from)
    .bind(input.rate_bps)
    .execute(&mut **tx)
    .await?;
    product_commission(tx, by, product).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commission_rounds_down_and_fees_count_only_when_the_mall_says() {
        // 10% of 4,861 = 486.1 -> 486
        assert_eq!(amount(4861, 1000), 486);
        // 12.5% of 999 = 124.875 -> 124
        assert_eq!(amount(999, 1250), 124);
        assert_eq!(amount(0, 1000), 0);
        let goods_only = Terms::default();
        assert_eq!(goods_only.base(4400, 461, 200), 4400);
        let with_fees = Terms { on_shipping: true, on_cod_fee: true, ..Terms::default() };
        assert_eq!(with_fees.base(4400, 461, 200), 5061);
        let shipping_only = Terms { on_shipping: true, ..Terms::default() };
        assert_eq!(shipping_only.base(4400, 461, 200), 4861);
    }
}
