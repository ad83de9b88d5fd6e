//! Reservations: stock held for a shopper's cart for a while.
//!
//! A reservation is taken at the first of the product's locations (in the store's priority
//! order) that can cover the whole quantity, and moves `active -> expired | released |
//! consumed`, never back ([`check_transition`]). Holding moves `reserved` on the stock row;
//! consuming (an order) moves `stock` down with it. A reservation past `expires_at` is never
//! counted as held: availability adds it back, and whoever next locks its stock row expires it
//! on the spot ("lazy expiry") before the worker's sweep would.
//!
//! Lock order, everywhere: stock rows (by id), then reservation rows. The sweep and the hot-item
//! decider follow it too, so concurrent paths cannot deadlock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::Actor;
use kernel::{CartId, CartItemId, CustomerId, LocationId, OrderId, ReservationId, StockId, StoreId, VariantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::InventoryError;
use crate::stock::{MovementReason, StockLevel, record_movement};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ReservationStatus {
    Active,
    Expired,
    Consumed,
    Released,
}

/// Only an active reservation moves, and only to one of the three ends.
pub fn check_transition(from: ReservationStatus, to: ReservationStatus) -> Result<(), InventoryError> {
    use ReservationStatus::*;
    match (from, to) {
        (Active, Expired | Consumed | Released) => Ok(()),
        _ => Err(InventoryError::IllegalReservationTransition { from, to }),
    }
}

/// Stock held for a cart line.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Hold {
    #[sqlx(rename = "id")]
    pub reservation_id: ReservationId,
    pub variant_id: VariantId,
    pub location_id: LocationId,
    pub stock_id: StockId,
    pub cart_item_id: Option<CartItemId>,
    pub quantity: i32,
    pub expires_at: DateTime<Utc>,
}

/// A locked stock row of a variant, with what is free on it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StockRow {
    pub id: StockId,
    pub variant_id: VariantId,
    pub location_id: LocationId,
    pub stock: i32,
    pub reserved: i32,
    /// Lower first.
    pub priority: i32,
}

impl StockRow {
    pub fn free(&self) -> i32 {
        self.stock - self.reserved
    }

    fn level(&self) -> StockLevel {
        StockLevel {
            id: self.id,
            variant_id: self.variant_id,
            location_id: self.location_id,
            stock: self.stock,
            reserved: self.reserved,
            updated_at: Utc::now(),
        }
    }
}

/// The SELECT that locks the stock rows a variant may be reserved from (the product's
/// locations, or all active locations when it names none), in id order: `variant` and `store`
/// are its placeholders (`$1`), `gate` further conditions (`AND ...`, or empty). Other
/// statements embed it (a cart's add-to-cart locks its cart and these rows in one round trip).
pub fn candidate_rows_sql(variant: &str, store: &str, gate: &str) -> String {
    format!(
        "SELECT s.id, s.variant_id, s.location_id, s.stock, s.reserved, l.priority
           FROM inventory_stocks s
           JOIN variants v ON v.id = s.variant_id
           JOIN store_locations l ON l.id = s.location_id AND l.status = 'active' AND l.deleted_at IS NULL
          WHERE s.variant_id = {variant} AND s.store_id = {store}
            AND (NOT EXISTS (SELECT 1 FROM product_locations pl WHERE pl.product_id = v.product_id)
                 OR EXISTS (SELECT 1 FROM product_locations pl WHERE pl.product_id = v.product_id AND pl.location_id = s.location_id))
            {gate}
          ORDER BY s.id
          FOR UPDATE OF s"
    )
}

/// Locks the stock rows a variant may be reserved from ([`candidate_rows_sql`]), expires their
/// lapsed holds, and answers them in the store's priority order.
pub async fn lock_rows(tx: &mut Tx, store: StoreId, variant: VariantId) -> Result<Vec<StockRow>, sqlx::Error> {
    let mut rows = lock_candidates(tx, store, variant).await?;
    expire_lapsed_on(tx, store, &mut rows).await?;
    Ok(rows)
}

