//! The read model: an order as staff and the shopper see it ([`OrderView`]), read from its
//! rows ([`view`]), or opened by the order token handed out once at checkout ([`by_token`]).

use catalog::variant::{FulfillmentType, TaxClass};
use chrono::{DateTime, NaiveDate, Utc};
use customers::address::{Address, AddressType};
use db::Tx;
use kernel::{Currency, CustomerId, Money, OrderId, OrderItemId, PaymentId, ShipmentId, StoreId, VariantId, VendorId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::status::{OrderStatus, PaymentMethod, PaymentStatus, ShipmentStatus};
use crate::CheckoutError;
use crate::settings::{self, BankAccount};
use crate::totals::TaxLine;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrderLine {
    pub id: OrderItemId,
    pub variant_id: VariantId,
    pub vendor_id: VendorId,
    pub product_title: String,
    pub variant_title: String,
    pub sku: String,
    pub fulfillment_type: FulfillmentType,
    /// standard (10%) or reduced (8%)
    pub tax_class: TaxClass,
    #[sqlx(skip)]
    pub unit_price: Option<Money>,
    #[serde(skip)]
    pub price_amount: i64,
    #[serde(skip)]
    pub price_currency: Currency,
    pub quantity: i32,
    /// This line's share of the order discount.
    #[serde(skip)]
    pub discount_amount: i64,
    #[sqlx(skip)]
    pub discount: Option<Money>,
    #[sqlx(skip)]
    pub line_total: Option<Money>,
    /// This line's shares of the order's shipping and COD fees.
    #[serde(skip)]
    pub shipping_fee_share: i64,
    #[serde(skip)]
    pub cod_fee_share: i64,
    #[serde(skip)]
    pub commission_rate_bps: i32,
    #[serde(skip)]
    pub commission_base_amount: i64,
    #[serde(skip)]
    pub commission_amount: i64,
    /// Set once the line was canceled (mall mode: a vendor's unshipped lines).
    pub canceled_at: Option<DateTime<Utc>>,
    /// Staff views: the mall's commission on this line, frozen when the order was placed.
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commission: Option<LineCommission>,
}

/// The commission of an order line (docs/MALL.md): fixed when the order is placed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineCommission {
    /// Basis points (1000 = 10%).
    pub rate_bps: i32,
    /// The line total after its share of the discount, plus the fee shares that carry commission.
    pub base: Money,
    /// `base × rate`, rounded down.
    pub amount: Money,
}

/// The columns of an [`OrderLine`].
pub const LINE_COLUMNS: &str =
    "id, variant_id, vendor_id, product_title, variant_title, sku, fulfillment_type, tax_class,
    price_amount, price_currency, quantity, discount_amount, shipping_fee_share, cod_fee_share,
    commission_rate_bps, commission_base_amount, commission_amount, canceled_at";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    pub id: PaymentId,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    /// What is due.
    pub amount: Money,
    /// What staff recorded as received.
    pub received: Option<Money>,
    /// The received amount differs from what is due.
    pub amount_mismatch: bool,
    /// Bank transfer: the order is canceled if unpaid by then.
    pub due_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Owed back to the shopper (paid offline).
    pub refund_owed: Money,
    pub refunded_at: Option<DateTime<Utc>>,
    /// Bank transfer, while pending: where to send it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<BankAccount>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Shipment {
    pub id: ShipmentId,
    pub vendor_id: VendorId,
    pub status: ShipmentStatus,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StatusChange {
    pub from_status: Option<String>,
    pub to_status: String,
    /// staff, shopper, system, operator
    pub actor_type: String,
    pub actor_id: Option<uuid::Uuid>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    pub id: OrderId,
    pub store_id: StoreId,
    /// Sequential per store.
    pub number: i64,
    pub status: OrderStatus,
    pub email: String,
    pub customer_id: Option<CustomerId>,
    pub currency: Currency,
    pub items: Vec<OrderLine>,
    pub subtotal: Money,
    pub discount: Money,
    pub promotion_code: Option<String>,
    pub shipping_fee: Money,
    pub cod_fee: Money,
    pub total: Money,
    /// Consumption tax per rate, as a qualified invoice states it.
    pub tax_lines: Vec<TaxLine>,
    pub payment: Payment,
    pub shipments: Vec<Shipment>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub delivery_date: Option<NaiveDate>,
    pub delivery_slot: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// Staff views only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<StatusChange>>,
    /// Set in a mall vendor's view: lines, shipments and every amount are that vendor's part
    /// only (docs/MALL.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<VendorId>,
    /// In a vendor's view: the shopper's contact details are masked (long after delivery).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub contact_masked: bool,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: OrderId,
    store_id: StoreId,
    order_number: i64,
    status: OrderStatus,
    email: String,
    customer_id: Option<CustomerId>,
    currency: Currency,
    subtotal_amount: i64,
    discount_amount: i64,
    shipping_fee_amount: i64,
    cod_fee_amount: i64,
    total_amount: i64,
    promotion_code: Option<String>,
    delivery_date: Option<NaiveDate>,
    delivery_slot: Option<String>,
    placed_at: DateTime<Utc>,
    canceled_at: Option<DateTime<Utc>>,
    cancel_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    id: PaymentId,
    method: PaymentMethod,
    status: PaymentStatus,
    amount: i64,
    currency: Currency,
    received_amount: Option<i64>,
    amount_mismatch: bool,
    due_at: Option<DateTime<Utc>>,
    confirmed_at: Option<DateTime<Utc>>,
    refund_owed_amount: i64,
    refunded_at: Option<DateTime<Utc>>,
}

