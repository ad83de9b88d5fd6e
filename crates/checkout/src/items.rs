//! Cart lines and the stock they hold.
//!
//! Adding a physical variant holds stock through an inventory reservation in the same
//! transaction (the normal path), or, for a hot variant, records a queued request that the
//! hot-item worker decides ([`crate::hot`]). Every add records an
//! inventory_reservation_requests row keyed by the caller's Idempotency-Key, so a replay answers
//! the first answer and never holds twice.

use catalog::variant::FulfillmentType;
use chrono::{DateTime, Utc};
use db::Tx;
use inventory::reservation::{self, Ask, Refusal, ReservationStatus, StockRow};
use kernel::access::Actor;
use kernel::{
    CartId, CartItemId, Currency, CustomerId, LocationId, ProductId, ReservationId, ReservationRequestId, StockId,
    StoreId, VariantId, VendorId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CheckoutError;
use crate::cart::{self, CartKey, CartView};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    pub variant_id: VariantId,
    /// 1 to 1000; default 1.
    pub quantity: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    /// 0 removes the line.
    pub quantity: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RequestStatus {
    Queued,
    Processing,
    Done,
    Failed,
}

/// An add-to-cart request as recorded.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct RequestRecord {
    pub id: ReservationRequestId,
    pub cart_id: CartId,
    pub variant_id: VariantId,
    pub quantity: i32,
    pub status: RequestStatus,
    pub is_hot: bool,
    /// The cart line the units went to, once held.
    pub cart_item_id: Option<CartItemId>,
    pub reservation_id: Option<ReservationId>,
    pub failure_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

pub(crate) const REQUEST_COLUMNS: &str = "id, cart_id, variant_id, quantity, status, is_hot, cart_item_id, reservation_id, failure_code, created_at, decided_at";

/// What became of an add-to-cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Stock is held for the shopper.
    Held {
        reservation_id: ReservationId,
    },
    /// Added without a hold (digital goods).
    Added,
    Refused(Refusal),
    /// Queued; decided soon by the hot-item worker.
    Pending,
}

impl RequestRecord {
    pub fn decision(&self) -> Decision {
        match (self.status, self.reservation_id, self.failure_code.as_deref()) {
            (RequestStatus::Done, Some(id), _) => Decision::Held { reservation_id: id },
            (RequestStatus::Done, None, _) => Decision::Added,
            (RequestStatus::Failed, _, Some("limit_exceeded")) => Decision::Refused(Refusal::LimitExceeded),
            (RequestStatus::Failed, _, Some("insufficient_stock")) => Decision::Refused(Refusal::InsufficientStock),
            (RequestStatus::Failed, _, _) => Decision::Refused(Refusal::SoldOut),
            _ => Decision::Pending,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AddResult {
    pub request: RequestRecord,
    pub decision: Decision,
}

/// What the cart needs to know about a variant to sell it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Sellable {
    pub id: VariantId,
    pub product_id: ProductId,
    pub vendor_id: VendorId,
    pub price_amount: i64,
    pub price_currency: Currency,
    pub fulfillment_type: FulfillmentType,
    pub is_hot: bool,
    pub hot_limit_per_customer: Option<i32>,
    pub active: bool,
    /// The store's hold time, read along.
    pub reservation_ttl: i32,
}

impl Sellable {
    pub fn physical(&self) -> bool {
        self.fulfillment_type == FulfillmentType::Physical
    }
}

/// The SELECT of a variant's [`Sellable`] (`variant`, `store`: its placeholders).
fn sellable_sql(variant: &str, store: &str) -> String {
    format!(
        "SELECT v.id, v.product_id, p.vendor_id, v.price_amount, v.price_currency, v.fulfillment_type, v.is_hot,
                v.hot_limit_per_customer,
                (v.status = 'active' AND p.status = 'active'
                 AND EXISTS (SELECT 1 FROM vendors ve WHERE ve.id = p.vendor_id AND ve.status = 'active')) AS active,
                coalesce((SELECT reservation_ttl_seconds FROM store_settings WHERE store_id = {store}), 900) AS reservation_ttl
           FROM variants v JOIN products p ON p.id = v.product_id
          WHERE v.id = {variant} AND v.store_id = {store} AND v.deleted_at IS NULL AND p.deleted_at IS NULL"
    )
}

pub async fn sellable(tx: &mut Tx, store: StoreId, variant: VariantId) -> Result<Sellable, CheckoutError> {
    let s: Sellable = sqlx::query_as(&sellable_sql("$1", "$2"))
        .bind(variant)
        .bind(store)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CheckoutError::VariantNotFound)?;
    if !s.active {
        return Err(CheckoutError::VariantNotAvailable);
    }
    Ok(s)
}

pub(crate) async fn reservation_ttl(tx: &mut Tx, store: StoreId) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT reservation_ttl_seconds FROM store_settings WHERE store_id = $1")
        .bind(store)
        .fetch_optional(&mut **tx)
        .await
        .map(|t| t.unwrap_or(900))
}

