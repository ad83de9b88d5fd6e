//! Stock levels per (variant, location). Every change to `stock` or `reserved` writes an
//! inventory_movements row with who, why, the deltas and the resulting values, in the same
//! transaction.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Actor, Permission};
use kernel::{LocationId, StockId, StoreId, VariantId, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::InventoryError;

/// Why stock changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum MovementReason {
    /// Goods received.
    Receipt,
    /// Fixing a wrong number.
    Correction,
    /// Broken or lost goods written off.
    Damage,
    /// A shopper's return put back on the shelf.
    Return,
    /// A stock count.
    Count,
    Reservation,
    Release,
    Expiry,
    Sale,
    Cancellation,
    Repair,
    /// Catalog import.
    Import,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StockLevel {
    pub id: StockId,
    pub variant_id: VariantId,
    pub location_id: LocationId,
    /// Units on hand.
    pub stock: i32,
    /// Units held by shoppers' carts.
    pub reserved: i32,
    pub updated_at: DateTime<Utc>,
}

impl StockLevel {
    pub fn available(&self) -> i32 {
        self.stock - self.reserved
    }
}

/// How to change a stock level.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    /// Set the on-hand number (a count).
    SetTo(i32),
    /// Add or remove units.
    By(i32),
}

/// A change to one stock level.
#[derive(Debug, Clone)]
pub struct StockChange<'a> {
    pub variant: VariantId,
    pub location: LocationId,
    pub change: Change,
    pub reason: MovementReason,
    pub note: Option<&'a str>,
}

/// Sets or adjusts the on-hand stock of a variant at a location, with a movement row.
/// Refuses to go below zero or below what is reserved.
///
/// In a mall a variant's stock lives at its vendor's locations or the mall's own, never at
/// another vendor's; a vendor's staff change only their vendor's variants at their vendor's
/// locations (others are 404s).
pub async fn change_stock(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    c: StockChange<'_>,
) -> Result<StockLevel, InventoryError> {
    let StockChange { variant, location, change, reason, note } = c;
    by.require(Permission::InventoryWrite)?;
    let found: Option<(String, VendorId)> = sqlx::query_as(
        "SELECT v.fulfillment_type, p.vendor_id FROM variants v JOIN products p ON p.id = v.product_id
          WHERE v.id = $1 AND v.store_id = $2 AND v.deleted_at IS NULL",
    )
    .bind(variant)
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?;
    let vendor = match found {
        Some((_, vendor)) if !by.sees_vendor(vendor) => return Err(InventoryError::VariantNotFound),
        None => return Err(InventoryError::VariantNotFound),
        Some((kind, _)) if kind == "digital" => return Err(InventoryError::DigitalVariant),
        Some((_, vendor)) => vendor,
    };
    let located: Option<Option<VendorId>> = sqlx::query_scalar(
        "SELECT vendor_id FROM store_locations WHERE id = $1 AND store_id = $2 AND deleted_at IS NULL
            AND ($3::uuid IS NULL OR vendor_id = $3)",
    )
    .bind(location)
    .bind(store)
    .bind(by.vendor())
    .fetch_optional(&mut **tx)
    .await?;
    match located {
        None => return Err(InventoryError::LocationNotFound),
        Some(Some(owner)) if owner != vendor => return Err(InventoryError::AnotherVendorsLocation),
        Some(_) => {}
    }
    sqlx::query(
        "INSERT INTO inventory_stocks (id, tenant_id, store_id, location_id, variant_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (variant_id, location_id) DO NOTHING",
    )
    .bind(StockId::new())
    .bind(tx.tenant())
    .bind(store)
    .bind(location)
    .bind(variant)
    .execute(&mut **tx)
    .await?;
    let current: StockLevel = sqlx::query_as(
        "SELECT id, variant_id, location_id, stock, reserved, updated_at FROM inventory_stocks
          WHERE variant_id = $1 AND location_id = $2 FOR UPDATE",
    )
    .bind(variant)
    .bind(location)
    .fetch_one(&mut **tx)
    .await?;
    let target = match change {
        Change::SetTo(n) => n,
        Change::By(d) => current.stock.checked_add(d).ok_or(InventoryError::NegativeStock)?,
    };
    if target < 0 {
        return Err(InventoryError::NegativeStock);
    }
    if target < current.reserved {
        return Err(InventoryError::StockBelowReserved { reserved: current.reserved });
    }
    if target == current.stock {
        return Ok(current);
    }
    let updated: StockLevel = sqlx::query_as(
        "UPDATE inventory_stocks SET stock = $2, updated_at = now() WHERE id = $1
         RETURNING id, variant_id, location_id, stock, reserved, updated_at",
    )
    .bind(current.id)
    .bind(target)
    .fetch_one(&mut **tx)
    .await?;
    record_movement(tx, store, &updated, target - current.stock, 0, reason, by.actor(), None, note).await?;
    let event = crate::event::StockChanged::new(&updated, current.stock, reason);
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    Ok(updated)
}

