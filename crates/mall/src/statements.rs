//! Statements (精算書): what the mall owes a vendor for a closing period (docs/MALL.md).
//!
//! **A line is payable** once the vendor's part of its order is settled: for a bank transfer,
//! paid and the vendor's shipment shipped (a digital line: paid); for cash on delivery, the
//! vendor's shipment delivered (a digital line: the payment collected). It counts on the first
//! statement closed after that, with what it was placed with: its goods after discount, its
//! shares of the shipping and COD fees (taxed at 10%), and its frozen commission. A line
//! canceled after it was counted comes back as a negative line on the next statement.
//! `vendor_statement_lines` has one row per (line, kind) at most, so however closes, deliveries
//! and cancellations interleave, every line counts exactly once.
//!
//! **Arithmetic** of a statement: sales = Σ lines (by tax rate: 10% and 8%, with the tax they
//! contain, rounded down once per rate); commission = Σ the lines' commission; its consumption
//! tax = 10% of it, rounded down; before the fee = sales − commission − its tax + what the
//! previous statement carried forward. When that reaches the mall's minimum payout and exceeds
//! the transfer fee, the vendor is paid it less the fee; else nothing is paid, no fee is taken
//! and it all carries forward. So sales + carried in = commission + its tax + fee + net +
//! carried out.
//!
//! **States**: the open statement is what the next close would count (computed, not stored);
//! closing stores it, numbered per tenant, never changed after; `paid` records the payout's
//! date and bank reference (payouts happen outside Tenpo). The worker closes every vendor's
//! statement at the end of the mall's closing day (Asia/Tokyo); the mall's staff may close one
//! on demand, up to now.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use db::{Db, Tx};
use kernel::access::{Acting, Permission};
use kernel::jp;
use kernel::{Money, OrderId, OrderItemId, Page, PageRequest, StatementId, TenantId, Validator, VendorId};
use serde::{Deserialize, Serialize};
use tenancy::mall::ClosingDay;
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, ToSchema};

use crate::MallError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum StatementStatus {
    /// What the next close would count; not stored.
    Open,
    /// Numbered and final.
    Closed,
    /// The payout was recorded.
    Paid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LineKind {
    /// A settled line.
    Sale,
    /// A counted line canceled later: its amounts negated.
    Reversal,
}

/// One order line on a statement.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StatementLine {
    pub order_item_id: OrderItemId,
    pub order_id: OrderId,
    pub order_number: i64,
    pub kind: LineKind,
    pub sku: String,
    pub product_title: String,
    /// standard (10%) or reduced (8%)
    pub tax_class: String,
    /// When the vendor's part was settled (or, for a reversal, canceled).
    pub settled_at: DateTime<Utc>,
    /// Tax-inclusive sales at 10% (standard goods and every fee share) and at 8%.
    pub sales_10: i64,
    pub sales_8: i64,
    pub commission_rate_bps: i32,
    pub commission: i64,
}

/// Sales of one rate and the consumption tax they contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct RateTotal {
    pub rate_bps: i64,
    pub sales: Money,
    pub tax: Money,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Statement {
    /// None while open.
    pub id: Option<StatementId>,
    /// Per tenant, given at closing.
    pub number: Option<i64>,
    pub vendor_id: VendorId,
    pub vendor_name: String,
    /// 適格請求書発行事業者登録番号 of the vendor, as at closing.
    pub registration_number: Option<String>,
    pub status: StatementStatus,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// The closing day (Asia/Tokyo) the period ends with; for a close on demand, that day.
    pub closing_date: NaiveDate,
    pub sales: Money,
    pub sales_by_rate: Vec<RateTotal>,
    pub commission: Money,
    /// 10% of the commission, rounded down.
    pub commission_tax: Money,
    pub transfer_fee: Money,
    /// Carried from the previous statement.
    pub carried_in: Money,
    /// Below the minimum payout: carried to the next statement.
    pub carried_out: Money,
    /// What the mall pays the vendor.
    pub net_payable: Money,
    pub closed_at: Option<DateTime<Utc>>,
    pub paid_on: Option<NaiveDate>,
    pub bank_reference: Option<String>,
    /// Lists leave them out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<StatementLine>>,
}

