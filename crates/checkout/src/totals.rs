//! Order arithmetic, as plain functions: subtotal, discount and how it is spread over lines,
//! shipping, the COD fee, the total, and consumption tax per rate. All integer minor units.
//!
//! Rules (docs/CHECKOUT.md):
//! * prices are tax-inclusive;
//! * a fixed discount takes at most the subtotal; a percent discount is `subtotal × bps /
//!   10000`, rounded down;
//! * the discount is spread over the lines in proportion to their totals, rounding down, and the
//!   yen left over go one by one to the lines with the largest remainders (ties: the earlier
//!   line) — so each rate's share is exact and adds up to the discount;
//! * shipping: none when nothing is shipped; free when the goods after discount reach the free
//!   shipping threshold; else the prefecture's fee if the store set one, else the flat fee;
//! * the COD fee is that of the first tier whose bound covers the total before the fee
//!   ([`CodFeeBasis::Subtotal`], the default), or, the carriers' way, the amount collected: the
//!   lowest tier whose bound covers the total plus that tier's own fee
//!   ([`CodFeeBasis::Collected`]; one pass over the tiers, no loop that can oscillate);
//! * consumption tax per rate is computed once per order, on the tax-inclusive amount of that
//!   rate after discount, as `amount × rate / (1 + rate)` rounded down (the qualified-invoice
//!   rule); shipping and the COD fee are taxed at the standard 10%.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Consumption tax rates in basis points.
pub const STANDARD_BPS: i64 = 1000;
pub const REDUCED_BPS: i64 = 800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub unit_price: i64,
    pub quantity: i64,
    /// 1000 (10%) or 800 (8%).
    pub tax_bps: i64,
    /// Whether it is shipped (physical).
    pub shipped: bool,
}

impl Line {
    pub fn total(&self) -> i64 {
        self.unit_price * self.quantity
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    Fixed(i64),
    PercentBps(i64),
}

#[derive(Debug, Clone, Default)]
pub struct ShippingRules {
    pub flat_fee: i64,
    pub free_threshold: Option<i64>,
    /// The fee for the destination prefecture, if the store set one.
    pub prefecture_fee: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct CodRules {
    /// (up to this amount, fee), ascending.
    pub tiers: Vec<(i64, i64)>,
    pub basis: CodFeeBasis,
}

/// What a COD fee tier's bound is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CodFeeBasis {
    /// The total before the fee (goods after discount plus shipping).
    #[default]
    Subtotal,
    /// The amount the carrier collects: that total plus the fee, as Yamato and Sagawa tier it.
    Collected,
}

/// Tax of one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaxLine {
    pub rate_bps: i64,
    /// Tax-inclusive amount at this rate, after discount.
    pub taxable_amount: i64,
    /// The tax contained in it, rounded down.
    pub tax_amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: i64,
    pub discount: i64,
    /// Per line, in the order given.
    pub line_discounts: Vec<i64>,
    /// Per line: its shares of the shipping fee and of the COD fee ([`fee_shares`]).
    pub line_shipping_fees: Vec<i64>,
    pub line_cod_fees: Vec<i64>,
    pub shipping_fee: i64,
    pub cod_fee: i64,
    pub total: i64,
    pub tax_lines: Vec<TaxLine>,
}

pub fn discount_amount(subtotal: i64, d: Option<Discount>) -> i64 {
    match d {
        None => 0,
        Some(Discount::Fixed(v)) => v.clamp(0, subtotal),
        Some(Discount::PercentBps(bps)) => ((subtotal as i128 * bps.clamp(0, 10_000) as i128) / 10_000) as i64,
    }
}

/// Spreads `discount` over lines in proportion to their totals (largest remainder).
pub fn allocate(lines: &[Line], discount: i64) -> Vec<i64> {
    split(&lines.iter().map(Line::total).collect::<Vec<_>>(), discount)
}

/// Spreads `amount` over weights in proportion, rounding down; the yen left over go one by one
/// to the largest remainders (ties: the earlier). The shares add up to `amount` exactly.
pub fn split(weights: &[i64], amount: i64) -> Vec<i64> {
    let sum: i64 = weights.iter().map(|w| (*w).max(0)).sum();
    if sum <= 0 || amount <= 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<i64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = amount as i128 * (*w).max(0) as i128;
        shares.push((exact / sum as i128) as i64);
        remainders.push((exact % sum as i128, i));
    }
    let mut left = amount - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