/// Locks the stock rows a variant may be reserved from, in the store's priority order, leaving
/// their lapsed holds to [`hold_on`].
async fn lock_candidates(tx: &mut Tx, store: StoreId, variant: VariantId) -> Result<Vec<StockRow>, sqlx::Error> {
    let mut rows: Vec<StockRow> =
        sqlx::query_as(&candidate_rows_sql("$1", "$2", "")).bind(variant).bind(store).fetch_all(&mut **tx).await?;
    in_priority_order(&mut rows);
    Ok(rows)
}

/// Stock rows in the order reservations try them: the store's location priority.
pub fn in_priority_order(rows: &mut [StockRow]) {
    rows.sort_by_key(|r| (r.priority, r.location_id));
}

/// Expires the lapsed holds on locked stock rows and gives their units back.
async fn expire_lapsed_on(tx: &mut Tx, store: StoreId, rows: &mut [StockRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<StockId> = rows.iter().map(|r| r.id).collect();
    let lapsed: Vec<(StockId, i64)> = sqlx::query_as(
        "WITH x AS (
           UPDATE inventory_reservations SET status = 'expired'
            WHERE stock_id = ANY($1) AND status = 'active' AND expires_at <= now()
            RETURNING stock_id, quantity)
         SELECT stock_id, sum(quantity)::bigint FROM x GROUP BY stock_id",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    for (stock_id, qty) in lapsed {
        if let Some(row) = rows.iter_mut().find(|r| r.id == stock_id) {
            let qty = qty as i32;
            sqlx::query("UPDATE inventory_stocks SET reserved = reserved - $2, updated_at = now() WHERE id = $1")
                .bind(stock_id)
                .bind(qty)
                .execute(&mut **tx)
                .await?;
            row.reserved -= qty;
            record_movement(tx, store, &row.level(), 0, -qty, MovementReason::Expiry, Actor::System, None, None)
                .await?;
        }
    }
    Ok(())
}

/// What a shopper asks to hold.
#[derive(Debug, Clone)]
pub struct Ask {
    pub variant: VariantId,
    pub quantity: i32,
    pub cart: CartId,
    pub cart_item: Option<CartItemId>,
    pub customer: Option<CustomerId>,
    /// Seconds the hold lives (the store's reservation TTL).
    pub ttl_seconds: i32,
}

/// Why a hold was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Nothing left.
    SoldOut,
    /// Some units left, but no location has the whole quantity.
    InsufficientStock,
    /// The variant's per-customer limit would be passed.
    LimitExceeded,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::SoldOut => "sold_out",
            Refusal::InsufficientStock => "insufficient_stock",
            Refusal::LimitExceeded => "limit_exceeded",
        }
    }
}

/// Where a quantity fits on rows in priority order, if anywhere.
pub fn choose(rows: &[StockRow], quantity: i32) -> Result<usize, Refusal> {
    match rows.iter().position(|r| r.free() >= quantity) {
        Some(i) => Ok(i),
        None if rows.iter().any(|r| r.free() > 0) => Err(Refusal::InsufficientStock),
        None => Err(Refusal::SoldOut),
    }
}

/// Holds stock for one ask (the normal path: one transaction per shopper): the rows are
/// locked, then [`hold_on`] them.
pub async fn reserve(tx: &mut Tx, store: StoreId, ask: &Ask) -> Result<Result<Hold, Refusal>, sqlx::Error> {
    let rows = lock_candidates(tx, store, ask.variant).await?;
    let held = hold_on(tx, store, &rows, ask, ReservationId::new(), None).await?;
    Ok(held.unwrap_or(Err(Refusal::SoldOut)))
}

