//! Carts. A cart belongs to one store and is addressed by its id plus a secret handed out once
//! at creation (only its SHA-256 is stored); a wrong secret answers like a missing cart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use catalog::variant::FulfillmentType;
use chrono::{DateTime, Utc};
use db::Tx;
use kernel::{CartId, CartItemId, Currency, CustomerId, Money, ProductId, StoreId, Validator, VariantId};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::CheckoutError;

/// How a shopper proves a cart is theirs.
#[derive(Debug, Clone)]
pub struct CartKey {
    pub id: CartId,
    pub secret: String,
}

impl CartKey {
    pub fn secret_hash(&self) -> Vec<u8> {
        hash_secret(&self.secret)
    }
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CartStatus {
    Active,
    Ordered,
    Abandoned,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartRow {
    pub id: CartId,
    pub store_id: StoreId,
    pub customer_id: Option<CustomerId>,
    pub status: CartStatus,
    pub email: Option<String>,
    pub currency: Currency,
    pub promotion_id: Option<kernel::PromotionId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
}

pub(crate) const COLUMNS: &str =
    "id, store_id, customer_id, status, email, currency, promotion_id, created_at, updated_at, last_activity_at";

/// One line of a cart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartLine {
    pub id: CartItemId,
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub product_title: String,
    pub variant_title: String,
    pub sku: String,
    pub fulfillment_type: FulfillmentType,
    /// The unit price when the line was added.
    pub unit_price: Money,
    pub quantity: i32,
    pub line_total: Money,
    /// Units of this line held in stock for the shopper (physical lines).
    pub held: i32,
    /// When the earliest hold of this line lapses.
    pub hold_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartView {
    pub id: CartId,
    pub store_id: StoreId,
    pub status: CartStatus,
    pub currency: Currency,
    pub email: Option<String>,
    pub items: Vec<CartLine>,
    pub item_count: i64,
    pub subtotal: Money,
    /// The promotion code on the cart, if any.
    pub promotion_code: Option<String>,
    /// What the code takes off the subtotal now (final at checkout).
    pub discount: Money,
    /// Subtotal less discount: what the goods cost. Shipping and fees depend on the address
    /// and payment method; `checkout-options` shows them.
    pub total: Money,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCart {
    /// The shopper's email, if known already.
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedCart {
    pub cart: CartView,
    /// Send as `X-Cart-Secret` with every call on this cart. Shown once.
    pub secret: String,
}

fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("cs_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Makes a cart. With an `Idempotency-Key` (`idem`), the first answer to the key is given again
/// (the same cart and secret), however often and however concurrently the call is repeated;
/// the key with another body is refused. Answers the status and body.
/// A signed-in shopper's cart (`customer`) belongs to their account: its order lands in their
/// order history.
pub async fn create_cart(
    tx: &mut Tx,
    store: StoreId,
    input: CreateCart,
    customer: Option<CustomerId>,
    idem: Option<&str>,
) -> Result<(u16, serde_json::Value), CheckoutError> {
    // keys are the store's, as for checkout
    let scope = format!("cart:{store}");
    let hash = crate::idempotency::request_hash(&(&input, customer));
    if let Some(key) = idem
        && let Some(answer) = crate::idempotency::claim(tx, store, &scope, key, &hash).await?
    {
        return Ok(answer);
    }
    let created = new_cart(tx, store, input, customer).await?;
    let body = serde_json::to_value(&created).unwrap_or_default();
    if let Some(key) = idem {
        crate::idempotency::save(tx, store, &scope, key, &hash, 201, &body).await?;
    }
    Ok((201, body))
}

async fn new_cart(
    tx: &mut Tx,
    store: StoreId,
    input: CreateCart,
    customer: Option<CustomerId>,
) -> Result<CreatedCart, CheckoutError> {
    let mut v = Validator::new();
    let email = input
        .email
        .as_deref()
        .and_then(|e| v.opt_text("email", Some(e), 254))
        .and_then(|e| v.check("email", customers::identity::normalize_email(&e)));
    v.into_result()?;
    let secret = new_secret();
    let id = CartId::new();
    // the new cart is answered from the row it wrote: no lines, no code, nothing to read back
    let row: CartRow = sqlx::query_as(&format!(
        "INSERT INTO carts (id, tenant_id, store_id, secret_hash, email, currency, customer_id)
         SELECT $1, $2, $3, $4, $5, currency, $6 FROM store_settings WHERE store_id = $3
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(tx.tenant())
    .bind(store)
    .bind(hash_secret(&secret))
    .bind(&email)
    .bind(customer)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CheckoutError::CartNotFound)?;
    Ok(CreatedCart { cart: empty_view(row), secret })
}

/// The view of a cart without lines or code (a new cart).
fn empty_view(row: CartRow) -> CartView {
    let zero = Money::zero(row.currency);
    CartView {
        id: row.id,
        store_id: row.store_id,
        status: row.status,
        currency: row.currency,
        email: row.email,
        items: Vec::new(),
        item_count: 0,
        subtotal: zero,
        promotion_code: None,
        discount: zero,
        total: zero,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Gives a guest's active cart to the signed-in shopper (after signing in mid-visit), so its
/// order lands in their history. A cart already another account's is not found.
pub async fn bind_customer(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    customer: CustomerId,
) -> Result<CartView, CheckoutError> {
    let cart = lock_active(tx, store, key).await?;
    match cart.customer_id {
        Some(c) if c != customer => return Err(CheckoutError::CartNotFound),
        Some(_) => {}
        None => {
            sqlx::query("UPDATE carts SET customer_id = $2 WHERE id = $1")
                .bind(cart.id)
                .bind(customer)
                .execute(&mut **tx)
                .await?;
        }
    }
    view(tx, cart.id).await
}

/// The cart, whatever its status, if the key opens it.
pub async fn find(tx: &mut Tx, store: StoreId, key: &CartKey) -> Result<CartRow, CheckoutError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM carts WHERE id = $1 AND store_id = $2 AND secret_hash = $3"))
        .bind(key.id)
        .bind(store)
        .bind(key.secret_hash())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CheckoutError::CartNotFound)
}

/// Locks an active cart for a change (every change to one cart runs one after another).
pub async fn lock_active(tx: &mut Tx, store: StoreId, key: &CartKey) -> Result<CartRow, CheckoutError> {
    // locking it is the shopper's activity too: one statement does both
    let cart: CartRow = sqlx::query_as(&format!(
        "UPDATE carts SET last_activity_at = now() WHERE id = $1 AND store_id = $2 AND secret_hash = $3 RETURNING {COLUMNS}"
    ))
    .bind(key.id)
    .bind(store)
    .bind(key.secret_hash())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CheckoutError::CartNotFound)?;
    still_active(cart)
}

/// The cart, if it is still open for changes.
pub fn still_active(cart: CartRow) -> Result<CartRow, CheckoutError> {
    match cart.status {
        CartStatus::Active => Ok(cart),
        CartStatus::Ordered => Err(CheckoutError::CartNotActive("ordered".into())),
        CartStatus::Abandoned => Err(CheckoutError::CartNotActive("abandoned".into())),
    }
}

#[derive(sqlx::FromRow)]
struct LineRow {
    id: CartItemId,
    variant_id: VariantId,
    product_id: ProductId,
    product_title: String,
    variant_title: String,
    sku: String,
    fulfillment_type: FulfillmentType,
    price_amount: i64,
    price_currency: Currency,
    quantity: i32,
    held: i64,
    hold_expires_at: Option<DateTime<Utc>>,
}

/// The cart with its lines, what is held for them, and the subtotal.
pub async fn view(tx: &mut Tx, cart: CartId) -> Result<CartView, CheckoutError> {
    let row: CartRow = sqlx::query_as(&format!("SELECT {COLUMNS} FROM carts WHERE id = $1"))
        .bind(cart)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CheckoutError::CartNotFound)?;
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT i.id, i.variant_id, v.product_id, p.title AS product_title, v.title AS variant_title, v.sku, v.fulfillment_type,
                i.price_amount, i.price_currency, i.quantity,
                coalesce(h.held, 0)::bigint AS held, h.expires_at AS hold_expires_at
           FROM cart_items i
           JOIN variants v ON v.id = i.variant_id
           JOIN products p ON p.id = v.product_id
           LEFT JOIN (SELECT cart_item_id, sum(quantity) AS held, min(expires_at) AS expires_at FROM inventory_reservations
                       WHERE cart_id = $1 AND status = 'active' AND expires_at > now() GROUP BY cart_item_id) h
             ON h.cart_item_id = i.id
          WHERE i.cart_id = $1 ORDER BY i.created_at, i.id",
    )
    .bind(cart)
    .fetch_all(&mut **tx)
    .await?;
    let mut subtotal = Money::zero(row.currency);
    let mut items = Vec::with_capacity(lines.len());
    let mut count = 0i64;
    for l in lines {
        let unit = Money::new(l.price_amount, l.price_currency);
        let total = unit.checked_mul(l.quantity as i64).unwrap_or(unit);
        subtotal = subtotal.checked_add(total).unwrap_or(subtotal);
        count += l.quantity as i64;
        items.push(CartLine {
            id: l.id,
            variant_id: l.variant_id,
            product_id: l.product_id,
            product_title: l.product_title,
            variant_title: l.variant_title,
            sku: l.sku,
            fulfillment_type: l.fulfillment_type,
            unit_price: unit,
            quantity: l.quantity,
            line_total: total,
            held: l.held as i32,
            hold_expires_at: l.hold_expires_at,
        });
    }
    let promotion = crate::promotions::for_cart(tx, row.store_id, row.promotion_id).await?;
    let discount = crate::totals::discount_amount(subtotal.amount, promotion.as_ref().map(|p| p.discount()));
    Ok(CartView {
        promotion_code: promotion.map(|p| p.code),
        discount: Money::new(discount, row.currency),
        total: Money::new(subtotal.amount - discount, row.currency),
        id: row.id,
        store_id: row.store_id,
        status: row.status,
        currency: row.currency,
        email: row.email,
        items,
        item_count: count,
        subtotal,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub async fn get_cart(tx: &mut Tx, store: StoreId, key: &CartKey) -> Result<CartView, CheckoutError> {
    find(tx, store, key).await?;
    view(tx, key.id).await
}

/// Abandons a cart: every hold is released at once.
pub async fn abandon(tx: &mut Tx, store: StoreId, key: &CartKey) -> Result<CartView, CheckoutError> {
    let cart = lock_active(tx, store, key).await?;
    release_all(tx, store, cart.id).await?;
    sqlx::query("UPDATE carts SET status = 'abandoned' WHERE id = $1").bind(cart.id).execute(&mut **tx).await?;
    events::record(tx, events::NewEvent::of(&crate::event::CartAbandoned { cart_id: cart.id }).in_store(store)).await?;
    view(tx, cart.id).await
}

pub async fn release_all(tx: &mut Tx, store: StoreId, cart: CartId) -> Result<(), sqlx::Error> {
    let ids: Vec<kernel::ReservationId> =
        sqlx::query_scalar("SELECT id FROM inventory_reservations WHERE cart_id = $1 AND status = 'active'")
            .bind(cart)
            .fetch_all(&mut **tx)
            .await?;
    inventory::reservation::end(
        tx,
        store,
        &ids,
        inventory::reservation::ReservationStatus::Released,
        kernel::access::Actor::Shopper,
    )
    .await?;
    Ok(())
}