/// The first stock of a variant that has none at the location yet (a bulk import's).
#[derive(Debug, Clone, Copy)]
pub struct FirstStock {
    pub variant: VariantId,
    pub location: LocationId,
    pub stock: i32,
}

/// Writes the first stock levels of new variants in three statements whatever their number
/// (the stock rows, the movement rows, the events), with what [`change_stock`] writes for
/// each: a row per variant and location (also for 0), and for each level above 0 a movement
/// and an `inventory.stock_changed` event. Every variant must be a physical variant of the
/// store without a row at its location, and every location the store's, its vendor's or the
/// mall's; otherwise nothing is written and the answer is the error (the caller then takes
/// the one-by-one path, which names the variant).
pub async fn set_first_levels(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    levels: &[FirstStock],
    reason: MovementReason,
    note: Option<&str>,
) -> Result<(), InventoryError> {
    by.require(Permission::InventoryWrite)?;
    if levels.is_empty() {
        return Ok(());
    }
    let variants: Vec<VariantId> = levels.iter().map(|l| l.variant).collect();
    let locations: Vec<LocationId> = levels.iter().map(|l| l.location).collect();
    let stocks: Vec<i32> = levels.iter().map(|l| l.stock).collect();
    if stocks.iter().any(|s| *s < 0) {
        return Err(InventoryError::NegativeStock);
    }
    let rows: Vec<StockLevel> = sqlx::query_as(
        "INSERT INTO inventory_stocks (tenant_id, store_id, location_id, variant_id, stock)
         SELECT $1, $2, x.location_id, x.variant_id, x.stock
           FROM unnest($3::uuid[], $4::uuid[], $5::int[]) AS x(variant_id, location_id, stock)
           JOIN variants v ON v.id = x.variant_id AND v.store_id = $2 AND v.deleted_at IS NULL
                          AND v.fulfillment_type <> 'digital'
           JOIN products p ON p.id = v.product_id AND ($6::uuid IS NULL OR p.vendor_id = $6)
           JOIN store_locations l ON l.id = x.location_id AND l.store_id = $2 AND l.deleted_at IS NULL
                                 AND (l.vendor_id IS NULL OR l.vendor_id = p.vendor_id)
         ON CONFLICT (variant_id, location_id) DO NOTHING
         RETURNING id, variant_id, location_id, stock, reserved, updated_at",
    )
    .bind(tx.tenant())
    .bind(store)
    .bind(&variants)
    .bind(&locations)
    .bind(&stocks)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    if rows.len() != levels.len() {
        return Err(InventoryError::VariantNotFound);
    }
    let moved: Vec<&StockLevel> = rows.iter().filter(|r| r.stock > 0).collect();
    if moved.is_empty() {
        return Ok(());
    }
    let actor = by.actor();
    sqlx::query(
        "INSERT INTO inventory_movements
           (tenant_id, store_id, stock_id, variant_id, location_id, reason, stock_delta, reserved_delta,
            stock_after, reserved_after, actor_type, actor_id, note)
         SELECT $1, $2, x.stock_id, x.variant_id, x.location_id, $6, x.stock, 0, x.stock, 0, $7, $8, left($9, 500)
           FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $10::int[]) AS x(stock_id, variant_id, location_id, stock)",
    )
    .bind(tx.tenant())
    .bind(store)
    .bind(moved.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(moved.iter().map(|r| r.variant_id).collect::<Vec<_>>())
    .bind(moved.iter().map(|r| r.location_id).collect::<Vec<_>>())
    .bind(reason)
    .bind(actor.kind())
    .bind(actor.id())
    .bind(note)
    .bind(moved.iter().map(|r| r.stock).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    let events = moved
        .iter()
        .map(|r| events::NewEvent::of(&crate::event::StockChanged::new(r, 0, reason)).in_store(store))
        .collect();
    events::record_many(tx, events).await?;
    Ok(())
}

/// Writes the movement row of a change already applied to `after`.
#[allow(clippy::too_many_arguments)]
pub async fn record_movement(
    tx: &mut Tx,
    store: StoreId,
    after: &StockLevel,
    stock_delta: i32,
    reserved_delta: i32,
    reason: MovementReason,
    actor: Actor,
    reference: Option<(&str, uuid::Uuid)>,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO inventory_movements
           (tenant_id, store_id, stock_id, variant_id, location_id, reason, stock_delta, reserved_delta,
            stock_after, reserved_after, actor_type, actor_id, reference_type, reference_id, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, left($15, 500))",
    )
    .bind(tx.tenant())
    .bind(store)
    .bind(after.id)
    .bind(after.variant_id)
    .bind(after.location_id)
    .bind(reason)
    .bind(stock_delta)
    .bind(reserved_delta)
    .bind(after.stock)
    .bind(after.reserved)
    .bind(actor.kind())
    .bind(actor.id())
    .bind(reference.map(|r| r.0))
    .bind(reference.map(|r| r.1))
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The stock levels of a variant at every location that has a row.
pub async fn levels_of(tx: &mut Tx, variant: VariantId) -> Result<Vec<StockLevel>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.variant_id, s.location_id, s.stock, s.reserved, s.updated_at
           FROM inventory_stocks s JOIN store_locations l ON l.id = s.location_id
          WHERE s.variant_id = $1 ORDER BY l.priority, l.code",
    )
    .bind(variant)
    .fetch_all(&mut **tx)
    .await
}