/// Holds stock for one ask on stock rows the transaction has locked (in priority order), in
/// one statement: their lapsed holds expire and give their units back, the first row that
/// covers the whole quantity is chosen ([`choose`]'s rule), its `reserved` goes up, and each
/// change is recorded as a movement. The hold gets the id `id`. What the statement reads of
/// the rows is current: they are locked, and lapsed holds are only ended by whoever locks
/// their stock row (the lock order of the module docs).
///
/// With `request_key`, nothing is held if a reservation request of the ask's cart has that
/// idempotency key (`None` is answered): a caller whose earlier statement may have read an
/// older snapshot (it waited for the cart's lock) learns here, on a current one, that a
/// concurrent call with the same key went first.
pub async fn hold_on(
    tx: &mut Tx,
    store: StoreId,
    rows: &[StockRow],
    ask: &Ask,
    id: ReservationId,
    request_key: Option<&str>,
) -> Result<Option<Result<Hold, Refusal>>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Some(Err(Refusal::SoldOut)));
    }
    let ids: Vec<StockId> = rows.iter().map(|r| r.id).collect();
    let row: HoldRow = sqlx::query_as(
            "WITH lapsed AS (
               UPDATE inventory_reservations SET status = 'expired'
                WHERE stock_id = ANY($3) AND status = 'active' AND expires_at <= now()
                RETURNING stock_id, quantity),
             per_row AS (SELECT stock_id, sum(quantity)::int AS units FROM lapsed GROUP BY stock_id),
             r AS (
               SELECT s.id, s.variant_id, s.location_id, s.stock, s.reserved - coalesce(p.units, 0) AS reserved,
                      coalesce(p.units, 0) AS lapsed, o.ord
                 FROM unnest($3::uuid[]) WITH ORDINALITY AS o(id, ord)
                 JOIN inventory_stocks s ON s.id = o.id
                 LEFT JOIN per_row p ON p.stock_id = s.id),
             used AS (SELECT 1 FROM inventory_reservation_requests q WHERE q.cart_id = $6 AND q.idempotency_key = $14),
             pick AS (SELECT id FROM r WHERE stock - reserved >= $4 AND NOT EXISTS (SELECT 1 FROM used) ORDER BY ord LIMIT 1),
             u AS (
               UPDATE inventory_stocks s
                  SET reserved = r.reserved + CASE WHEN s.id IN (SELECT id FROM pick) THEN $4 ELSE 0 END,
                      updated_at = now()
                 FROM r
                WHERE s.id = r.id AND (r.lapsed > 0 OR s.id IN (SELECT id FROM pick))),
             h AS (
               INSERT INTO inventory_reservations
                 (id, tenant_id, store_id, cart_id, cart_item_id, variant_id, location_id, stock_id, customer_id, quantity, expires_at)
               SELECT $5, $1, $2, $6, $7, r.variant_id, r.location_id, r.id, $8, $4, now() + make_interval(secs => $9)
                 FROM r WHERE r.id IN (SELECT id FROM pick)
               RETURNING id, variant_id, location_id, stock_id, cart_item_id, quantity, expires_at),
             m AS (
               INSERT INTO inventory_movements
                 (tenant_id, store_id, stock_id, variant_id, location_id, reason, stock_delta, reserved_delta,
                  stock_after, reserved_after, actor_type, reference_type, reference_id)
               SELECT $1, $2, r.id, r.variant_id, r.location_id, $10, 0, -r.lapsed, r.stock, r.reserved, $11, NULL, NULL
                 FROM r WHERE r.lapsed > 0
               UNION ALL
               SELECT $1, $2, r.id, r.variant_id, r.location_id, $12, 0, $4, r.stock, r.reserved + $4, $13, 'reservation', $5
                 FROM r WHERE r.id IN (SELECT id FROM pick))
             SELECT h.id, h.variant_id, h.location_id, h.stock_id, h.cart_item_id, h.quantity, h.expires_at,
                    coalesce((SELECT bool_or(stock - reserved > 0) FROM r), false) AS any_free,
                    EXISTS (SELECT 1 FROM used) AS key_used
               FROM (SELECT 1) one LEFT JOIN h ON true",
        )
        .bind(tx.tenant())
        .bind(store)
        .bind(&ids)
        .bind(ask.quantity)
        .bind(id)
        .bind(ask.cart)
        .bind(ask.cart_item)
        .bind(ask.customer)
        .bind(ask.ttl_seconds)
        .bind(MovementReason::Expiry)
        .bind(Actor::System.kind())
        .bind(MovementReason::Reservation)
        .bind(Actor::Shopper.kind())
        .bind(request_key)
        .fetch_one(&mut **tx)
        .await?;
    if row.key_used {
        return Ok(None);
    }
    Ok(Some(match row.hold() {
        Some(h) => Ok(h),
        None if row.any_free => Err(Refusal::InsufficientStock),
        None => Err(Refusal::SoldOut),
    }))
}