fn parse_quantity(q: Option<i32>) -> Result<i32, CheckoutError> {
    let q = q.unwrap_or(1);
    if (1..=1000).contains(&q) {
        Ok(q)
    } else {
        Err(kernel::ValidationErrors::one("quantity", "out_of_range", "must be between 1 and 1000").into())
    }
}

/// Checks an Idempotency-Key: 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), CheckoutError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(
            kernel::ValidationErrors::one("Idempotency-Key", "invalid", "1 to 255 visible ASCII characters").into()
        );
    }
    Ok(())
}

pub(crate) async fn find_request(tx: &mut Tx, cart: CartId, key: &str) -> Result<Option<RequestRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REQUEST_COLUMNS} FROM inventory_reservation_requests WHERE cart_id = $1 AND idempotency_key = $2"
    ))
    .bind(cart)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn get_request(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    id: ReservationRequestId,
) -> Result<RequestRecord, CheckoutError> {
    cart::find(tx, store, key).await?;
    sqlx::query_as(&format!(
        "SELECT {REQUEST_COLUMNS} FROM inventory_reservation_requests WHERE id = $1 AND cart_id = $2"
    ))
    .bind(id)
    .bind(key.id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CheckoutError::RequestNotFound)
}

fn replay(existing: RequestRecord, variant: VariantId, quantity: i32) -> Result<AddResult, CheckoutError> {
    if existing.variant_id != variant || existing.quantity != quantity {
        return Err(CheckoutError::IdempotencyKeyReused);
    }
    Ok(AddResult { decision: existing.decision(), request: existing })
}

/// Whether no request of this cart has the key yet, as a condition on a write of the request
/// (`$cart`, `$key`: its placeholders). The cart is locked when it runs, so a concurrent call
/// with the same key has committed by then and is seen (the statement that locked the cart
/// may have read an older snapshot, if it waited for that lock).
fn key_unused(cart: &str, key: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM inventory_reservation_requests q WHERE q.cart_id = {cart} AND q.idempotency_key = {key})"
    )
}

/// Records a refused add-to-cart (`failure`: the refusal's code). `None` if the key was taken
/// meanwhile ([`key_unused`]).
async fn record_refused(
    tx: &mut Tx,
    store: StoreId,
    cart: &cart::CartRow,
    variant: VariantId,
    quantity: i32,
    key: &str,
    failure: &str,
) -> Result<Option<RequestRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO inventory_reservation_requests
           (id, tenant_id, store_id, cart_id, variant_id, customer_id, quantity, status, is_hot, idempotency_key,
            failure_code, decided_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, 'failed', false, $8, $9, now() WHERE {}
         RETURNING {REQUEST_COLUMNS}",
        key_unused("$4", "$8")
    ))
    .bind(ReservationRequestId::new())
    .bind(tx.tenant())
    .bind(store)
    .bind(cart.id)
    .bind(variant)
    .bind(cart.customer_id)
    .bind(quantity)
    .bind(key)
    .bind(failure)
    .fetch_optional(&mut **tx)
    .await
}

/// A granted add-to-cart in one statement: the line (or more of it) at the price of this
/// moment, the hold (if any: physical goods) linked to it, and the request recorded as done.
/// `None`, writing nothing, if the key was taken meanwhile ([`key_unused`]).
async fn record_added(
    tx: &mut Tx,
    store: StoreId,
    cart: &cart::CartRow,
    s: &Sellable,
    quantity: i32,
    key: &str,
    hold: Option<ReservationId>,
) -> Result<Option<RequestRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH l AS (
           INSERT INTO cart_items (id, tenant_id, cart_id, vendor_id, variant_id, price_amount, price_currency, quantity)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE {}
           ON CONFLICT (cart_id, variant_id) DO UPDATE
             SET quantity = cart_items.quantity + EXCLUDED.quantity, price_amount = EXCLUDED.price_amount, updated_at = now()
           RETURNING id),
         h AS (UPDATE inventory_reservations r SET cart_item_id = l.id FROM l WHERE r.id = $9)
         INSERT INTO inventory_reservation_requests
           (id, tenant_id, store_id, cart_id, variant_id, customer_id, quantity, status, is_hot, idempotency_key,
            cart_item_id, reservation_id, decided_at)
         SELECT $10, $2, $11, $3, $5, $12, $8, 'done', false, $13, l.id, $9, now() FROM l
         RETURNING {REQUEST_COLUMNS}",
        key_unused("$3", "$13")
    ))
    .bind(CartItemId::new())
    .bind(tx.tenant())
    .bind(cart.id)
    .bind(s.vendor_id)
    .bind(s.id)
    .bind(s.price_amount)
    .bind(s.price_currency)
    .bind(quantity)
    .bind(hold)
    .bind(ReservationRequestId::new())
    .bind(store)
    .bind(cart.customer_id)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
}