/// The figures of a statement from its lines (module docs), as plain arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    pub sales_10: i64,
    pub sales_8: i64,
    pub tax_10: i64,
    pub tax_8: i64,
    pub commission: i64,
    pub commission_tax: i64,
    pub transfer_fee: i64,
    pub carried_in: i64,
    pub carried_out: i64,
    pub net_payable: i64,
}

impl Figures {
    pub fn of(lines: &[StatementLine], carried_in: i64, transfer_fee: i64, min_payout: i64) -> Figures {
        let sales_10: i64 = lines.iter().map(|l| l.sales_10).sum();
        let sales_8: i64 = lines.iter().map(|l| l.sales_8).sum();
        let commission: i64 = lines.iter().map(|l| l.commission).sum();
        // tax contained in the sales, rounded down (towards zero) once per rate
        let tax_10 = (sales_10 as i128 * 10 / 110) as i64;
        let tax_8 = (sales_8 as i128 * 8 / 108) as i64;
        let commission_tax = commission / 10;
        let before_fee = sales_10 + sales_8 - commission - commission_tax + carried_in;
        let (transfer_fee, net_payable, carried_out) = if before_fee >= min_payout && before_fee > transfer_fee {
            (transfer_fee, before_fee - transfer_fee, 0)
        } else {
            (0, 0, before_fee)
        };
        Figures {
            sales_10,
            sales_8,
            tax_10,
            tax_8,
            commission,
            commission_tax,
            transfer_fee,
            carried_in,
            carried_out,
            net_payable,
        }
    }

    pub fn sales(&self) -> i64 {
        self.sales_10 + self.sales_8
    }
}

/// The end (Asia/Tokyo midnight after it) of a closing date.
pub fn end_of(date: NaiveDate) -> DateTime<Utc> {
    let next = date.succ_opt().unwrap_or(date);
    jp::jst()
        .from_local_datetime(&next.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

fn closing_date_in(day: ClosingDay, year: i32, month: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) }
            .unwrap_or_default();
    let days = (next - first).num_days() as u32;
    NaiveDate::from_ymd_opt(year, month, day.day_in(days)).unwrap_or(first)
}

/// The latest closing date whose end has passed at `now` (Asia/Tokyo).
pub fn last_closing(day: ClosingDay, now: DateTime<Utc>) -> NaiveDate {
    let today = now.with_timezone(&jp::jst()).date_naive();
    let this = closing_date_in(day, today.year(), today.month());
    if this < today {
        return this;
    }
    let (y, m) = if today.month() == 1 { (today.year() - 1, 12) } else { (today.year(), today.month() - 1) };
    closing_date_in(day, y, m)
}

/// The next closing date whose end is still ahead at `now`.
pub fn next_closing(day: ClosingDay, now: DateTime<Utc>) -> NaiveDate {
    let today = now.with_timezone(&jp::jst()).date_naive();
    let this = closing_date_in(day, today.year(), today.month());
    if this >= today {
        return this;
    }
    let (y, m) = if today.month() == 12 { (today.year() + 1, 1) } else { (today.year(), today.month() + 1) };
    closing_date_in(day, y, m)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: StatementId,
    number: i64,
    vendor_id: VendorId,
    vendor_name: String,
    registration_number: Option<String>,
    status: StatementStatus,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    closing_date: NaiveDate,
    currency: kernel::Currency,
    sales_10: i64,
    sales_8: i64,
    tax_10: i64,
    tax_8: i64,
    commission_amount: i64,
    commission_tax_amount: i64,
    transfer_fee_amount: i64,
    carried_in_amount: i64,
    carried_out_amount: i64,
    net_amount: i64,
    closed_at: DateTime<Utc>,
    paid_on: Option<NaiveDate>,
    bank_reference: Option<String>,
}