/// [`hold_on`]'s answer: the hold, if one was granted, and whether any row had units free.
#[derive(sqlx::FromRow)]
struct HoldRow {
    id: Option<ReservationId>,
    variant_id: Option<VariantId>,
    location_id: Option<LocationId>,
    stock_id: Option<StockId>,
    cart_item_id: Option<CartItemId>,
    quantity: Option<i32>,
    expires_at: Option<DateTime<Utc>>,
    any_free: bool,
    key_used: bool,
}

impl HoldRow {
    fn hold(&self) -> Option<Hold> {
        Some(Hold {
            reservation_id: self.id?,
            variant_id: self.variant_id?,
            location_id: self.location_id?,
            stock_id: self.stock_id?,
            cart_item_id: self.cart_item_id,
            quantity: self.quantity?,
            expires_at: self.expires_at?,
        })
    }
}

/// Writes granted holds (row index into `rows`, ask): reservation rows, one update per stock
/// row however many holds it gives, and one movement per stock row.
pub async fn write_holds(
    tx: &mut Tx,
    store: StoreId,
    rows: &mut [StockRow],
    grants: &[(usize, Ask)],
    reference: Option<(&str, uuid::Uuid)>,
) -> Result<Vec<Hold>, sqlx::Error> {
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<ReservationId> = grants.iter().map(|_| ReservationId::new()).collect();
    let stock_ids: Vec<StockId> = grants.iter().map(|(i, _)| rows[*i].id).collect();
    let location_ids: Vec<LocationId> = grants.iter().map(|(i, _)| rows[*i].location_id).collect();
    let variants: Vec<VariantId> = grants.iter().map(|(_, a)| a.variant).collect();
    let carts: Vec<CartId> = grants.iter().map(|(_, a)| a.cart).collect();
    let items: Vec<Option<CartItemId>> = grants.iter().map(|(_, a)| a.cart_item).collect();
    let customers: Vec<Option<CustomerId>> = grants.iter().map(|(_, a)| a.customer).collect();
    let quantities: Vec<i32> = grants.iter().map(|(_, a)| a.quantity).collect();
    let ttls: Vec<i32> = grants.iter().map(|(_, a)| a.ttl_seconds).collect();
    let holds: Vec<Hold> = sqlx::query_as(
        "INSERT INTO inventory_reservations
           (id, tenant_id, store_id, cart_id, cart_item_id, variant_id, location_id, stock_id, customer_id, quantity, expires_at)
         SELECT id, $1, $2, cart_id, cart_item_id, variant_id, location_id, stock_id, customer_id, quantity,
                now() + make_interval(secs => ttl)
           FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[], $8::uuid[], $9::uuid[], $10::int[], $11::int[])
             AS x(id, cart_id, cart_item_id, variant_id, location_id, stock_id, customer_id, quantity, ttl)
         RETURNING id, variant_id, location_id, stock_id, cart_item_id, quantity, expires_at",
    )
    .bind(tx.tenant())
    .bind(store)
    .bind(&ids)
    .bind(&carts)
    .bind(&items)
    .bind(&variants)
    .bind(&location_ids)
    .bind(&stock_ids)
    .bind(&customers)
    .bind(&quantities)
    .bind(&ttls)
    .fetch_all(&mut **tx)
    .await?;
    let mut per_row: HashMap<usize, i32> = HashMap::new();
    for (i, a) in grants {
        *per_row.entry(*i).or_default() += a.quantity;
    }
    for (i, qty) in per_row {
        let row = &mut rows[i];
        sqlx::query("UPDATE inventory_stocks SET reserved = reserved + $2, updated_at = now() WHERE id = $1")
            .bind(row.id)
            .bind(qty)
            .execute(&mut **tx)
            .await?;
        row.reserved += qty;
        let reference =
            reference.or(if grants.len() == 1 { Some(("reservation", holds[0].reservation_id.0)) } else { None });
        record_movement(tx, store, &row.level(), 0, qty, MovementReason::Reservation, Actor::Shopper, reference, None)
            .await?;
    }
    // return the holds in the order of the grants
    let mut by_id: HashMap<ReservationId, Hold> = holds.into_iter().map(|h| (h.reservation_id, h)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Locks stock rows by id, in id order.
async fn lock_by_ids(tx: &mut Tx, ids: &[StockId]) -> Result<Vec<StockRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.variant_id, s.location_id, s.stock, s.reserved, l.priority
           FROM inventory_stocks s JOIN store_locations l ON l.id = s.location_id
          WHERE s.id = ANY($1) ORDER BY s.id FOR UPDATE OF s",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
}

