//! Orders: placing one from a cart, and what an order looks like.
//!
//! **Placing** is one transaction (see [`place_order`]): the cart is locked; prices, the
//! promotion and availability are checked again; the cart's holds are consumed and what is
//! missing is held now; then the order, its lines, addresses, tax lines, payment and one
//! shipment per vendor are written, the promotion use is claimed, the cart is marked ordered
//! and the events are recorded. Any refusal leaves nothing behind.
//!
//! **Status** follows from the payment and the shipments by one rule ([`derive_status`]):
//!
//! | payment \ shipments | none shipped | some shipped | all shipped | all delivered | no shipments (digital) |
//! |---|---|---|---|---|---|
//! | bank transfer pending | pending_payment | – | – | – | pending_payment |
//! | COD pending | processing | partially_shipped | shipped | delivered | – |
//! | confirmed | processing | partially_shipped | shipped | completed | completed |
//!
//! and `canceled` once canceled. Shipments move `pending -> shipped -> delivered`, or
//! `pending -> canceled`; a bank-transfer order ships only once paid.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use customers::address::{Address, AddressInput, AddressType};
use db::Tx;
use inventory::reservation::{self, Ask};
use kernel::{
    CartItemId, Currency, CustomerId, LocationId, Money, OrderId, OrderItemId, PaymentId, ProductId, ReservationId,
    ShipmentId, StoreId, Validator, VariantId, VendorId,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::CheckoutError;
use crate::cart::{self, CartKey};
use crate::event::PaymentConfirmed;
use crate::items;
use crate::promotions;
use crate::settings::{self, BankAccount};
use crate::totals::{self, CodRules, Line, ShippingRules, TaxLine};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Processing,
    PartiallyShipped,
    Shipped,
    Delivered,
    Completed,
    Canceled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Processing => "processing",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PaymentMethod {
    /// 銀行振込: the shopper transfers; staff confirm the amount received.
    BankTransfer,
    /// 代金引換: the carrier collects on delivery.
    Cod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Confirmed,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ShipmentStatus {
    Pending,
    Shipped,
    Delivered,
    Canceled,
}

/// The order status that the payment and shipments imply (module docs).
pub fn derive_status(
    method: PaymentMethod,
    payment: PaymentStatus,
    shipments: &[ShipmentStatus],
    canceled: bool,
) -> OrderStatus {
    use ShipmentStatus::*;
    if canceled {
        return OrderStatus::Canceled;
    }
    let paid = payment == PaymentStatus::Confirmed;
    if method == PaymentMethod::BankTransfer && !paid {
        return OrderStatus::PendingPayment;
    }
    let live: Vec<ShipmentStatus> = shipments.iter().copied().filter(|s| *s != Canceled).collect();
    if live.is_empty() {
        return if paid { OrderStatus::Completed } else { OrderStatus::Processing };
    }
    let delivered = live.iter().filter(|s| **s == Delivered).count();
    let shipped = live.iter().filter(|s| **s == Shipped).count();
    if delivered == live.len() {
        return if paid { OrderStatus::Completed } else { OrderStatus::Delivered };
    }
    if shipped + delivered == live.len() {
        return OrderStatus::Shipped;
    }
    if shipped + delivered > 0 {
        return OrderStatus::PartiallyShipped;
    }
    OrderStatus::Processing
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrderLine {
    pub id: OrderItemId,
    pub variant_id: VariantId,
    pub vendor_id: VendorId,
    pub product_title: String,
    pub variant_title: String,
    pub sku: String,
    pub fulfillment_type: String,
    /// standard (10%) or reduced (8%)
    pub tax_class: String,
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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    #[schema(example = "hanako@example.jp")]
    pub email: String,
    pub shipping_address: Option<AddressInput>,
    /// Defaults to the shipping address.
    pub billing_address: Option<AddressInput>,
    pub payment_method: PaymentMethod,
    /// A delivery date the shopper asks for (physical goods).
    pub delivery_date: Option<NaiveDate>,
    /// One of the store's delivery slots (`GET .../checkout-options`).
    pub delivery_slot: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlacedOrder {
    pub order: OrderView,
    /// Send as `X-Order-Token` to see the order later. Shown once.
    pub order_token: String,
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("ot_{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[derive(sqlx::FromRow)]
struct CartLineRow {
    id: CartItemId,
    variant_id: VariantId,
    product_id: ProductId,
    vendor_id: VendorId,
    quantity: i32,
    price_amount: i64,
    current_price: i64,
    product_title: String,
    variant_title: String,
    sku: String,
    fulfillment_type: String,
    tax_class: String,
    sellable: bool,
    /// The single-brand tenant's own vendor: no commission.
    house: bool,
}

impl CartLineRow {
    fn physical(&self) -> bool {
        self.fulfillment_type == "physical"
    }
}

/// Places an order from a cart (module docs). `idem` is the Idempotency-Key.
pub async fn place_order(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    input: &PlaceOrder,
    idem: &str,
) -> Result<(u16, serde_json::Value), CheckoutError> {
    // one request per cart at a time: replays and racing retries wait here, then replay
    let cart_row: Option<(cart::CartStatus,)> =
        sqlx::query_as("SELECT status FROM carts WHERE id = $1 AND store_id = $2 AND secret_hash = $3 FOR UPDATE")
            .bind(key.id)
            .bind(store)
            .bind(key.secret_hash())
            .fetch_optional(&mut **tx)
            .await?;
    if cart_row.is_none() {
        return Err(CheckoutError::CartNotFound);
    }
    // keys are the store's: the same key on another cart is another request
    let scope = format!("checkout:{store}");
    let hash = crate::idempotency::request_hash(&(key.id, input));
    if let Some(answer) = crate::idempotency::find(tx, &scope, idem, &hash).await? {
        return Ok(answer);
    }
    let cart = cart::lock_active(tx, store, key).await?;
    let s = settings::load(tx, store).await?;

    // input
    let mut v = Validator::new();
    let typed = v.text("email", &input.email, 254);
    // the customer's identity and the order's email are one string, however it was typed
    let email = if typed.is_empty() {
        typed
    } else {
        v.check("email", customers::identity::normalize_email(&typed)).unwrap_or(typed)
    };
    let lines: Vec<CartLineRow> = sqlx::query_as(
        "SELECT i.id, i.variant_id, p.id AS product_id, i.vendor_id, i.quantity, i.price_amount, v.price_amount AS current_price,
                p.title AS product_title, v.title AS variant_title, v.sku, v.fulfillment_type, v.tax_class,
                (v.status = 'active' AND p.status = 'active' AND v.deleted_at IS NULL AND p.deleted_at IS NULL
                 AND EXISTS (SELECT 1 FROM vendors ve WHERE ve.id = p.vendor_id AND ve.status = 'active')) AS sellable,
                EXISTS (SELECT 1 FROM vendors ve WHERE ve.id = i.vendor_id AND ve.is_house) AS house
           FROM cart_items i JOIN variants v ON v.id = i.variant_id JOIN products p ON p.id = v.product_id
          WHERE i.cart_id = $1 ORDER BY i.created_at, i.id",
    )
    .bind(cart.id)
    .fetch_all(&mut **tx)
    .await?;
    if lines.is_empty() {
        return Err(CheckoutError::EmptyCart);
    }
    let shipped = lines.iter().any(CartLineRow::physical);
    let shipping_address = match (&input.shipping_address, shipped) {
        (Some(a), _) => Address::parse_in(&mut v, "shipping_address.", a),
        (None, true) => {
            v.push("shipping_address", "required", "physical goods need a shipping address");
            None
        }
        (None, false) => None,
    };
    let billing_address = input.billing_address.as_ref().and_then(|a| Address::parse_in(&mut v, "billing_address.", a));
    if let Some(slot) = &input.delivery_slot {
        if !shipped {
            v.push("delivery_slot", "invalid", "only for physical goods");
        } else if !s.delivery_slots.iter().any(|d| &d.code == slot) {
            v.push("delivery_slot", "invalid", "not one of the store's delivery slots");
        }
    }
    if let Some(date) = input.delivery_date {
        let today = Utc::now().date_naive();
        if !shipped || date <= today || date > today + chrono::Duration::days(60) {
            v.push("delivery_date", "out_of_range", "a day after today, within 60 days, for physical goods");
        }
    }
    v.into_result()?;

    // prices and availability are what they are now
    if lines.iter().any(|l| !l.sellable) {
        return Err(CheckoutError::VariantNotAvailable);
    }
    let changed: Vec<&CartLineRow> = lines.iter().filter(|l| l.current_price != l.price_amount).collect();
    if !changed.is_empty() {
        for l in &changed {
            sqlx::query("UPDATE cart_items SET price_amount = $2 WHERE id = $1")
                .bind(l.id)
                .bind(l.current_price)
                .execute(&mut **tx)
                .await?;
        }
        return Err(CheckoutError::PricesChanged);
    }
    // each physical line's live holds (read in one go); what lapsed is held again now
    let physical: Vec<CartItemId> = lines.iter().filter(|l| l.physical()).map(|l| l.id).collect();
    let held: Vec<(ReservationId, CartItemId, i32, LocationId)> = sqlx::query_as(
        "SELECT id, cart_item_id, quantity, location_id FROM inventory_reservations
          WHERE cart_item_id = ANY($1) AND status = 'active' AND expires_at > now() ORDER BY id",
    )
    .bind(&physical)
    .fetch_all(&mut **tx)
    .await?;
    let mut holds: Vec<ReservationId> = Vec::new();
    // the location each line's units come from (its first hold's)
    let mut location_of: HashMap<CartItemId, LocationId> = HashMap::new();
    for l in lines.iter().filter(|l| l.physical()) {
        let mine: Vec<&(ReservationId, CartItemId, i32, LocationId)> = held.iter().filter(|h| h.1 == l.id).collect();
        let have: i32 = mine.iter().map(|h| h.2).sum();
        if let Some(first) = mine.first() {
            location_of.insert(l.id, first.3);
        }
        if have > l.quantity {
            // more held than wanted (should not happen): give the excess back
            let excess: Vec<ReservationId> = mine.iter().skip(1).map(|h| h.0).collect();
            reservation::end(
                tx,
                store,
                &excess,
                reservation::ReservationStatus::Released,
                kernel::access::Actor::Shopper,
            )
            .await?;
            holds.extend(mine.first().map(|h| h.0));
            continue;
        }
        holds.extend(mine.iter().map(|h| h.0));
        if have < l.quantity {
            let ask = Ask {
                variant: l.variant_id,
                quantity: l.quantity - have,
                cart: cart.id,
                cart_item: Some(l.id),
                customer: cart.customer_id,
                // read only when a hold lapsed: most checkouts re-hold nothing
                ttl_seconds: items::reservation_ttl(tx, store).await?,
            };
            match reservation::reserve(tx, store, &ask).await? {
                Ok(h) => {
                    location_of.entry(l.id).or_insert(h.location_id);
                    holds.push(h.reservation_id);
                }
                Err(refusal) => return Err(CheckoutError::Refused(refusal)),
            }
        }
    }

    // money
    let currency = s.currency;
    let totals_lines: Vec<Line> = lines
        .iter()
        .map(|l| Line {
            unit_price: l.price_amount,
            quantity: l.quantity as i64,
            tax_bps: if l.tax_class == "reduced" { totals::REDUCED_BPS } else { totals::STANDARD_BPS },
            shipped: l.physical(),
        })
        .collect();
    let subtotal: i64 = totals_lines.iter().map(Line::total).sum();
    let promotion = promotions::for_cart(tx, store, cart.promotion_id).await?;
    // a signed-in shopper's cart is their account's; a guest is found (or made) by the email
    let signed_in = cart.customer_id.is_some();
    let customer = match cart.customer_id {
        Some(c) => c,
        None => {
            customers::identity::resolve(
                tx,
                store,
                customers::identity::ResolveInput {
                    email: Some(email.clone()),
                    phone: shipping_address.as_ref().and_then(|a| a.phone.clone()),
                    external_id: None,
                    name: shipping_address.as_ref().map(|a| a.name.clone()),
                    name_kana: shipping_address.as_ref().map(|a| a.name_kana.clone()).filter(|k| !k.is_empty()),
                    verified: false,
                },
                customers::identity::Source::Checkout,
            )
            .await
            .map_err(|e| {
                use kernel::Problem;
                match e.status() {
                    500 => CheckoutError::Db(sqlx::Error::Protocol(e.to_string())),
                    _ => CheckoutError::Validation(kernel::ValidationErrors::one("email", e.code(), e.to_string())),
                }
            })?
            .customer_id
        }
    };
    let customer = Some(customer);
    if let Some(p) = &promotion {
        let uses = promotions::customer_uses(tx, p.id, customer, Some(&email)).await?;
        promotions::check(p, Utc::now(), subtotal, uses).map_err(CheckoutError::Ineligible)?;
    }
    let shipping_rules = ShippingRules {
        flat_fee: s.shipping_flat_fee.amount,
        free_threshold: s.free_shipping_threshold.map(|m| m.amount),
        prefecture_fee: shipping_address.as_ref().and_then(|a| s.prefecture_fee(a.prefecture_code as u8)),
    };
    let cod_rules = CodRules { tiers: s.cod_fee_tiers.iter().map(|t| (t.up_to.amount, t.fee.amount)).collect() };
    let t = match input.payment_method {
        PaymentMethod::BankTransfer => {
            if !s.bank_transfer_enabled {
                return Err(CheckoutError::PaymentMethodUnavailable("bank transfer is not offered by this store"));
            }
            totals::compute(&totals_lines, promotion.as_ref().map(|p| p.discount()), &shipping_rules, None)
        }
        PaymentMethod::Cod => {
            if !s.cod_enabled {
                return Err(CheckoutError::PaymentMethodUnavailable("cash on delivery is not offered by this store"));
            }
            if !shipped {
                return Err(CheckoutError::PaymentMethodUnavailable("cash on delivery needs something to deliver"));
            }
            let t = totals::compute(
                &totals_lines,
                promotion.as_ref().map(|p| p.discount()),
                &shipping_rules,
                Some(&cod_rules),
            );
            let covered = totals::cod_fee(t.total - t.cod_fee, &cod_rules).is_some();
            if !covered || t.total > s.cod_limit.amount {
                return Err(CheckoutError::PaymentMethodUnavailable(
                    "the total is above this store's cash-on-delivery limit",
                ));
            }
            t
        }
    };

    // the mall's commission on each line, frozen here (docs/MALL.md); a single-brand tenant
    // sells as itself and pays none (no round trip on its checkouts)
    let terms = if lines.iter().all(|l| l.house) {
        tenancy::commission::Terms::default()
    } else {
        tenancy::commission::terms(
            tx,
            &lines.iter().map(|l| (l.product_id, l.vendor_id)).collect::<Vec<_>>(),
            kernel::jp::today(),
        )
        .await?
    };
    let commission: Vec<(i32, i64, i64)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let rate = terms.rate(l.product_id);
            let goods = l.price_amount * l.quantity as i64 - t.line_discounts[i];
            let base = terms.base(goods, t.line_shipping_fees[i], t.line_cod_fees[i]);
            (rate, base, tenancy::commission::amount(base, rate))
        })
        .collect();

    // the order (its number comes last, below)
    let order = OrderId::new();
    let placeholder = -(rand::random::<i64>() & i64::MAX).max(1);
    let token = new_token();
    // nothing to pay (a code took it all): paid at once, so digital goods are delivered now
    let free = t.total == 0;
    let payment_status = if free { PaymentStatus::Confirmed } else { PaymentStatus::Pending };
    let status = derive_status(input.payment_method, payment_status, &[], false);
    let status = if shipped && status == OrderStatus::Completed { OrderStatus::Processing } else { status };
    sqlx::query(
        "INSERT INTO orders (id, tenant_id, store_id, order_number, customer_id, cart_id, email, status, currency, subtotal_amount,
            discount_amount, shipping_fee_amount, cod_fee_amount, total_amount, payment_method, promotion_id, promotion_code,
            delivery_date, delivery_slot, token_hash, idempotency_key, placed_signed_in)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
    )
    .bind(order)
    .bind(tx.tenant())
    .bind(store)
    .bind(placeholder)
    .bind(customer)
    .bind(cart.id)
    .bind(&email)
    .bind(status)
    .bind(currency)
    .bind(t.subtotal)
    .bind(t.discount)
    .bind(t.shipping_fee)
    .bind(t.cod_fee)
    .bind(t.total)
    .bind(input.payment_method)
    .bind(promotion.as_ref().map(|p| p.id))
    .bind(promotion.as_ref().map(|p| p.code.clone()))
    .bind(input.delivery_date)
    .bind(&input.delivery_slot)
    .bind(hash_token(&token))
    .bind(idem)
    .bind(signed_in)
    .execute(&mut **tx)
    .await
    .map_err(|e| match &e {
        // another cart's checkout took this key first (it waited here for that one's commit)
        sqlx::Error::Database(d) if d.constraint() == Some("orders_idempotency_key") => CheckoutError::IdempotencyKeyReused,
        _ => e.into(),
    })?;
    // the lines, with the location their units come from, and the tax per rate: one statement each
    sqlx::query(
        "INSERT INTO order_items (id, tenant_id, order_id, vendor_id, variant_id, product_title, variant_title, sku,
            fulfillment_type, tax_class, price_amount, price_currency, quantity, discount_amount, location_id,
            shipping_fee_share, cod_fee_share, commission_rate_bps, commission_base_amount, commission_amount)
         SELECT u.id, $1, $2, u.vendor_id, u.variant_id, u.product_title, u.variant_title, u.sku, u.fulfillment_type,
                u.tax_class, u.price_amount, $3, u.quantity, u.discount_amount, u.location_id,
                u.shipping_fee_share, u.cod_fee_share, u.commission_rate_bps, u.commission_base_amount, u.commission_amount
           FROM UNNEST($4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                       $12::int8[], $13::int4[], $14::int8[], $15::uuid[], $16::int8[], $17::int8[], $18::int4[],
                       $19::int8[], $20::int8[])
             AS u(id, vendor_id, variant_id, product_title, variant_title, sku, fulfillment_type, tax_class, price_amount,
                  quantity, discount_amount, location_id, shipping_fee_share, cod_fee_share, commission_rate_bps,
                  commission_base_amount, commission_amount)",
    )
    .bind(tx.tenant())
    .bind(order)
    .bind(currency)
    .bind(lines.iter().map(|_| OrderItemId::new()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.vendor_id).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.variant_id).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.product_title.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.variant_title.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.sku.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.fulfillment_type.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.tax_class.as_str()).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.price_amount).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
    .bind(&t.line_discounts)
    .bind(lines.iter().map(|l| if l.physical() { location_of.get(&l.id).copied() } else { None }).collect::<Vec<_>>())
    .bind(&t.line_shipping_fees)
    .bind(&t.line_cod_fees)
    .bind(commission.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind(commission.iter().map(|c| c.1).collect::<Vec<_>>())
    .bind(commission.iter().map(|c| c.2).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO order_tax_lines (tenant_id, order_id, rate_bps, taxable_amount, tax_amount)
         SELECT $1, $2, u.rate_bps, u.taxable_amount, u.tax_amount
           FROM UNNEST($3::int4[], $4::int8[], $5::int8[]) AS u(rate_bps, taxable_amount, tax_amount)",
    )
    .bind(tx.tenant())
    .bind(order)
    .bind(t.tax_lines.iter().map(|tl| tl.rate_bps as i32).collect::<Vec<_>>())
    .bind(t.tax_lines.iter().map(|tl| tl.taxable_amount).collect::<Vec<_>>())
    .bind(t.tax_lines.iter().map(|tl| tl.tax_amount).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    for (kind, address) in
        [("shipping", &shipping_address), ("billing", &billing_address.clone().or(shipping_address.clone()))]
    {
        if let Some(a) = address {
            sqlx::query(
                "INSERT INTO order_addresses (tenant_id, order_id, type, name, name_kana, postal_code, prefecture, prefecture_code,
                    city, line1, line2, phone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(tx.tenant())
            .bind(order)
            .bind(kind)
            .bind(&a.name)
            .bind(&a.name_kana)
            .bind(&a.postal_code)
            .bind(&a.prefecture)
            .bind(a.prefecture_code)
            .bind(&a.city)
            .bind(&a.line1)
            .bind(&a.line2)
            .bind(&a.phone)
            .execute(&mut **tx)
            .await?;
        }
    }
    let due = (input.payment_method == PaymentMethod::BankTransfer && !free).then_some(s.bank_transfer_due_days);
    let payment_id = PaymentId::new();
    sqlx::query(
        "INSERT INTO payments (id, tenant_id, order_id, method, amount, currency, due_at, status, received_amount, confirmed_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + make_interval(days => $7) END,
                 $8, CASE WHEN $9 THEN 0 END, CASE WHEN $9 THEN now() END)",
    )
    .bind(payment_id)
    .bind(tx.tenant())
    .bind(order)
    .bind(input.payment_method)
    .bind(t.total)
    .bind(currency)
    .bind(due)
    .bind(payment_status)
    .bind(free)
    .execute(&mut **tx)
    .await?;
    // one shipment per vendor with something to ship
    let mut vendors: Vec<VendorId> = lines.iter().filter(|l| l.physical()).map(|l| l.vendor_id).collect();
    vendors.sort();
    vendors.dedup();
    sqlx::query(
        "INSERT INTO shipments (id, tenant_id, order_id, vendor_id)
         SELECT u.id, $1, $2, u.vendor_id FROM UNNEST($3::uuid[], $4::uuid[]) AS u(id, vendor_id)",
    )
    .bind(tx.tenant())
    .bind(order)
    .bind(vendors.iter().map(|_| ShipmentId::new()).collect::<Vec<_>>())
    .bind(&vendors)
    .execute(&mut **tx)
    .await?;
    record_history(tx, order, None, status, kernel::access::Actor::Shopper, None).await?;
    sqlx::query(
        "UPDATE carts SET status = 'ordered', customer_id = coalesce(customer_id, $2), email = $3 WHERE id = $1",
    )
    .bind(cart.id)
    .bind(customer)
    .bind(&email)
    .execute(&mut **tx)
    .await?;
    let mut placed = view(tx, store, order, false).await?;

    // last, the rows every checkout competes for, so each is held only from here to the commit:
    // the stock rows (the holds become a sale), the code's use count, the store's order counter
    let consumed = reservation::consume(tx, store, &holds, order).await?;
    if consumed.len() != holds.len() {
        // a hold lapsed and was released between the read above and the stock lock
        return Err(CheckoutError::HoldLapsed);
    }
    if let Some(p) = &promotion {
        promotions::claim_use(tx, p, order, customer, &email).await?;
    }
    // the store's next number: sequential, and without gaps because a failed checkout rolls it back
    let number = assign_number(tx, store, order).await?;
    placed.number = number;
    let event = crate::event::OrderPlaced {
        order_id: order,
        number,
        total: placed.total,
        payment_method: input.payment_method,
        digital_only: !shipped,
        customer_id: customer,
    };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    if free {
        let event = PaymentConfirmed::new(order, payment_id, input.payment_method, placed.total, placed.total);
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    metrics::counter!("tenpo_orders_placed_total").increment(1);
    let body = serde_json::to_value(PlacedOrder { order: placed, order_token: token }).unwrap_or_default();
    crate::idempotency::save(tx, store, &scope, idem, &hash, 201, &body).await?;
    Ok((201, body))
}

/// Gives an order the store's next number: sequential per store, without gaps (a failed
/// checkout rolls its number back). The counter row is locked from here to the commit, so this
/// is the last write of a checkout.
async fn assign_number(tx: &mut Tx, store: StoreId, order: OrderId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "WITH n AS (UPDATE store_order_counters SET last_number = last_number + 1 WHERE store_id = $1 RETURNING last_number)
         UPDATE orders SET order_number = n.last_number FROM n WHERE orders.id = $2 RETURNING orders.order_number",
    )
    .bind(store)
    .bind(order)
    .fetch_one(&mut **tx)
    .await
}

pub(crate) async fn record_history(
    tx: &mut Tx,
    order: OrderId,
    from: Option<OrderStatus>,
    to: OrderStatus,
    actor: kernel::access::Actor,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_status_history (tenant_id, order_id, from_status, to_status, actor_type, actor_id, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant())
    .bind(order)
    .bind(from.map(OrderStatus::as_str))
    .bind(to.as_str())
    .bind(actor.kind())
    .bind(actor.id())
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus as O;
    use PaymentMethod::*;
    use PaymentStatus::*;
    use ShipmentStatus as S;

    #[test]
    fn status_follows_payment_and_shipments() {
        assert_eq!(derive_status(BankTransfer, Pending, &[S::Pending], false), O::PendingPayment);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Pending], false), O::Processing);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Shipped, S::Pending], false), O::PartiallyShipped);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Shipped, S::Delivered], false), O::Shipped);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Delivered, S::Delivered], false), O::Completed);
        assert_eq!(derive_status(Cod, Pending, &[S::Pending], false), O::Processing);
        assert_eq!(derive_status(Cod, Pending, &[S::Delivered], false), O::Delivered);
        assert_eq!(derive_status(Cod, Confirmed, &[S::Delivered], false), O::Completed);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[], false), O::Completed, "digital goods, paid");
        assert_eq!(derive_status(BankTransfer, Pending, &[], false), O::PendingPayment);
        assert_eq!(
            derive_status(Cod, Confirmed, &[S::Canceled, S::Delivered], false),
            O::Completed,
            "canceled shipments do not count"
        );
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Delivered], true), O::Canceled);
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
}