const COLUMNS: &str = "id, number, vendor_id, vendor_name, registration_number, status, period_start, period_end,
    closing_date, currency, sales_10, sales_8, tax_10, tax_8, commission_amount, commission_tax_amount,
    transfer_fee_amount, carried_in_amount, carried_out_amount, net_amount, closed_at, paid_on, bank_reference";

fn build(
    head: (Option<StatementId>, Option<i64>, VendorId, String, Option<String>, StatementStatus),
    period: (DateTime<Utc>, DateTime<Utc>, NaiveDate),
    f: &Figures,
    c: kernel::Currency,
    closed_at: Option<DateTime<Utc>>,
    paid: (Option<NaiveDate>, Option<String>),
    lines: Option<Vec<StatementLine>>,
) -> Statement {
    let m = |a| Money::new(a, c);
    let mut by_rate = Vec::new();
    for (rate_bps, sales, tax) in [(1000, f.sales_10, f.tax_10), (800, f.sales_8, f.tax_8)] {
        if sales != 0 {
            by_rate.push(RateTotal { rate_bps, sales: m(sales), tax: m(tax) });
        }
    }
    Statement {
        id: head.0,
        number: head.1,
        vendor_id: head.2,
        vendor_name: head.3,
        registration_number: head.4,
        status: head.5,
        period_start: period.0,
        period_end: period.1,
        closing_date: period.2,
        sales: m(f.sales()),
        sales_by_rate: by_rate,
        commission: m(f.commission),
        commission_tax: m(f.commission_tax),
        transfer_fee: m(f.transfer_fee),
        carried_in: m(f.carried_in),
        carried_out: m(f.carried_out),
        net_payable: m(f.net_payable),
        closed_at,
        paid_on: paid.0,
        bank_reference: paid.1,
        lines,
    }
}

impl Row {
    fn into_statement(self, lines: Option<Vec<StatementLine>>) -> Statement {
        let f = Figures {
            sales_10: self.sales_10,
            sales_8: self.sales_8,
            tax_10: self.tax_10,
            tax_8: self.tax_8,
            commission: self.commission_amount,
            commission_tax: self.commission_tax_amount,
            transfer_fee: self.transfer_fee_amount,
            carried_in: self.carried_in_amount,
            carried_out: self.carried_out_amount,
            net_payable: self.net_amount,
        };
        build(
            (Some(self.id), Some(self.number), self.vendor_id, self.vendor_name, self.registration_number, self.status),
            (self.period_start, self.period_end, self.closing_date),
            &f,
            self.currency,
            Some(self.closed_at),
            (self.paid_on, self.bank_reference),
            lines,
        )
    }
}

/// A vendor of a mall the acting party may see (404 otherwise; a single-brand tenant has none).
async fn mall_vendor(tx: &mut Tx, by: Acting<'_>, vendor: VendorId) -> Result<tenancy::vendors::Vendor, MallError> {
    if !by.sees_vendor(vendor) {
        return Err(MallError::VendorNotFound);
    }
    let v = tenancy::vendors::get_vendor(tx, vendor).await.map_err(|e| match e {
        tenancy::TenancyError::VendorNotFound => MallError::VendorNotFound,
        e => e.into(),
    })?;
    if v.is_house {
        return Err(MallError::NotAMall);
    }
    Ok(v)
}