/// Ends active reservations (release, expiry) and gives their units back. Answers how many
/// units were returned per reservation; reservations no longer active are left alone.
pub async fn end(
    tx: &mut Tx,
    store: StoreId,
    reservations: &[ReservationId],
    to: ReservationStatus,
    actor: Actor,
) -> Result<Vec<(ReservationId, i32)>, sqlx::Error> {
    debug_assert!(matches!(to, ReservationStatus::Released | ReservationStatus::Expired));
    if reservations.is_empty() {
        return Ok(Vec::new());
    }
    let stock_ids: Vec<StockId> = sqlx::query_scalar(
        "SELECT DISTINCT stock_id FROM inventory_reservations WHERE id = ANY($1) AND status = 'active'",
    )
    .bind(reservations)
    .fetch_all(&mut **tx)
    .await?;
    let mut rows = lock_by_ids(tx, &stock_ids).await?;
    let ended: Vec<(ReservationId, StockId, i32)> = sqlx::query_as(
        "UPDATE inventory_reservations SET status = $2
          WHERE id = ANY($1) AND status = 'active' AND ($2 <> 'expired' OR expires_at <= now())
          RETURNING id, stock_id, quantity",
    )
    .bind(reservations)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    let reason = if to == ReservationStatus::Expired { MovementReason::Expiry } else { MovementReason::Release };
    give_back(tx, store, &mut rows, ended.iter().map(|(_, s, q)| (*s, *q)), reason, actor).await?;
    Ok(ended.into_iter().map(|(id, _, q)| (id, q)).collect())
}

async fn give_back(
    tx: &mut Tx,
    store: StoreId,
    rows: &mut [StockRow],
    returned: impl Iterator<Item = (StockId, i32)>,
    reason: MovementReason,
    actor: Actor,
) -> Result<(), sqlx::Error> {
    let mut per_stock: HashMap<StockId, i32> = HashMap::new();
    for (s, q) in returned {
        *per_stock.entry(s).or_default() += q;
    }
    for (stock_id, qty) in per_stock {
        if let Some(row) = rows.iter_mut().find(|r| r.id == stock_id) {
            sqlx::query("UPDATE inventory_stocks SET reserved = reserved - $2, updated_at = now() WHERE id = $1")
                .bind(stock_id)
                .bind(qty)
                .execute(&mut **tx)
                .await?;
            row.reserved -= qty;
            record_movement(tx, store, &row.level(), 0, -qty, reason, actor, None, None).await?;
        }
    }
    Ok(())
}

