//! Reading stock: levels per variant and location, and the movement history behind them.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{LocationId, Page, PageRequest, StockId, StoreId, VariantId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::InventoryError;
use crate::stock::MovementReason;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct LevelView {
    pub stock_id: StockId,
    pub variant_id: VariantId,
    pub sku: String,
    pub location_id: LocationId,
    pub location_code: String,
    pub stock: i32,
    pub reserved: i32,
    /// stock - reserved
    pub available: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LevelQuery {
    pub variant_id: Option<VariantId>,
    pub location_id: Option<LocationId>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Stock levels; a vendor's staff see those at their vendor's locations.
pub async fn list_levels(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    q: &LevelQuery,
) -> Result<Page<LevelView>, InventoryError> {
    by.require(Permission::InventoryRead)?;
    let page = PageRequest { limit: q.limit, cursor: q.cursor.clone() };
    let limit = page.limit()?;
    let after: Option<StockId> = page.after()?;
    let rows: Vec<LevelView> = sqlx::query_as(
        "SELECT s.id AS stock_id, s.variant_id, v.sku, s.location_id, l.code AS location_code, s.stock, s.reserved,
                s.stock - s.reserved AS available, s.updated_at
           FROM inventory_stocks s JOIN variants v ON v.id = s.variant_id JOIN store_locations l ON l.id = s.location_id
          WHERE s.store_id = $1 AND ($2::uuid IS NULL OR s.variant_id = $2) AND ($3::uuid IS NULL OR s.location_id = $3)
            AND ($4::uuid IS NULL OR s.id > $4) AND ($6::uuid IS NULL OR l.vendor_id = $6)
          ORDER BY s.id LIMIT $5",
    )
    .bind(store)
    .bind(q.variant_id)
    .bind(q.location_id)
    .bind(after)
    .bind(limit as i64 + 1)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows, limit, |r| r.stock_id))
}

/// The store's low-stock threshold (its settings) and the levels whose available stock is at or
/// under it, fewest available first (at most `limit`); a vendor's staff see their locations'.
pub async fn low_stock(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    limit: i64,
) -> Result<(i32, Vec<LevelView>), InventoryError> {
    by.require(Permission::InventoryRead)?;
    let threshold: i32 =
        sqlx::query_scalar("SELECT coalesce((SELECT low_stock_threshold FROM store_settings WHERE store_id = $1), 0)")
            .bind(store)
            .fetch_one(&mut **tx)
            .await?;
    let rows: Vec<LevelView> = sqlx::query_as(
        "SELECT s.id AS stock_id, s.variant_id, v.sku, s.location_id, l.code AS location_code, s.stock, s.reserved,
                s.stock - s.reserved AS available, s.updated_at
           FROM inventory_stocks s JOIN variants v ON v.id = s.variant_id JOIN store_locations l ON l.id = s.location_id
          WHERE s.store_id = $1 AND v.deleted_at IS NULL AND s.stock - s.reserved <= $2 AND ($3::uuid IS NULL OR l.vendor_id = $3)
          ORDER BY s.stock - s.reserved, v.sku LIMIT $4",
    )
    .bind(store)
    .bind(threshold)
    .bind(by.vendor())
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    Ok((threshold, rows))
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Movement {
    pub id: uuid::Uuid,
    pub stock_id: StockId,
    pub variant_id: VariantId,
    pub location_id: LocationId,
    pub reason: MovementReason,
    pub stock_delta: i32,
    pub reserved_delta: i32,
    pub stock_after: i32,
    pub reserved_after: i32,
    /// staff, shopper, system or operator
    pub actor_type: String,
    pub actor_id: Option<uuid::Uuid>,
    pub reference_type: Option<String>,
    pub reference_id: Option<uuid::Uuid>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovementQuery {
    pub variant_id: Option<VariantId>,
    pub location_id: Option<LocationId>,
    pub reason: Option<MovementReason>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The history of stock numbers, newest first; a vendor's staff see that of their vendor's
/// locations.
pub async fn list_movements(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    q: &MovementQuery,
) -> Result<Page<Movement>, InventoryError> {
    by.require(Permission::InventoryRead)?;
    let page = PageRequest { limit: q.limit, cursor: q.cursor.clone() };
    let limit = page.limit()?;
    let before: Option<uuid::Uuid> = page.after()?;
    let rows: Vec<Movement> = sqlx::query_as(
        "SELECT id, stock_id, variant_id, location_id, reason, stock_delta, reserved_delta, stock_after, reserved_after,
                actor_type, actor_id, reference_type, reference_id, note, created_at
           FROM inventory_movements m
          WHERE store_id = $1 AND ($2::uuid IS NULL OR variant_id = $2) AND ($3::uuid IS NULL OR location_id = $3)
            AND ($4::text IS NULL OR reason = $4) AND ($5::uuid IS NULL OR id < $5)
            AND ($7::uuid IS NULL OR EXISTS (SELECT 1 FROM store_locations l WHERE l.id = m.location_id AND l.vendor_id = $7))
          ORDER BY id DESC LIMIT $6",
    )
    .bind(store)
    .bind(q.variant_id)
    .bind(q.location_id)
    .bind(q.reason)
    .bind(before)
    .bind(limit as i64 + 1)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows, limit, |m| m.id))
}