/// Totals of the cart for each payment method, for a destination prefecture if known.
pub async fn options(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    prefecture: Option<&str>,
) -> Result<CheckoutOptions, CheckoutError> {
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
    let lines: Vec<(i64, i32, String, String)> = sqlx::query_as(
        "SELECT i.price_amount, i.quantity, v.tax_class, v.fulfillment_type FROM cart_items i JOIN variants v ON v.id = i.variant_id
          WHERE i.cart_id = $1 ORDER BY i.created_at, i.id",
    )
    .bind(cart.id)
    .fetch_all(&mut **tx)
    .await?;
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|(price, qty, tax, kind)| Line {
            unit_price: price,
            quantity: qty as i64,
            tax_bps: if tax == "reduced" { totals::REDUCED_BPS } else { totals::STANDARD_BPS },
            shipped: kind == "physical",
        })
        .collect();
    let shipped = lines.iter().any(|l| l.shipped);
    let promotion = promotions::for_cart(tx, store, cart.promotion_id).await?;
    let shipping = ShippingRules {
        flat_fee: s.shipping_flat_fee.amount,
        free_threshold: s.free_shipping_threshold.map(|m| m.amount),
        prefecture_fee: code.and_then(|c| s.prefecture_fee(c)),
    };
    let cod_rules = CodRules { tiers: s.cod_fee_tiers.iter().map(|t| (t.up_to.amount, t.fee.amount)).collect() };
    let c = s.currency;
    let bank = totals::compute(&lines, promotion.as_ref().map(|p| p.discount()), &shipping, None);
    let cod = totals::compute(&lines, promotion.as_ref().map(|p| p.discount()), &shipping, Some(&cod_rules));
    let cod_reason = if !s.cod_enabled {
        Some("not offered by this store")
    } else if !shipped {
        Some("needs something to deliver")
    } else if totals::cod_fee(cod.total - cod.cod_fee, &cod_rules).is_none() || cod.total > s.cod_limit.amount {
        Some("the total is above this store's cash-on-delivery limit")
    } else {
        None
    };
    let option = |method, t: &totals::Totals, reason: Option<&str>| MethodOption {
        method,
        available: reason.is_none(),
        reason: reason.map(str::to_string),
        shipping_fee: Money::new(t.shipping_fee, c),
        cod_fee: Money::new(t.cod_fee, c),
        total: Money::new(t.total, c),
        tax_lines: t.tax_lines.clone(),
    };
    Ok(CheckoutOptions {
        subtotal: Money::new(bank.subtotal, c),
        discount: Money::new(bank.discount, c),
        promotion_code: promotion.map(|p| p.code),
        payment_methods: vec![
            option(
                PaymentMethod::BankTransfer,
                &bank,
                (!s.bank_transfer_enabled).then_some("not offered by this store"),
            ),
            option(PaymentMethod::Cod, &cod, cod_reason),
        ],
        delivery_slots: if shipped { s.delivery_slots } else { Vec::new() },
    })
}