/// What an add-to-cart reads before it decides, in one statement: the cart, locked (its
/// activity noted); whether the key was used on it before; the variant as [`Sellable`]; and,
/// when the stock is to be held now (an open cart, a new key, a sellable physical variant that
/// is not hot), its stock rows, locked (the cart first, then the stock rows: the lock order).
#[derive(sqlx::FromRow)]
struct Look {
    #[sqlx(flatten)]
    cart: cart::CartRow,
    replay: bool,
    v_id: Option<VariantId>,
    v_product_id: Option<ProductId>,
    v_vendor_id: Option<VendorId>,
    v_price_amount: Option<i64>,
    v_price_currency: Option<Currency>,
    v_fulfillment_type: Option<FulfillmentType>,
    v_is_hot: Option<bool>,
    v_hot_limit_per_customer: Option<i32>,
    v_active: Option<bool>,
    v_reservation_ttl: Option<i32>,
    stock_ids: Option<Vec<StockId>>,
    stock_locations: Option<Vec<LocationId>>,
    stock_stock: Option<Vec<i32>>,
    stock_reserved: Option<Vec<i32>>,
    stock_priorities: Option<Vec<i32>>,
}

impl Look {
    async fn read(
        tx: &mut Tx,
        store: StoreId,
        key: &CartKey,
        variant: VariantId,
        idem: &str,
    ) -> Result<Look, CheckoutError> {
        let lock_stock = reservation::candidate_rows_sql(
            "$5",
            "$2",
            "AND EXISTS (SELECT 1 FROM c WHERE c.status = 'active')
             AND NOT EXISTS (SELECT 1 FROM used)
             AND EXISTS (SELECT 1 FROM sv WHERE sv.active AND NOT sv.is_hot AND sv.fulfillment_type = 'physical')",
        );
        sqlx::query_as(&format!(
            "WITH c AS (
               UPDATE carts SET last_activity_at = now() WHERE id = $1 AND store_id = $2 AND secret_hash = $3
               RETURNING {cols}),
             used AS (SELECT 1 FROM inventory_reservation_requests WHERE cart_id = $1 AND idempotency_key = $4),
             sv AS ({sellable}),
             st AS ({lock_stock})
             SELECT c.*, EXISTS (SELECT 1 FROM used) AS replay,
                    sv.id AS v_id, sv.product_id AS v_product_id, sv.vendor_id AS v_vendor_id,
                    sv.price_amount AS v_price_amount, sv.price_currency AS v_price_currency,
                    sv.fulfillment_type AS v_fulfillment_type, sv.is_hot AS v_is_hot,
                    sv.hot_limit_per_customer AS v_hot_limit_per_customer, sv.active AS v_active,
                    sv.reservation_ttl AS v_reservation_ttl,
                    k.ids AS stock_ids, k.locations AS stock_locations, k.stock AS stock_stock,
                    k.reserved AS stock_reserved, k.priorities AS stock_priorities
               FROM c LEFT JOIN sv ON true
               LEFT JOIN LATERAL (
                 SELECT array_agg(st.id) AS ids, array_agg(st.location_id) AS locations, array_agg(st.stock) AS stock,
                        array_agg(st.reserved) AS reserved, array_agg(st.priority) AS priorities FROM st) k ON true",
            cols = cart::COLUMNS,
            sellable = sellable_sql("$5", "$2"),
        ))
        .bind(key.id)
        .bind(store)
        .bind(key.secret_hash())
        .bind(idem)
        .bind(variant)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CheckoutError::CartNotFound)
    }

    /// The variant, if it can be sold.
    fn sellable(&self) -> Result<Sellable, CheckoutError> {
        let found = (|| {
            Some(Sellable {
                id: self.v_id?,
                product_id: self.v_product_id?,
                vendor_id: self.v_vendor_id?,
                price_amount: self.v_price_amount?,
                price_currency: self.v_price_currency?,
                fulfillment_type: self.v_fulfillment_type?,
                is_hot: self.v_is_hot?,
                hot_limit_per_customer: self.v_hot_limit_per_customer,
                active: self.v_active?,
                reservation_ttl: self.v_reservation_ttl?,
            })
        })();
        match found {
            None => Err(CheckoutError::VariantNotFound),
            Some(s) if !s.active => Err(CheckoutError::VariantNotAvailable),
            Some(s) => Ok(s),
        }
    }

    /// The locked stock rows, in the store's priority order.
    fn stock_rows(&self, variant: VariantId) -> Vec<StockRow> {
        let (Some(ids), Some(locations), Some(stock), Some(reserved), Some(priorities)) =
            (&self.stock_ids, &self.stock_locations, &self.stock_stock, &self.stock_reserved, &self.stock_priorities)
        else {
            return Vec::new();
        };
        let mut rows: Vec<StockRow> =
            (0..ids.len().min(locations.len()).min(stock.len()).min(reserved.len()).min(priorities.len()))
                .map(|i| StockRow {
                    id: ids[i],
                    variant_id: variant,
                    location_id: locations[i],
                    stock: stock[i],
                    reserved: reserved[i],
                    priority: priorities[i],
                })
                .collect();
        reservation::in_priority_order(&mut rows);
        rows
    }
}