/// Gives back part of an active reservation (a cart line's quantity went down).
pub async fn shrink(tx: &mut Tx, store: StoreId, reservation: ReservationId, by: i32) -> Result<(), sqlx::Error> {
    let stock: Option<StockId> =
        sqlx::query_scalar("SELECT stock_id FROM inventory_reservations WHERE id = $1 AND status = 'active'")
            .bind(reservation)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(stock) = stock else { return Ok(()) };
    let mut rows = lock_by_ids(tx, &[stock]).await?;
    let done = sqlx::query(
        "UPDATE inventory_reservations SET quantity = quantity - $2 WHERE id = $1 AND status = 'active' AND quantity > $2",
    )
    .bind(reservation)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        give_back(tx, store, &mut rows, std::iter::once((stock, by)), MovementReason::Release, Actor::Shopper).await?;
    }
    Ok(())
}

/// Active (unexpired) holds of a cart, per cart line.
pub async fn holds_of_cart(tx: &mut Tx, cart: CartId) -> Result<Vec<Hold>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, variant_id, location_id, stock_id, cart_item_id, quantity, expires_at FROM inventory_reservations
          WHERE cart_id = $1 AND status = 'active' AND expires_at > now() ORDER BY id",
    )
    .bind(cart)
    .fetch_all(&mut **tx)
    .await
}

/// Turns holds into a sale: the reservations are consumed by the order and their units leave
/// both `reserved` and `stock`, with a `sale` movement per stock row. One statement: its first
/// CTE locks the stock rows in id order (concurrent checkouts take them in one order, so two
/// orders sharing variants never deadlock), and the holds are updated only once all of them
/// are locked (the array of the locked ids is computed once, before the first hold is
/// touched), as everything that changes a hold of a stock row locks the row first. A row that
/// another checkout changed while this one waited for its lock is updated at its current
/// version (PostgreSQL re-reads an updated row before writing it).
pub async fn consume(
    tx: &mut Tx,
    store: StoreId,
    reservations: &[ReservationId],
    order: OrderId,
) -> Result<Vec<Hold>, sqlx::Error> {
    if reservations.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "WITH l AS (
           SELECT s.id FROM inventory_stocks s
            WHERE s.id IN (SELECT stock_id FROM inventory_reservations WHERE id = ANY($1) AND status = 'active')
            ORDER BY s.id FOR UPDATE),
         c AS (
           UPDATE inventory_reservations SET status = 'consumed', order_id = $2
            WHERE id = ANY($1) AND status = 'active' AND stock_id = ANY (ARRAY(SELECT id FROM l))
            RETURNING id, variant_id, location_id, stock_id, cart_item_id, quantity, expires_at),
         per_stock AS (SELECT stock_id, sum(quantity)::int AS qty FROM c GROUP BY stock_id),
         s AS (
           UPDATE inventory_stocks st
              SET reserved = st.reserved - p.qty, stock = st.stock - p.qty, updated_at = now()
             FROM per_stock p WHERE st.id = p.stock_id
           RETURNING st.id, st.variant_id, st.location_id, st.stock, st.reserved, p.qty),
         m AS (
           INSERT INTO inventory_movements
             (tenant_id, store_id, stock_id, variant_id, location_id, reason, stock_delta, reserved_delta,
              stock_after, reserved_after, actor_type, actor_id, reference_type, reference_id)
           SELECT $3, $4, s.id, s.variant_id, s.location_id, $5, -s.qty, -s.qty, s.stock, s.reserved, $6, NULL,
                  'order', $2
             FROM s)
         SELECT id, variant_id, location_id, stock_id, cart_item_id, quantity, expires_at FROM c",
    )
    .bind(reservations)
    .bind(order)
    .bind(tx.tenant())
    .bind(store)
    .bind(MovementReason::Sale)
    .bind(Actor::Shopper.kind())
    .fetch_all(&mut **tx)
    .await
}

