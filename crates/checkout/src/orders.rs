//! Staff's view of orders: the filtered list, one order with its history, and the CSV export
//! for accounting. A mall vendor's staff get the orders holding their lines, each showing only
//! their part ([`crate::vendor_part`]).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{Money, OrderId, Page, PageRequest, StoreId, VendorId};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use crate::CheckoutError;
use crate::order::{self, OrderLine, OrderStatus, OrderView, PaymentMethod, PaymentStatus};
use crate::vendor_part::PartTotals;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrderSummary {
    pub id: OrderId,
    pub number: i64,
    pub status: OrderStatus,
    pub email: String,
    #[sqlx(skip)]
    pub total: Option<Money>,
    #[serde(skip)]
    pub total_amount: i64,
    #[serde(skip)]
    pub currency: kernel::Currency,
    pub payment_method: PaymentMethod,
    pub payment_status: PaymentStatus,
    pub placed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub payment_status: Option<PaymentStatus>,
    pub payment_method: Option<PaymentMethod>,
    /// Placed on or after this day (store time, Asia/Tokyo).
    pub placed_from: Option<NaiveDate>,
    /// Placed on or before this day.
    pub placed_to: Option<NaiveDate>,
    /// The order number.
    pub number: Option<i64>,
    /// The shopper's email (exact, any case).
    pub email: Option<String>,
    /// Part of the name or its kana on the shipping or billing address (full- or half-width,
    /// spaces ignored).
    pub name: Option<String>,
    /// The phone number on an address (any common way of writing it).
    pub phone: Option<String>,
    /// A shipment's tracking number (exact).
    pub tracking_no: Option<String>,
    /// Only bank transfers past their payment due date and still not received (true), or
    /// none of those (false).
    pub overdue: Option<bool>,
    /// The customer's orders (a merged duplicate's orders are the survivor's).
    pub customer_id: Option<kernel::CustomerId>,
}

fn filters<'a>(qb: &mut QueryBuilder<'a, Postgres>, store: StoreId, q: &'a OrderFilter, by: Acting<'_>) {
    qb.push(" WHERE o.store_id = ").push_bind(store).push(" AND o.order_number > 0");
    if let Some(s) = q.status {
        qb.push(" AND o.status = ").push_bind(s);
    }
    if let Some(s) = q.payment_status {
        qb.push(" AND p.status = ").push_bind(s);
    }
    if let Some(m) = q.payment_method {
        qb.push(" AND o.payment_method = ").push_bind(m);
    }
    if let Some(d) = q.placed_from {
        qb.push(" AND o.placed_at >= (").push_bind(d).push("::date::timestamp AT TIME ZONE 'Asia/Tokyo')");
    }
    if let Some(d) = q.placed_to {
        qb.push(" AND o.placed_at < ((").push_bind(d).push("::date + 1)::timestamp AT TIME ZONE 'Asia/Tokyo')");
    }
    if let Some(n) = q.number {
        qb.push(" AND o.order_number = ").push_bind(n);
    }
    if let Some(c) = q.customer_id {
        qb.push(" AND o.customer_id = ").push_bind(c);
    }
    if let Some(e) = &q.email {
        // as checkout stored it; a string that is no email matches nothing
        let e = customers::identity::normalize_email(e).unwrap_or_else(|_| e.trim().to_lowercase());
        qb.push(" AND o.email = ").push_bind(e);
    }
    if let Some(n) = q.name.as_deref().map(kernel::jp::fold_name).filter(|n| !n.is_empty()) {
        let pattern = format!("%{}%", n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        // name_folded: the name and its kana, NFKC, spaces removed (a stored column)
        qb.push(" AND EXISTS (SELECT 1 FROM order_addresses a WHERE a.order_id = o.id AND a.name_folded ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    if let Some(p) = q.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        // as checkout stored it; a string that is no phone number matches nothing
        let p = kernel::jp::normalize_phone(p).unwrap_or_else(|_| p.trim().to_string());
        qb.push(" AND EXISTS (SELECT 1 FROM order_addresses a WHERE a.order_id = o.id AND a.phone = ")
            .push_bind(p)
            .push(")");
    }
    if let Some(overdue) = q.overdue {
        qb.push(if overdue { " AND " } else { " AND NOT " })
            .push("(o.status = 'pending_payment' AND p.due_at IS NOT NULL AND p.due_at < now())");
    }
    if let Some(t) = q.tracking_no.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        qb.push(" AND EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.id AND s.tracking_no = ").push_bind(t);
        if let Some(vendor) = by.vendor() {
            qb.push(" AND s.vendor_id = ").push_bind(vendor);
        }
        qb.push(")");
    }
    if let Some(vendor) = by.vendor() {
        qb.push(" AND EXISTS (SELECT 1 FROM order_items oi WHERE oi.order_id = o.id AND oi.vendor_id = ")
            .push_bind(vendor)
            .push(")");
    }
}

/// A vendor's part of each of some orders: its totals, and whether the shopper's details are
/// masked (keyed by order).
async fn vendor_parts(
    tx: &mut Tx,
    vendor: VendorId,
    orders: &[OrderId],
) -> Result<HashMap<OrderId, (PartTotals, bool)>, CheckoutError> {
    let lines: Vec<(OrderId, OrderLine)> = {
        #[derive(sqlx::FromRow)]
        struct Row {
            order_id: OrderId,
            #[sqlx(flatten)]
            line: OrderLine,
        }
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT order_id, {} FROM order_items WHERE order_id = ANY($1) AND vendor_id = $2",
            order::LINE_COLUMNS
        ))
        .bind(orders)
        .bind(vendor)
        .fetch_all(&mut **tx)
        .await?;
        rows.into_iter().map(|r| (r.order_id, r.line)).collect()
    };
    // when the vendor's part was delivered: its shipment, or the payment for a digital part
    let delivered: HashMap<OrderId, Option<DateTime<Utc>>> = sqlx::query_as(
        "SELECT o.id, coalesce((SELECT s.delivered_at FROM shipments s WHERE s.order_id = o.id AND s.vendor_id = $2),
                               CASE WHEN NOT EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.id AND s.vendor_id = $2)
                                    THEN (SELECT p.confirmed_at FROM payments p WHERE p.order_id = o.id ORDER BY p.id LIMIT 1) END)
           FROM orders o WHERE o.id = ANY($1)",
    )
    .bind(orders)
    .bind(vendor)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let mask_days = crate::vendor_part::contact_mask_days(tx).await?;
    let now = Utc::now();
    let mut out = HashMap::new();
    for id in orders {
        let mine: Vec<&OrderLine> = lines.iter().filter(|(o, _)| o == id).map(|(_, l)| l).collect();
        let hide = crate::vendor_part::masked(delivered.get(id).copied().flatten(), mask_days, now);
        out.insert(*id, (PartTotals::of(mine), hide));
    }
    Ok(out)
}