/// Each line's shares of the shipping fee (over the shipped lines) and of the COD fee (over
/// all lines), in proportion to their goods after discount. Used for a mall vendor's part and
/// the commission base.
pub fn fee_shares(lines: &[Line], line_discounts: &[i64], shipping_fee: i64, cod_fee: i64) -> (Vec<i64>, Vec<i64>) {
    let goods: Vec<i64> = lines.iter().zip(line_discounts).map(|(l, d)| l.total() - d).collect();
    let shipped: Vec<i64> = lines.iter().zip(&goods).map(|(l, g)| if l.shipped { *g } else { 0 }).collect();
    // a shipped order whose goods came to nothing still shares the fee: equally over shipped lines
    let shipped =
        if shipped.iter().all(|g| *g == 0) { lines.iter().map(|l| l.shipped as i64).collect() } else { shipped };
    let all = if goods.iter().all(|g| *g == 0) { vec![1; lines.len()] } else { goods };
    (split(&shipped, shipping_fee), split(&all, cod_fee))
}

pub fn shipping_fee(lines: &[Line], goods_after_discount: i64, rules: &ShippingRules) -> i64 {
    if !lines.iter().any(|l| l.shipped) {
        return 0;
    }
    if rules.free_threshold.is_some_and(|t| goods_after_discount >= t) {
        return 0;
    }
    rules.prefecture_fee.unwrap_or(rules.flat_fee)
}

/// The COD fee for a total (before the fee), or `None` when no tier covers it. On the
/// collected basis it is the lowest tier whose bound covers the total plus that tier's fee: each
/// tier is tried once, in ascending order, so the answer cannot flip between two tiers.
pub fn cod_fee(total_before_fee: i64, rules: &CodRules) -> Option<i64> {
    if rules.tiers.is_empty() {
        return Some(0);
    }
    let covers = |&&(up_to, fee): &&(i64, i64)| match rules.basis {
        CodFeeBasis::Subtotal => total_before_fee <= up_to,
        CodFeeBasis::Collected => total_before_fee + fee <= up_to,
    };
    rules.tiers.iter().find(covers).map(|(_, fee)| *fee)
}

/// The tax contained in a tax-inclusive amount at a rate, rounded down.
pub fn inclusive_tax(amount: i64, rate_bps: i64) -> i64 {
    ((amount as i128 * rate_bps as i128) / (10_000 + rate_bps) as i128) as i64
}