/// Why staff change stock by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustReason {
    Receipt,
    Correction,
    Damage,
    Return,
    Count,
}

impl From<AdjustReason> for MovementReason {
    fn from(r: AdjustReason) -> Self {
        match r {
            AdjustReason::Receipt => MovementReason::Receipt,
            AdjustReason::Correction => MovementReason::Correction,
            AdjustReason::Damage => MovementReason::Damage,
            AdjustReason::Return => MovementReason::Return,
            AdjustReason::Count => MovementReason::Count,
        }
    }
}

/// Add or remove units (`delta` may be negative), with a reason.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustStock {
    pub variant_id: VariantId,
    pub location_id: LocationId,
    /// Units to add (positive) or take away (negative).
    pub delta: i32,
    pub reason: AdjustReason,
    pub note: Option<String>,
}

/// Set the on-hand number (a count), with a reason (default `count`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStock {
    pub variant_id: VariantId,
    pub location_id: LocationId,
    pub stock: i32,
    pub reason: Option<AdjustReason>,
    pub note: Option<String>,
}

fn check_note(note: Option<&str>) -> Result<(), InventoryError> {
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(kernel::ValidationErrors::one("note", "too_long", "must be at most 500 characters").into());
    }
    Ok(())
}

pub async fn adjust(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: AdjustStock,
) -> Result<StockLevel, InventoryError> {
    check_note(input.note.as_deref())?;
    if input.delta == 0 || input.delta.unsigned_abs() > 100_000_000 {
        return Err(kernel::ValidationErrors::one(
            "delta",
            "out_of_range",
            "a non-zero number of units up to 100000000",
        )
        .into());
    }
    let change = StockChange {
        variant: input.variant_id,
        location: input.location_id,
        change: Change::By(input.delta),
        reason: input.reason.into(),
        note: input.note.as_deref(),
    };
    change_stock(tx, store, by, change).await
}

pub async fn set(tx: &mut Tx, store: StoreId, by: Acting<'_>, input: SetStock) -> Result<StockLevel, InventoryError> {
    check_note(input.note.as_deref())?;
    if !(0..=100_000_000).contains(&input.stock) {
        return Err(kernel::ValidationErrors::one("stock", "out_of_range", "must be between 0 and 100000000").into());
    }
    let change = StockChange {
        variant: input.variant_id,
        location: input.location_id,
        change: Change::SetTo(input.stock),
        reason: input.reason.unwrap_or(AdjustReason::Count).into(),
        note: input.note.as_deref(),
    };
    change_stock(tx, store, by, change).await
}