/// The lines the vendor's next statement counts, settled (or canceled) up to `until`.
async fn candidates(tx: &mut Tx, vendor: VendorId, until: DateTime<Utc>) -> Result<Vec<StatementLine>, sqlx::Error> {
    sqlx::query_as(
        "WITH l AS (
           SELECT oi.id, oi.order_id, o.order_number, oi.sku, oi.product_title, oi.tax_class, oi.canceled_at,
                  oi.commission_rate_bps, oi.commission_amount,
                  CASE WHEN oi.tax_class = 'reduced' THEN oi.shipping_fee_share + oi.cod_fee_share
                       ELSE oi.price_amount * oi.quantity - oi.discount_amount + oi.shipping_fee_share + oi.cod_fee_share END AS sales_10,
                  CASE WHEN oi.tax_class = 'reduced' THEN oi.price_amount * oi.quantity - oi.discount_amount ELSE 0 END AS sales_8,
                  CASE WHEN oi.fulfillment_type = 'physical' AND o.payment_method = 'cod' THEN s.delivered_at
                       WHEN oi.fulfillment_type = 'physical' THEN
                            CASE WHEN p.status = 'confirmed' AND s.shipped_at IS NOT NULL THEN greatest(p.confirmed_at, s.shipped_at) END
                       ELSE CASE WHEN p.status = 'confirmed' THEN p.confirmed_at END
                  END AS settled_at
             FROM order_items oi
             JOIN orders o ON o.id = oi.order_id
             JOIN LATERAL (SELECT status, confirmed_at FROM payments WHERE order_id = o.id ORDER BY id LIMIT 1) p ON true
             LEFT JOIN shipments s ON s.order_id = oi.order_id AND s.vendor_id = oi.vendor_id
            WHERE oi.vendor_id = $1 AND o.order_number > 0)
         SELECT l.id AS order_item_id, l.order_id, l.order_number, 'sale' AS kind, l.sku, l.product_title, l.tax_class,
                l.settled_at, l.sales_10, l.sales_8, l.commission_rate_bps, l.commission_amount AS commission
           FROM l
          WHERE l.canceled_at IS NULL AND l.settled_at <= $2
            AND NOT EXISTS (SELECT 1 FROM vendor_statement_lines x WHERE x.order_item_id = l.id AND x.kind = 'sale')
         UNION ALL
         SELECT x.order_item_id, x.order_id, x.order_number, 'reversal', x.sku, x.product_title, x.tax_class,
                l.canceled_at, -x.sales_10, -x.sales_8, x.commission_rate_bps, -x.commission
           FROM l JOIN vendor_statement_lines x ON x.order_item_id = l.id AND x.kind = 'sale'
          WHERE l.canceled_at IS NOT NULL AND l.canceled_at <= $2
            AND NOT EXISTS (SELECT 1 FROM vendor_statement_lines y WHERE y.order_item_id = l.id AND y.kind = 'reversal')
          ORDER BY settled_at, order_item_id",
    )
    .bind(vendor)
    .bind(until)
    .fetch_all(&mut **tx)
    .await
}

/// The vendor's last statement: (its period's end, what it carried forward).
async fn last(tx: &mut Tx, vendor: VendorId) -> Result<Option<(DateTime<Utc>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT period_end, carried_out_amount FROM vendor_statements WHERE vendor_id = $1 ORDER BY period_end DESC LIMIT 1",
    )
    .bind(vendor)
    .fetch_optional(&mut **tx)
    .await
}

/// The open statement of a vendor: what a close at the next closing day would count if it
/// happened now.
pub async fn open(tx: &mut Tx, by: Acting<'_>, vendor: VendorId) -> Result<Statement, MallError> {
    by.require(Permission::StatementsRead)?;
    let v = mall_vendor(tx, by, vendor).await?;
    let settings = tenancy::mall::load(tx).await?;
    let now = Utc::now();
    let lines = candidates(tx, vendor, now).await?;
    let prev = last(tx, vendor).await?;
    let f = Figures::of(&lines, prev.map_or(0, |p| p.1), settings.transfer_fee.amount, settings.min_payout.amount);
    let closing = next_closing(settings.closing_day, now);
    Ok(build(
        (None, None, vendor, v.name, v.registration_number, StatementStatus::Open),
        (prev.map_or(v.created_at, |p| p.0), end_of(closing), closing),
        &f,
        settings.transfer_fee.currency,
        None,
        (None, None),
        Some(lines),
    ))
}