/// Loads an order as staff or the shopper see it.
pub async fn view(tx: &mut Tx, store: StoreId, order: OrderId, with_history: bool) -> Result<OrderView, CheckoutError> {
    let o: OrderRow = sqlx::query_as(
        "SELECT id, store_id, order_number, status, email, customer_id, currency, subtotal_amount, discount_amount,
                shipping_fee_amount, cod_fee_amount, total_amount, promotion_code, delivery_date, delivery_slot, placed_at,
                canceled_at, cancel_reason
           FROM orders WHERE id = $1 AND store_id = $2",
    )
    .bind(order)
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CheckoutError::OrderNotFound)?;
    let c = o.currency;
    let mut items: Vec<OrderLine> =
        sqlx::query_as(&format!("SELECT {LINE_COLUMNS} FROM order_items WHERE order_id = $1 ORDER BY id"))
            .bind(order)
            .fetch_all(&mut **tx)
            .await?;
    for l in &mut items {
        let unit = Money::new(l.price_amount, l.price_currency);
        l.unit_price = Some(unit);
        l.discount = Some(Money::new(l.discount_amount, c));
        l.line_total = Some(Money::new(l.price_amount * l.quantity as i64 - l.discount_amount, c));
        if with_history {
            l.commission = Some(LineCommission {
                rate_bps: l.commission_rate_bps,
                base: Money::new(l.commission_base_amount, c),
                amount: Money::new(l.commission_amount, c),
            });
        }
    }
    let tax_lines: Vec<(i32, i64, i64)> = sqlx::query_as(
        "SELECT rate_bps, taxable_amount, tax_amount FROM order_tax_lines WHERE order_id = $1 ORDER BY rate_bps DESC",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    let p: PaymentRow = sqlx::query_as(
        "SELECT id, method, status, amount, currency, received_amount, amount_mismatch, due_at, confirmed_at, refund_owed_amount, refunded_at
           FROM payments WHERE order_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(order)
    .fetch_one(&mut **tx)
    .await?;
    let bank_account = if p.method == PaymentMethod::BankTransfer && p.status == PaymentStatus::Pending {
        Some(settings::load(tx, store).await?.bank_account)
    } else {
        None
    };
    let shipments: Vec<Shipment> = sqlx::query_as(
        "SELECT id, vendor_id, status, carrier, tracking_no, shipped_at, delivered_at FROM shipments WHERE order_id = $1 ORDER BY id",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    let addresses: Vec<Address> = sqlx::query_as(
        "SELECT type, name, name_kana, postal_code, prefecture, prefecture_code, city, line1, line2, phone
           FROM order_addresses WHERE order_id = $1",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    let shipping_address = addresses.iter().find(|a| a.kind == AddressType::Shipping).cloned();
    let billing_address = addresses.iter().find(|a| a.kind == AddressType::Billing).cloned();
    let history = if with_history {
        Some(
            sqlx::query_as(
                "SELECT from_status, to_status, actor_type, actor_id, note, created_at FROM order_status_history
                  WHERE order_id = $1 ORDER BY created_at, id",
            )
            .bind(order)
            .fetch_all(&mut **tx)
            .await?,
        )
    } else {
        None
    };
    Ok(OrderView {
        id: o.id,
        store_id: o.store_id,
        number: o.order_number,
        status: o.status,
        email: o.email,
        customer_id: o.customer_id,
        currency: c,
        items,
        subtotal: Money::new(o.subtotal_amount, c),
        discount: Money::new(o.discount_amount, c),
        promotion_code: o.promotion_code,
        shipping_fee: Money::new(o.shipping_fee_amount, c),
        cod_fee: Money::new(o.cod_fee_amount, c),
        total: Money::new(o.total_amount, c),
        tax_lines: tax_lines
            .into_iter()
            .map(|(r, t, x)| TaxLine { rate_bps: r as i64, taxable_amount: t, tax_amount: x })
            .collect(),
        payment: Payment {
            id: p.id,
            method: p.method,
            status: p.status,
            amount: Money::new(p.amount, p.currency),
            received: p.received_amount.map(|a| Money::new(a, p.currency)),
            amount_mismatch: p.amount_mismatch,
            due_at: p.due_at,
            confirmed_at: p.confirmed_at,
            refund_owed: Money::new(p.refund_owed_amount, p.currency),
            refunded_at: p.refunded_at,
            bank_account,
        },
        shipments,
        shipping_address,
        billing_address,
        delivery_date: o.delivery_date,
        delivery_slot: o.delivery_slot,
        placed_at: o.placed_at,
        canceled_at: o.canceled_at,
        cancel_reason: o.cancel_reason,
        history,
        vendor_id: None,
        contact_masked: false,
    })
}

/// What is stored of an order token: its SHA-256.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The order a token opens.
pub async fn by_token(tx: &mut Tx, store: StoreId, order: OrderId, token: &str) -> Result<OrderView, CheckoutError> {
    let ok: Option<bool> =
        sqlx::query_scalar("SELECT true FROM orders WHERE id = $1 AND store_id = $2 AND token_hash = $3")
            .bind(order)
            .bind(store)
            .bind(hash_token(token))
            .fetch_optional(&mut **tx)
            .await?;
    if ok.is_none() {
        return Err(CheckoutError::OrderNotFound);
    }
    view(tx, store, order, false).await
}