/// Everything an order charges. `cod` is the COD fee already chosen (0 when not COD).
pub fn compute(lines: &[Line], discount: Option<Discount>, shipping: &ShippingRules, cod: Option<&CodRules>) -> Totals {
    let subtotal: i64 = lines.iter().map(Line::total).sum();
    let discount = discount_amount(subtotal, discount);
    let line_discounts = allocate(lines, discount);
    let goods = subtotal - discount;
    let shipping_fee = shipping_fee(lines, goods, shipping);
    let before_cod = goods + shipping_fee;
    let cod_fee = cod.and_then(|r| cod_fee(before_cod, r)).unwrap_or(0);
    let total = before_cod + cod_fee;
    let mut standard = shipping_fee + cod_fee;
    let mut reduced = 0;
    for (l, d) in lines.iter().zip(&line_discounts) {
        if l.tax_bps == REDUCED_BPS {
            reduced += l.total() - d;
        } else {
            standard += l.total() - d;
        }
    }
    let mut tax_lines = Vec::new();
    for (rate, amount) in [(STANDARD_BPS, standard), (REDUCED_BPS, reduced)] {
        if amount > 0 {
            tax_lines.push(TaxLine { rate_bps: rate, taxable_amount: amount, tax_amount: inclusive_tax(amount, rate) });
        }
    }
    let (line_shipping_fees, line_cod_fees) = fee_shares(lines, &line_discounts, shipping_fee, cod_fee);
    Totals {
        subtotal,
        discount,
        line_discounts,
        line_shipping_fees,
        line_cod_fees,
        shipping_fee,
        cod_fee,
        total,
        tax_lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: i64, qty: i64, bps: i64) -> Line {
        Line { unit_price: price, quantity: qty, tax_bps: bps, shipped: true }
    }

    #[test]
    fn mixed_rates_with_a_percent_discount_and_the_flat_fee() {
        // tea 1,080 × 2 (8%), teacup 3,300 × 1 (10%); 10% off; shipping 800 flat
        let lines = [line(1080, 2, REDUCED_BPS), line(3300, 1, STANDARD_BPS)];
        let t = compute(
            &lines,
            Some(Discount::PercentBps(1000)),
            &ShippingRules { flat_fee: 800, free_threshold: Some(10_000), prefecture_fee: None },
            None,
        );
        assert_eq!(t.subtotal, 5460); // 2,160 + 3,300
        assert_eq!(t.discount, 546); // 10% of 5,460
        // 546 × 2160/5460 = 216.0 -> 216; 546 × 3300/5460 = 330.0 -> 330
        assert_eq!(t.line_discounts, vec![216, 330]);
        assert_eq!(t.shipping_fee, 800); // 4,914 of goods is under the 10,000 threshold
        assert_eq!(t.total, 5714); // 5,460 − 546 + 800
        // 10%: 3,300 − 330 + 800 shipping = 3,770, tax floor(3,770 × 10/110) = 342
        // 8%: 2,160 − 216 = 1,944, tax floor(1,944 × 8/108) = 144
        assert_eq!(
            t.tax_lines,
            vec![
                TaxLine { rate_bps: 1000, taxable_amount: 3770, tax_amount: 342 },
                TaxLine { rate_bps: 800, taxable_amount: 1944, tax_amount: 144 }
            ]
        );
    }

    #[test]
    fn a_fixed_discount_leaves_remainders_to_the_largest_fractions() {
        // three lines of 1,000 (8%, 10%, 10%) and 100 yen off: 33.33 each -> 33, 33, 33 + 1
        let lines = [line(1000, 1, REDUCED_BPS), line(1000, 1, STANDARD_BPS), line(1000, 1, STANDARD_BPS)];
        let t = compute(&lines, Some(Discount::Fixed(100)), &ShippingRules::default(), None);
        assert_eq!(t.line_discounts, vec![34, 33, 33]); // equal remainders: the earlier line
        assert_eq!(t.line_discounts.iter().sum::<i64>(), 100);
        // 8%: 966, tax floor(966 × 8/108) = 71; 10%: 1,934, tax floor(1,934 × 10/110) = 175
        assert_eq!(t.tax_lines[0], TaxLine { rate_bps: 1000, taxable_amount: 1934, tax_amount: 175 });
        assert_eq!(t.tax_lines[1], TaxLine { rate_bps: 800, taxable_amount: 966, tax_amount: 71 });
        // a fixed discount never exceeds the goods
        assert_eq!(discount_amount(500, Some(Discount::Fixed(800))), 500);
    }

    #[test]
    fn free_shipping_counts_goods_after_discount_and_prefectures_override_the_flat_fee() {
        let lines = [line(5000, 2, STANDARD_BPS)];
        let rules = ShippingRules { flat_fee: 800, free_threshold: Some(10_000), prefecture_fee: None };
        assert_eq!(compute(&lines, None, &rules, None).shipping_fee, 0); // 10,000 reaches it
        assert_eq!(compute(&lines, Some(Discount::Fixed(1)), &rules, None).shipping_fee, 800); // 9,999 does not
        let okinawa = ShippingRules { prefecture_fee: Some(1500), ..rules.clone() };
        assert_eq!(compute(&lines, Some(Discount::Fixed(1)), &okinawa, None).shipping_fee, 1500);
        // nothing shipped, nothing charged
        let digital = [Line { shipped: false, ..line(550, 1, STANDARD_BPS) }];
        assert_eq!(compute(&digital, None, &rules, None).shipping_fee, 0);
    }

    #[test]
    fn cod_fee_tiers_follow_the_total_before_the_fee() {
        let tiers = CodRules { tiers: vec![(10_000, 330), (30_000, 440), (100_000, 660)], ..CodRules::default() };
        let lines = [line(9_200, 1, STANDARD_BPS)];
        let rules = ShippingRules { flat_fee: 800, free_threshold: None, prefecture_fee: None };
        // 9,200 + 800 shipping = 10,000: the first tier (up to 10,000) applies
        let t = compute(&lines, None, &rules, Some(&tiers));
        assert_eq!((t.cod_fee, t.total), (330, 10_330));
        // 10,001 before the fee: the second tier
        let t = compute(&[line(9_201, 1, STANDARD_BPS)], None, &rules, Some(&tiers));
        assert_eq!((t.cod_fee, t.total), (440, 10_441));
        // the fee is taxed at 10% with the goods and shipping: 10,441 × 10/110 = 949.18 -> 949
        assert_eq!(t.tax_lines, vec![TaxLine { rate_bps: 1000, taxable_amount: 10_441, tax_amount: 949 }]);
        // above every tier: no fee can be charged (COD is not offered)
        assert_eq!(cod_fee(100_001, &tiers), None);
    }

    #[test]
    fn cod_fee_tiers_on_the_amount_collected_match_yamatos_table_at_each_boundary() {
        // Yamato 宅急便コレクト, tax included: collected up to 10,000 -> 330; 30,000 -> 440;
        // 100,000 -> 660; 300,000 -> 1,100 (docs/JAPAN.md)
        let yamato = CodRules {
            tiers: vec![(10_000, 330), (30_000, 440), (100_000, 660), (300_000, 1_100)],
            basis: CodFeeBasis::Collected,
        };
        let subtotal = CodRules { basis: CodFeeBasis::Subtotal, ..yamato.clone() };
        // (total before the fee, fee on the collected amount, what is collected)
        for (before, fee, collected) in [
            (1, 330, 331),
            (9_670, 330, 10_000),   // 9,670 + 330 = 10,000: still the first tier
            (9_671, 440, 10_111),   // 10,001 with 330 is over; 9,671 + 440 fits 30,000
            (10_000, 440, 10_440),  // on the subtotal basis this would be 330
            (29_560, 440, 30_000),  // 29,560 + 440 = 30,000
            (29_561, 660, 30_221),  // 30,001 with 440 is over
            (99_340, 660, 100_000), // 99,340 + 660 = 100,000
            (99_341, 1_100, 100_441),
            (298_900, 1_100, 300_000), // 298,900 + 1,100 = 300,000: the last tier's edge
        ] {
            assert_eq!(cod_fee(before, &yamato), Some(fee), "before {before}");
            assert_eq!(before + fee, collected);
        }
        // 298,901 + 1,100 = 300,001: no tier covers it, COD cannot be offered
        assert_eq!(cod_fee(298_901, &yamato), None);
        // the default basis is today's: the total before the fee
        assert_eq!((cod_fee(10_000, &subtotal), cod_fee(298_901, &subtotal)), (Some(330), Some(1_100)));
        // through the totals: 9,671 of goods, no shipping, COD collects 10,111
        let t = compute(&[line(9_671, 1, STANDARD_BPS)], None, &ShippingRules::default(), Some(&yamato));
        assert_eq!((t.cod_fee, t.total), (440, 10_111));
    }

    #[test]
    fn fees_are_shared_by_goods_after_discount_and_add_up() {
        // 4,400 (shipped), 3,240 (shipped), 550 (digital); shipping 800, COD fee 330
        let lines = [
            line(4400, 1, STANDARD_BPS),
            line(1620, 2, REDUCED_BPS),
            Line { shipped: false, ..line(550, 1, STANDARD_BPS) },
        ];
        let (ship, cod) = fee_shares(&lines, &[0, 0, 0], 800, 330);
        // 800 × 4400/7640 = 460.73, 800 × 3240/7640 = 339.27: 460 + 339, the yen left to the larger remainder
        assert_eq!(ship, vec![461, 339, 0]);
        // 330 × 4400/8190 = 177.28, × 3240/8190 = 130.55, × 550/8190 = 22.16: 177 + 130 + 22, one left
        assert_eq!(cod, vec![177, 131, 22]);
        assert_eq!(cod.iter().sum::<i64>(), 330);
        // goods that came to nothing still carry the fee
        assert_eq!(fee_shares(&lines[..1], &[4400], 800, 0).0, vec![800]);
    }

    #[test]
    fn rounding_is_once_per_rate_not_per_line() {
        // five lines of 105 at 10%: per line, floor(105 × 10/110) = 9 each, 45 in all; once for
        // the rate, floor(525 × 10/110) = 47, which is what the qualified invoice states
        let lines: Vec<Line> = (0..5).map(|_| line(105, 1, STANDARD_BPS)).collect();
        let t = compute(&lines, None, &ShippingRules::default(), None);
        assert_eq!(t.tax_lines[0].tax_amount, 47);
    }
}