/// Closes a vendor's statement at `period_end`: the lines settled by then and not yet counted.
/// Closes of one tenant are one at a time (numbers without gaps).
pub async fn close(
    tx: &mut Tx,
    vendor: &tenancy::vendors::Vendor,
    period_end: DateTime<Utc>,
    closing_date: NaiveDate,
    by: Acting<'_>,
) -> Result<Statement, MallError> {
    take_turn(tx).await?;
    let settings = tenancy::mall::load(tx).await?;
    let prev = last(tx, vendor.id).await?;
    let lines = candidates(tx, vendor.id, period_end).await?;
    let f = Figures::of(&lines, prev.map_or(0, |p| p.1), settings.transfer_fee.amount, settings.min_payout.amount);
    let id = StatementId::new();
    let number: i64 =
        sqlx::query_scalar("SELECT coalesce(max(number), 0) + 1 FROM vendor_statements").fetch_one(&mut **tx).await?;
    sqlx::query(
        "INSERT INTO vendor_statements (id, tenant_id, number, vendor_id, vendor_name, registration_number, status,
            period_start, period_end, closing_date, currency, sales_10, sales_8, tax_10, tax_8, commission_amount,
            commission_tax_amount, transfer_fee_amount, carried_in_amount, carried_out_amount, net_amount, closed_by)
         VALUES ($1, $2, $3, $4, $5, $6, 'closed', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
    )
    .bind(id)
    .bind(tx.tenant())
    .bind(number)
    .bind(vendor.id)
    .bind(&vendor.name)
    .bind(&vendor.registration_number)
    .bind(prev.map_or(vendor.created_at, |p| p.0))
    .bind(period_end)
    .bind(closing_date)
    .bind(settings.transfer_fee.currency)
    .bind(f.sales_10)
    .bind(f.sales_8)
    .bind(f.tax_10)
    .bind(f.tax_8)
    .bind(f.commission)
    .bind(f.commission_tax)
    .bind(f.transfer_fee)
    .bind(f.carried_in)
    .bind(f.carried_out)
    .bind(f.net_payable)
    .bind(by.staff_id())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO vendor_statement_lines (tenant_id, statement_id, order_item_id, order_id, order_number, kind, sku,
            product_title, tax_class, settled_at, sales_10, sales_8, commission_rate_bps, commission)
         SELECT $1, $2, u.* FROM UNNEST($3::uuid[], $4::uuid[], $5::int8[], $6::text[], $7::text[], $8::text[], $9::text[],
                $10::timestamptz[], $11::int8[], $12::int8[], $13::int4[], $14::int8[]) AS u",
    )
    .bind(tx.tenant())
    .bind(id)
    .bind(lines.iter().map(|l| l.order_item_id).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.order_id).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.order_number).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| if l.kind == LineKind::Sale { "sale" } else { "reversal" }).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.sku.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.product_title.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.tax_class.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.settled_at).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.sales_10).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.sales_8).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.commission_rate_bps).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.commission).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    let event = crate::event::StatementClosed {
        statement_id: id,
        vendor_id: vendor.id,
        number,
        lines: lines.len() as i64,
        net_payable: Money::new(f.net_payable, settings.transfer_fee.currency),
    };
    events::record(tx, events::NewEvent::of(&event)).await?;
    load(tx, id, true).await
}