/// Orders, newest first.
pub async fn list(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    q: &OrderFilter,
    page: &PageRequest,
) -> Result<Page<OrderSummary>, CheckoutError> {
    by.require(Permission::OrdersRead)?;
    let limit = page.limit()?;
    let before: Option<(DateTime<Utc>, OrderId)> = page.after()?;
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT o.id, o.order_number AS number, o.status, o.email, o.total_amount, o.currency, o.payment_method,
                p.status AS payment_status, o.placed_at
           FROM orders o JOIN payments p ON p.order_id = o.id",
    );
    filters(&mut qb, store, q, by);
    if let Some((at, id)) = before {
        qb.push(" AND (o.placed_at, o.id) < (").push_bind(at).push(", ").push_bind(id).push(")");
    }
    qb.push(" ORDER BY o.placed_at DESC, o.id DESC LIMIT ").push_bind(limit as i64 + 1);
    let mut rows: Vec<OrderSummary> = qb.build_query_as().fetch_all(&mut **tx).await?;
    if let Some(vendor) = by.vendor() {
        let ids: Vec<OrderId> = rows.iter().map(|r| r.id).collect();
        let parts = vendor_parts(tx, vendor, &ids).await?;
        for r in &mut rows {
            let (part, hide) = parts.get(&r.id).copied().unwrap_or_default();
            r.total_amount = part.total;
            if hide {
                r.email = crate::vendor_part::MASK.into();
            }
        }
    }
    for r in &mut rows {
        r.total = Some(Money::new(r.total_amount, r.currency));
    }
    Ok(Page::from_rows(rows, limit, |o| (o.placed_at, o.id)))
}

/// The ids of every order the list's filters match (no page): what a bulk action over "the
/// filtered orders" acts on, such as the console's carrier CSV.
pub async fn matching_ids(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    q: &OrderFilter,
) -> Result<Vec<OrderId>, CheckoutError> {
    by.require(Permission::OrdersRead)?;
    let mut qb: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id");
    filters(&mut qb, store, q, by);
    Ok(qb.build_query_scalar().fetch_all(&mut **tx).await?)
}