/// Adds a variant to the cart (see the module docs). `idem` is the Idempotency-Key, if sent.
/// Answers `None` for a hot variant seen for the first time with this key: it must go through
/// the queue ([`crate::hot::HotQueue`]), which records it in arrival order.
///
/// Four round trips for a new key: [`Look::read`] (the cart and the stock rows locked), the
/// hold ([`reservation::hold_on`]), the line with its request ([`record_added`]), and the
/// transaction's begin and commit around them.
pub async fn add_item(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    input: &AddItem,
    idem: Option<&str>,
) -> Result<Option<AddResult>, CheckoutError> {
    let quantity = parse_quantity(input.quantity)?;
    if let Some(k) = idem {
        check_key(k)?;
    }
    let idem_key = idem.map(str::to_string).unwrap_or_else(|| format!("auto-{}", uuid::Uuid::new_v4()));
    let look = Look::read(tx, store, key, input.variant_id, &idem_key).await?;
    let rows = look.stock_rows(input.variant_id);
    let replayed = look.replay;
    let s = look.sellable();
    let cart = cart::still_active(look.cart)?;
    if replayed {
        return replay_of(tx, &cart, input.variant_id, quantity, &idem_key).await.map(Some);
    }
    let s = s?;
    if s.is_hot && s.physical() {
        return Ok(None);
    }
    if !s.physical() {
        return match record_added(tx, store, &cart, &s, quantity, &idem_key, None).await? {
            Some(request) => Ok(Some(AddResult { decision: Decision::Added, request })),
            None => replay_of(tx, &cart, s.id, quantity, &idem_key).await.map(Some),
        };
    }
    let ask = Ask {
        variant: s.id,
        quantity,
        cart: cart.id,
        cart_item: None,
        customer: cart.customer_id,
        ttl_seconds: s.reservation_ttl,
    };
    let Some(held) = reservation::hold_on(tx, store, &rows, &ask, ReservationId::new(), Some(&idem_key)).await? else {
        // a call with the same key committed while this one waited for the cart: its answer stands
        return replay_of(tx, &cart, s.id, quantity, &idem_key).await.map(Some);
    };
    match held {
        Ok(hold) => match record_added(tx, store, &cart, &s, quantity, &idem_key, Some(hold.reservation_id)).await? {
            Some(request) => {
                Ok(Some(AddResult { decision: Decision::Held { reservation_id: hold.reservation_id }, request }))
            }
            None => {
                // a call with the same key committed while this one waited for the cart: its
                // answer stands, and this hold goes back
                reservation::end(tx, store, &[hold.reservation_id], ReservationStatus::Released, Actor::Shopper)
                    .await?;
                replay_of(tx, &cart, s.id, quantity, &idem_key).await.map(Some)
            }
        },
        Err(refusal) => match record_refused(tx, store, &cart, s.id, quantity, &idem_key, refusal.code()).await? {
            Some(request) => Ok(Some(AddResult { decision: Decision::Refused(refusal), request })),
            None => replay_of(tx, &cart, s.id, quantity, &idem_key).await.map(Some),
        },
    }
}

/// The first answer to a key already used on this cart.
async fn replay_of(
    tx: &mut Tx,
    cart: &cart::CartRow,
    variant: VariantId,
    quantity: i32,
    key: &str,
) -> Result<AddResult, CheckoutError> {
    let existing = find_request(tx, cart.id, key).await?.ok_or(CheckoutError::RequestNotFound)?;
    replay(existing, variant, quantity)
}