/// Closes of one tenant take turns, until the transaction ends (numbers without gaps; the
/// worker decides what is due only once it has its turn). A transaction may take it again.
async fn take_turn(tx: &mut Tx) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tenpo_statements:' || $1::text))")
        .bind(tx.tenant())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn load(tx: &mut Tx, id: StatementId, with_lines: bool) -> Result<Statement, MallError> {
    let row: Row = sqlx::query_as(&format!("SELECT {COLUMNS} FROM vendor_statements WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(MallError::StatementNotFound)?;
    let lines = if with_lines {
        Some(
            sqlx::query_as(
                "SELECT order_item_id, order_id, order_number, kind, sku, product_title, tax_class, settled_at, sales_10,
                        sales_8, commission_rate_bps, commission
                   FROM vendor_statement_lines WHERE statement_id = $1 ORDER BY settled_at, order_item_id, kind",
            )
            .bind(id)
            .fetch_all(&mut **tx)
            .await?,
        )
    } else {
        None
    };
    Ok(row.into_statement(lines))
}

/// The mall's staff close a vendor's open statement now (`statements_manage`).
pub async fn close_now(tx: &mut Tx, by: Acting<'_>, vendor: VendorId) -> Result<Statement, MallError> {
    by.require(Permission::StatementsManage)?;
    let v = mall_vendor(tx, by, vendor).await?;
    close(tx, &v, Utc::now(), jp::today(), by).await
}

/// One statement with its lines; a vendor's staff see their own vendor's only.
pub async fn get(tx: &mut Tx, by: Acting<'_>, id: StatementId) -> Result<Statement, MallError> {
    by.require(Permission::StatementsRead)?;
    let s = load(tx, id, true).await?;
    if !by.sees_vendor(s.vendor_id) {
        return Err(MallError::StatementNotFound);
    }
    Ok(s)
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementFilter {
    pub vendor_id: Option<VendorId>,
    pub status: Option<StatementStatus>,
}

/// Closed and paid statements, newest first; a vendor's staff get their own vendor's.
pub async fn list(
    tx: &mut Tx,
    by: Acting<'_>,
    q: &StatementFilter,
    page: &PageRequest,
) -> Result<Page<Statement>, MallError> {
    by.require(Permission::StatementsRead)?;
    let limit = page.limit()?;
    let after: Option<i64> = page.after()?;
    let vendor = by.vendor().or(q.vendor_id);
    if by.vendor().is_some_and(|own| q.vendor_id.is_some_and(|v| v != own)) {
        return Ok(Page::from_rows(Vec::new(), limit, |s: &Statement| s.number.unwrap_or(0)));
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM vendor_statements
          WHERE ($1::bigint IS NULL OR number < $1) AND ($2::uuid IS NULL OR vendor_id = $2) AND ($3::text IS NULL OR status = $3)
          ORDER BY number DESC LIMIT $4"
    ))
    .bind(after)
    .bind(vendor)
    .bind(q.status)
    .bind(limit as i64 + 1)
    .fetch_all(&mut **tx)
    .await?;
    let items: Vec<Statement> = rows.into_iter().map(|r| r.into_statement(None)).collect();
    Ok(Page::from_rows(items, limit, |s: &Statement| s.number.unwrap_or(0)))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPaid {
    /// The day the transfer was made.
    pub paid_on: NaiveDate,
    /// The bank's reference for the transfer.
    pub bank_reference: String,
}

/// Records the payout of a closed statement (`statements_manage`).
pub async fn mark_paid(tx: &mut Tx, by: Acting<'_>, id: StatementId, input: MarkPaid) -> Result<Statement, MallError> {
    by.require(Permission::StatementsManage)?;
    let mut v = Validator::new();
    let reference = v.text("bank_reference", &input.bank_reference, 100);
    if input.paid_on > jp::today() + chrono::Duration::days(1) {
        v.push("paid_on", "out_of_range", "the day the transfer was made, not in the future");
    }
    v.into_result()?;
    let s = load(tx, id, false).await?;
    if !by.sees_vendor(s.vendor_id) {
        return Err(MallError::StatementNotFound);
    }
    let updated = sqlx::query(
        "UPDATE vendor_statements SET status = 'paid', paid_on = $2, bank_reference = $3, paid_by = $4
          WHERE id = $1 AND status = 'closed'",
    )
    .bind(id)
    .bind(input.paid_on)
    .bind(&reference)
    .bind(by.staff_id())
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(MallError::StatementPaid);
    }
    let event = crate::event::StatementPaid {
        statement_id: id,
        vendor_id: s.vendor_id,
        net_payable: s.net_payable,
        paid_on: input.paid_on,
        bank_reference: reference,
    };
    events::record(tx, events::NewEvent::of(&event)).await?;
    load(tx, id, true).await
}

/// The statement as CSV text (`kernel::csv_file` encodes it as asked; UTF-8 with a BOM by
/// default): a header block (vendor, registration number, number, period), the lines, then
/// the totals.
pub async fn csv(tx: &mut Tx, by: Acting<'_>, id: StatementId) -> Result<String, MallError> {
    by.require(Permission::DataExport)?;
    let s = get(tx, by, id).await?;
    render_csv(&s).map_err(|e| MallError::Db(sqlx::Error::Protocol(e.to_string())))
}

fn render_csv(s: &Statement) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    let jst = |d: DateTime<Utc>| d.with_timezone(&jp::jst()).format("%Y-%m-%d %H:%M").to_string();
    let number = s.number.map(|n| n.to_string()).unwrap_or_default();
    w.write_record(["精算書", number.as_str()])?;
    w.write_record(["出店者", s.vendor_name.as_str()])?;
    w.write_record(["登録番号", s.registration_number.as_deref().unwrap_or("")])?;
    let closing = s.closing_date.to_string();
    w.write_record(["締め日", closing.as_str()])?;
    let (start, end) = (jst(s.period_start), jst(s.period_end));
    w.write_record(["期間", start.as_str(), end.as_str()])?;
    w.write_record([
        "注文番号",
        "明細ID",
        "区分",
        "SKU",
        "商品名",
        "税率",
        "確定日時",
        "売上(10%)",
        "売上(8%)",
        "手数料率(bps)",
        "手数料",
    ])?;
    for l in s.lines.iter().flatten() {
        w.write_record([
            l.order_number.to_string(),
            l.order_item_id.to_string(),
            if l.kind == LineKind::Sale { "売上".into() } else { "取消".into() },
            l.sku.clone(),
            l.product_title.clone(),
            if l.tax_class == "reduced" { "8%".into() } else { "10%".into() },
            jst(l.settled_at),
            l.sales_10.to_string(),
            l.sales_8.to_string(),
            l.commission_rate_bps.to_string(),
            l.commission.to_string(),
        ])?;
    }
    let rate = |bps| s.sales_by_rate.iter().find(|r| r.rate_bps == bps);
    for (label, amount) in [
        ("売上合計", s.sales.amount),
        ("売上(10%対象)", rate(1000).map_or(0, |r| r.sales.amount)),
        ("うち消費税(10%)", rate(1000).map_or(0, |r| r.tax.amount)),
        ("売上(8%対象)", rate(800).map_or(0, |r| r.sales.amount)),
        ("うち消費税(8%)", rate(800).map_or(0, |r| r.tax.amount)),
        ("販売手数料", s.commission.amount),
        ("手数料消費税(10%)", s.commission_tax.amount),
        ("振込手数料", s.transfer_fee.amount),
        ("前回繰越", s.carried_in.amount),
        ("次回繰越", s.carried_out.amount),
        ("お支払額", s.net_payable.amount),
    ] {
        let amount = amount.to_string();
        w.write_record([label, amount.as_str()])?;
    }
    let bytes = w.into_inner().map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

/// Closes the statements of a tenant's vendors whose closing day has passed (the worker).
/// Answers how many it closed.
pub async fn close_due(db: &Db, tenant: TenantId, now: DateTime<Utc>) -> Result<usize, MallError> {
    let mut tx = db.begin(tenant).await?;
    // before looking what is due: a close on demand committed meanwhile has counted the period
    take_turn(&mut tx).await?;
    let settings = tenancy::mall::load(&mut tx).await?;
    let date = last_closing(settings.closing_day, now);
    let end = end_of(date);
    let due: Vec<VendorId> = sqlx::query_scalar(
        "SELECT v.id FROM vendors v WHERE NOT v.is_house AND v.created_at < $1
            AND NOT EXISTS (SELECT 1 FROM vendor_statements s WHERE s.vendor_id = v.id AND s.period_end >= $1)
          ORDER BY v.id",
    )
    .bind(end)
    .fetch_all(&mut *tx)
    .await?;
    for vendor in &due {
        let v = tenancy::vendors::get_vendor(&mut tx, *vendor).await?;
        close(&mut tx, &v, end, date, Acting::System).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// Every mall tenant's due statements, once.
pub async fn run_once(db: &Db) -> Result<usize, MallError> {
    let tenants: Vec<TenantId> =
        sqlx::query_scalar("SELECT * FROM tenpo_mall_tenants()").fetch_all(db.platform()).await?;
    // one mall's failure does not hold the others' statements back
    let mut n = 0;
    for t in tenants {
        match close_due(db, t, Utc::now()).await {
            Ok(closed) => n += closed,
            Err(e) => tracing::warn!(tenant_id = %t, error = %e, "closing a mall's statements failed; retrying"),
        }
    }
    Ok(n)
}

/// The worker's loop.
pub async fn run(db: Db, every: Duration, shutdown: CancellationToken) {
    tracing::info!(every_ms = every.as_millis() as u64, "statement closing started");
    while !shutdown.is_cancelled() {
        match run_once(&db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(closed = n, "closed vendors' statements"),
            Err(e) => tracing::warn!(error = %e, "closing statements failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn closing_days_in_tokyo_time() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        // 2026-12-01 08:00 JST: November's month-end has passed; the 20th of November too
        assert_eq!(last_closing(ClosingDay::MonthEnd, at("2026-11-30T23:00:00Z")), d("2026-11-30"));
        // 2026-11-30 14:00 UTC is 23:00 JST on the 30th: the month-end is still running
        assert_eq!(last_closing(ClosingDay::MonthEnd, at("2026-11-30T14:00:00Z")), d("2026-10-31"));
        assert_eq!(last_closing(ClosingDay::Day20, at("2026-11-20T15:00:00Z")), d("2026-11-20"));
        assert_eq!(last_closing(ClosingDay::Day20, at("2026-11-20T14:59:59Z")), d("2026-10-20"));
        assert_eq!(last_closing(ClosingDay::Day25, at("2026-01-10T00:00:00Z")), d("2025-12-25"));
        assert_eq!(last_closing(ClosingDay::MonthEnd, at("2028-03-01T00:00:00Z")), d("2028-02-29"));
        assert_eq!(next_closing(ClosingDay::Day15, at("2026-12-16T00:00:00Z")), d("2027-01-15"));
        assert_eq!(end_of(d("2026-11-30")), at("2026-11-30T15:00:00Z"));
    }

    fn line(sales_10: i64, sales_8: i64, commission: i64) -> StatementLine {
        StatementLine {
            order_item_id: OrderItemId::new(),
            order_id: OrderId::new(),
            order_number: 1,
            kind: LineKind::Sale,
            sku: "S".into(),
            product_title: "P".into(),
            tax_class: "standard".into(),
            settled_at: Utc::now(),
            sales_10,
            sales_8,
            commission_rate_bps: 1000,
            commission,
        }
    }

    #[test]
    fn sales_are_commission_its_tax_the_fee_and_the_net() {
        let lines = [line(4861, 0, 486), line(339, 3240, 388)];
        let f = Figures::of(&lines, 0, 250, 0);
        assert_eq!((f.sales(), f.commission, f.commission_tax), (8440, 874, 87));
        assert_eq!(f.net_payable, 8440 - 874 - 87 - 250);
        assert_eq!(f.sales(), f.commission + f.commission_tax + f.transfer_fee + f.net_payable);
        // 5,200 at 10%: floor(5,200 × 10/110) = 472; 3,240 at 8%: 240
        assert_eq!((f.tax_10, f.tax_8), (472, 240));
        // below the minimum: nothing paid, no fee, all carried; the next statement pays it
        let small = Figures::of(&lines[..1], 0, 250, 5000);
        assert_eq!((small.net_payable, small.transfer_fee, small.carried_out), (0, 0, 4861 - 486 - 48));
        let next = Figures::of(&lines[1..], small.carried_out, 250, 5000);
        assert_eq!(
            next.carried_in + next.sales(),
            next.commission + next.commission_tax + next.transfer_fee + next.net_payable
        );
    }
}