/// A signed-in shopper's orders in this store, newest first: those placed while signed in,
/// and guest orders placed with an email the account has verified (`emails`).
pub async fn for_customer(
    tx: &mut Tx,
    store: StoreId,
    customer: kernel::CustomerId,
    emails: &[String],
    page: &PageRequest,
) -> Result<Page<OrderSummary>, CheckoutError> {
    let limit = page.limit()?;
    let before: Option<(DateTime<Utc>, OrderId)> = page.after()?;
    let (at, id) = before.unzip();
    let mut rows: Vec<OrderSummary> = sqlx::query_as(
        "SELECT o.id, o.order_number AS number, o.status, o.email, o.total_amount, o.currency, o.payment_method,
                p.status AS payment_status, o.placed_at
           FROM orders o JOIN payments p ON p.order_id = o.id
          WHERE o.store_id = $1 AND o.customer_id = $2 AND o.order_number > 0
            AND (o.placed_signed_in OR o.email = ANY($3))
            AND ($4::timestamptz IS NULL OR (o.placed_at, o.id) < ($4, $5))
          ORDER BY o.placed_at DESC, o.id DESC LIMIT $6",
    )
    .bind(store)
    .bind(customer)
    .bind(emails)
    .bind(at)
    .bind(id)
    .bind(limit as i64 + 1)
    .fetch_all(&mut **tx)
    .await?;
    for r in &mut rows {
        r.total = Some(Money::new(r.total_amount, r.currency));
    }
    Ok(Page::from_rows(rows, limit, |o| (o.placed_at, o.id)))
}

/// One of a signed-in shopper's orders (as [`for_customer`] lists them), in full.
pub async fn customer_order(
    tx: &mut Tx,
    store: StoreId,
    customer: kernel::CustomerId,
    emails: &[String],
    id: OrderId,
) -> Result<OrderView, CheckoutError> {
    customer_token_hash(tx, store, customer, emails, id).await?;
    order::view(tx, store, id, false).await
}

/// The order's token hash, when the order is the customer's (as [`customer_order`] decides):
/// what the token link's holder may do with the order (downloads, the receipt) the signed-in
/// shopper may do too, through the same checks. Another's order is "not found".
pub async fn customer_token_hash(
    tx: &mut Tx,
    store: StoreId,
    customer: kernel::CustomerId,
    emails: &[String],
    id: OrderId,
) -> Result<Vec<u8>, CheckoutError> {
    let hash: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT o.token_hash FROM orders o WHERE o.id = $1 AND o.store_id = $2 AND o.customer_id = $3
            AND (o.placed_signed_in OR o.email = ANY($4))",
    )
    .bind(id)
    .bind(store)
    .bind(customer)
    .bind(emails)
    .fetch_optional(&mut **tx)
    .await?;
    hash.ok_or(CheckoutError::OrderNotFound)
}

/// Today's work on the console's home page.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, sqlx::FromRow)]
pub struct WorkCounts {
    /// Bank transfers not yet received (orders `pending_payment`).
    pub awaiting_payment: i64,
    /// Of those, the ones past their payment due date.
    pub overdue: i64,
    /// Orders with a shipment waiting to leave (paid, or cash on delivery); for a vendor's
    /// staff, their own shipment.
    pub to_ship: i64,
}

/// How many orders wait for a payment, are overdue, and wait to be shipped.
pub async fn work(tx: &mut Tx, store: StoreId, by: Acting<'_>) -> Result<WorkCounts, CheckoutError> {
    by.require(Permission::OrdersRead)?;
    let counts: WorkCounts = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE o.status = 'pending_payment') AS awaiting_payment,
                count(*) FILTER (WHERE o.status = 'pending_payment' AND p.due_at IS NOT NULL AND p.due_at < now()) AS overdue,
                count(*) FILTER (WHERE o.status IN ('processing', 'partially_shipped')
                                   AND EXISTS (SELECT 1 FROM shipments s WHERE s.order_id = o.id AND s.status = 'pending'
                                                 AND ($2::uuid IS NULL OR s.vendor_id = $2))) AS to_ship
           FROM orders o JOIN payments p ON p.order_id = o.id
          WHERE o.store_id = $1 AND o.order_number > 0 AND o.status IN ('pending_payment', 'processing', 'partially_shipped')
            AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM order_items oi WHERE oi.order_id = o.id AND oi.vendor_id = $2))",
    )
    .bind(store)
    .bind(by.vendor())
    .fetch_one(&mut **tx)
    .await?;
    Ok(counts)
}

/// One order with its history; a vendor's staff get their part of it.
pub async fn get(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: OrderId) -> Result<OrderView, CheckoutError> {
    by.require(Permission::OrdersRead)?;
    crate::vendor_part::for_staff(tx, store, by, id).await
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    id: OrderId,
    order_number: i64,
    placed_at: DateTime<Utc>,
    status: String,
    email: String,
    currency: String,
    subtotal_amount: i64,
    discount_amount: i64,
    shipping_fee_amount: i64,
    cod_fee_amount: i64,
    total_amount: i64,
    payment_method: String,
    payment_status: String,
    received_amount: Option<i64>,
    refund_owed_amount: i64,
    taxable_10: Option<i64>,
    tax_10: Option<i64>,
    taxable_8: Option<i64>,
    tax_8: Option<i64>,
    promotion_code: Option<String>,
    canceled_at: Option<DateTime<Utc>>,
}