#[derive(sqlx::FromRow)]
struct Line {
    id: CartItemId,
    variant_id: VariantId,
    quantity: i32,
}

async fn lock_line(tx: &mut Tx, cart: CartId, item: CartItemId) -> Result<Line, CheckoutError> {
    sqlx::query_as("SELECT id, variant_id, quantity FROM cart_items WHERE id = $1 AND cart_id = $2 FOR UPDATE")
        .bind(item)
        .bind(cart)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CheckoutError::ItemNotFound)
}

/// Releases `units` of a line's holds, newest first.
async fn release_units(tx: &mut Tx, store: StoreId, item: CartItemId, mut units: i32) -> Result<(), sqlx::Error> {
    let holds: Vec<(ReservationId, i32)> = sqlx::query_as(
        "SELECT id, quantity FROM inventory_reservations WHERE cart_item_id = $1 AND status = 'active' ORDER BY id DESC",
    )
    .bind(item)
    .fetch_all(&mut **tx)
    .await?;
    for (id, qty) in holds {
        if units <= 0 {
            break;
        }
        if qty <= units {
            reservation::end(tx, store, &[id], ReservationStatus::Released, Actor::Shopper).await?;
            units -= qty;
        } else {
            reservation::shrink(tx, store, id, units).await?;
            units = 0;
        }
    }
    Ok(())
}

/// Sets a line's quantity: more holds more stock (normal variants), less gives it back, 0
/// removes the line.
pub async fn set_quantity(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    item: CartItemId,
    input: &SetQuantity,
) -> Result<CartView, CheckoutError> {
    if !(0..=1000).contains(&input.quantity) {
        return Err(kernel::ValidationErrors::one("quantity", "out_of_range", "must be between 0 and 1000").into());
    }
    let cart = cart::lock_active(tx, store, key).await?;
    let line = lock_line(tx, cart.id, item).await?;
    if input.quantity == 0 {
        return remove_locked(tx, store, cart.id, line).await;
    }
    let s = sellable(tx, store, line.variant_id).await?;
    if input.quantity > line.quantity && s.physical() {
        if s.is_hot {
            return Err(CheckoutError::HotItemIncrease);
        }
        let ask = Ask {
            variant: s.id,
            quantity: input.quantity - line.quantity,
            cart: cart.id,
            cart_item: Some(line.id),
            customer: cart.customer_id,
            ttl_seconds: s.reservation_ttl,
        };
        if let Err(refusal) = reservation::reserve(tx, store, &ask).await? {
            return Err(CheckoutError::Refused(refusal));
        }
    } else if input.quantity < line.quantity {
        release_units(tx, store, line.id, line.quantity - input.quantity).await?;
    }
    sqlx::query("UPDATE cart_items SET quantity = $2, updated_at = now() WHERE id = $1")
        .bind(line.id)
        .bind(input.quantity)
        .execute(&mut **tx)
        .await?;
    cart::view(tx, cart.id).await
}

pub async fn remove_item(
    tx: &mut Tx,
    store: StoreId,
    key: &CartKey,
    item: CartItemId,
) -> Result<CartView, CheckoutError> {
    let cart = cart::lock_active(tx, store, key).await?;
    let line = lock_line(tx, cart.id, item).await?;
    remove_locked(tx, store, cart.id, line).await
}

async fn remove_locked(tx: &mut Tx, store: StoreId, cart: CartId, line: Line) -> Result<CartView, CheckoutError> {
    release_units(tx, store, line.id, i32::MAX).await?;
    sqlx::query("DELETE FROM cart_items WHERE id = $1").bind(line.id).execute(&mut **tx).await?;
    cart::view(tx, cart).await
}

/// A customer's or cart's units of a variant already held or bought (for per-customer limits).
pub(crate) async fn units_taken(
    tx: &mut Tx,
    variant: VariantId,
    customers: &[CustomerId],
    carts: &[CartId],
) -> Result<Vec<(Option<CustomerId>, CartId, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT customer_id, cart_id, sum(quantity)::bigint FROM inventory_reservations
          WHERE variant_id = $1 AND (customer_id = ANY($2) OR cart_id = ANY($3))
            AND (status = 'consumed' OR (status = 'active' AND expires_at > now()))
          GROUP BY customer_id, cart_id",
    )
    .bind(variant)
    .bind(customers)
    .bind(carts)
    .fetch_all(&mut **tx)
    .await
}