/// Puts the units an order took back on the shelf where they came from (the order was
/// canceled), with `cancellation` movements. Answers the units returned.
pub async fn restock_order(tx: &mut Tx, store: StoreId, order: OrderId, actor: Actor) -> Result<i64, sqlx::Error> {
    restock(tx, store, order, None, actor).await
}

/// Returns the units of these variants an order took (a mall vendor's canceled lines), once:
/// the reservations are marked restocked, so a later cancellation of the order returns only the
/// rest.
pub async fn restock_variants(
    tx: &mut Tx,
    store: StoreId,
    order: OrderId,
    variants: &[VariantId],
    actor: Actor,
) -> Result<i64, sqlx::Error> {
    restock(tx, store, order, Some(variants), actor).await
}

async fn restock(
    tx: &mut Tx,
    store: StoreId,
    order: OrderId,
    variants: Option<&[VariantId]>,
    actor: Actor,
) -> Result<i64, sqlx::Error> {
    let taken: Vec<(StockId, i64)> = sqlx::query_as(
        "WITH r AS (
           UPDATE inventory_reservations SET restocked_at = now()
            WHERE order_id = $1 AND status = 'consumed' AND restocked_at IS NULL
              AND ($2::uuid[] IS NULL OR variant_id = ANY($2))
           RETURNING stock_id, quantity)
         SELECT stock_id, sum(quantity)::bigint FROM r GROUP BY stock_id",
    )
    .bind(order)
    .bind(variants)
    .fetch_all(&mut **tx)
    .await?;
    let ids: Vec<StockId> = taken.iter().map(|t| t.0).collect();
    let mut rows = lock_by_ids(tx, &ids).await?;
    let mut total = 0;
    for (stock_id, qty) in taken {
        if let Some(row) = rows.iter_mut().find(|r| r.id == stock_id) {
            let qty = qty as i32;
            sqlx::query("UPDATE inventory_stocks SET stock = stock + $2, updated_at = now() WHERE id = $1")
                .bind(stock_id)
                .bind(qty)
                .execute(&mut **tx)
                .await?;
            row.stock += qty;
            record_movement(
                tx,
                store,
                &row.level(),
                qty,
                0,
                MovementReason::Cancellation,
                actor,
                Some(("order", order.0)),
                None,
            )
            .await?;
            total += qty as i64;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stock: i32, reserved: i32, priority: i32) -> StockRow {
        StockRow {
            id: StockId::new(),
            variant_id: VariantId::new(),
            location_id: LocationId::new(),
            stock,
            reserved,
            priority,
        }
    }

    #[test]
    fn the_first_location_that_covers_the_quantity_is_chosen() {
        let rows = [row(5, 4, 1), row(10, 0, 2), row(50, 0, 3)];
        assert_eq!(choose(&rows, 1), Ok(0));
        assert_eq!(choose(&rows, 2), Ok(1));
        assert_eq!(choose(&rows, 20), Ok(2));
        assert_eq!(choose(&rows, 60), Err(Refusal::InsufficientStock));
        assert_eq!(choose(&[row(3, 3, 1)], 1), Err(Refusal::SoldOut));
        assert_eq!(choose(&[], 1), Err(Refusal::SoldOut));
    }

    #[test]
    fn reservations_end_once() {
        use ReservationStatus::*;
        assert!(check_transition(Active, Consumed).is_ok());
        assert!(check_transition(Active, Expired).is_ok());
        assert!(check_transition(Expired, Active).is_err());
        assert!(check_transition(Consumed, Released).is_err());
        assert!(check_transition(Released, Released).is_err());
    }
}