/// The orders of the list's filters as CSV for accounting: one row per order with amounts, the
/// consumption tax per rate (10% and 8%) and the payment. For a vendor's staff the amounts are
/// their part's, and what was received is left out.
pub async fn export(tx: &mut Tx, store: StoreId, by: Acting<'_>, q: &OrderFilter) -> Result<String, CheckoutError> {
    by.require(Permission::OrdersRead)?;
    by.require(Permission::DataExport)?;
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT o.id, o.order_number, o.placed_at, o.status, o.email, o.currency, o.subtotal_amount, o.discount_amount,
                o.shipping_fee_amount, o.cod_fee_amount, o.total_amount, o.payment_method, p.status AS payment_status,
                p.received_amount, p.refund_owed_amount,
                (SELECT taxable_amount FROM order_tax_lines t WHERE t.order_id = o.id AND t.rate_bps = 1000) AS taxable_10,
                (SELECT tax_amount FROM order_tax_lines t WHERE t.order_id = o.id AND t.rate_bps = 1000) AS tax_10,
                (SELECT taxable_amount FROM order_tax_lines t WHERE t.order_id = o.id AND t.rate_bps = 800) AS taxable_8,
                (SELECT tax_amount FROM order_tax_lines t WHERE t.order_id = o.id AND t.rate_bps = 800) AS tax_8,
                o.promotion_code, o.canceled_at
           FROM orders o JOIN payments p ON p.order_id = o.id",
    );
    filters(&mut qb, store, q, by);
    qb.push(" ORDER BY o.order_number");
    let mut rows: Vec<ExportRow> = qb.build_query_as().fetch_all(&mut **tx).await?;
    if let Some(vendor) = by.vendor() {
        let ids: Vec<OrderId> = rows.iter().map(|r| r.id).collect();
        let parts = vendor_parts(tx, vendor, &ids).await?;
        for r in &mut rows {
            let (part, hide) = parts.get(&r.id).copied().unwrap_or_default();
            let tax = part.tax_lines();
            let rate = |bps| tax.iter().find(|t| t.rate_bps == bps).copied();
            r.subtotal_amount = part.subtotal;
            r.discount_amount = part.discount;
            r.shipping_fee_amount = part.shipping_fee;
            r.cod_fee_amount = part.cod_fee;
            r.total_amount = part.total;
            r.taxable_10 = rate(crate::totals::STANDARD_BPS).map(|t| t.taxable_amount);
            r.tax_10 = rate(crate::totals::STANDARD_BPS).map(|t| t.tax_amount);
            r.taxable_8 = rate(crate::totals::REDUCED_BPS).map(|t| t.taxable_amount);
            r.tax_8 = rate(crate::totals::REDUCED_BPS).map(|t| t.tax_amount);
            r.received_amount = None;
            r.refund_owed_amount = 0;
            if hide {
                r.email = crate::vendor_part::MASK.into();
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "order_number",
        "placed_at",
        "status",
        "email",
        "currency",
        "subtotal",
        "discount",
        "shipping_fee",
        "cod_fee",
        "total",
        "taxable_10",
        "tax_10",
        "taxable_8",
        "tax_8",
        "payment_method",
        "payment_status",
        "received",
        "refund_owed",
        "promotion_code",
        "canceled_at",
    ];
    let bad = |e: csv::Error| CheckoutError::Db(sqlx::Error::Protocol(e.to_string()));
    w.write_record(header).map_err(bad)?;
    for r in rows {
        let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        w.write_record([
            r.order_number.to_string(),
            r.placed_at.to_rfc3339(),
            r.status,
            r.email,
            r.currency,
            r.subtotal_amount.to_string(),
            r.discount_amount.to_string(),
            r.shipping_fee_amount.to_string(),
            r.cod_fee_amount.to_string(),
            r.total_amount.to_string(),
            n(r.taxable_10),
            n(r.tax_10),
            n(r.taxable_8),
            n(r.tax_8),
            r.payment_method,
            r.payment_status,
            n(r.received_amount),
            r.refund_owed_amount.to_string(),
            r.promotion_code.unwrap_or_default(),
            r.canceled_at.map(|c| c.to_rfc3339()).unwrap_or_default(),
        ])
        .map_err(bad)?;
    }
    let bytes = w.into_inner().map_err(|e| CheckoutError::Db(sqlx::Error::Protocol(e.to_string())))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}
