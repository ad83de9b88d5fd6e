//! The consistency check behind `tenpo inventory check`: per stock row, `reserved` must equal
//! the sum of its active reservations, and no number may be negative. `--repair` sets
//! `reserved` to what the reservations hold, with a `repair` movement, so the fix is on record.

use db::Tx;
use kernel::access::Actor;
use kernel::{LocationId, StockId, StoreId, VariantId};
use serde::Serialize;

use crate::stock::{MovementReason, StockLevel, record_movement};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Drift {
    pub stock_id: StockId,
    pub store_id: StoreId,
    pub variant_id: VariantId,
    pub location_id: LocationId,
    pub stock: i32,
    pub reserved: i32,
    /// What the active reservations hold.
    pub held: i64,
}

impl Drift {
    pub fn describe(&self) -> String {
        if self.stock < 0 || self.reserved < 0 {
            format!("negative numbers: stock {} reserved {}", self.stock, self.reserved)
        } else {
            format!("reserved {} but active reservations hold {}", self.reserved, self.held)
        }
    }
}

/// Stock rows of the transaction's tenant whose numbers do not add up.
pub async fn check(tx: &mut Tx) -> Result<Vec<Drift>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id AS stock_id, s.store_id, s.variant_id, s.location_id, s.stock, s.reserved,
                coalesce(h.held, 0)::bigint AS held
           FROM inventory_stocks s
           LEFT JOIN (SELECT stock_id, sum(quantity) AS held FROM inventory_reservations
                       WHERE status = 'active' GROUP BY stock_id) h ON h.stock_id = s.id
          WHERE s.reserved <> coalesce(h.held, 0) OR s.stock < 0 OR s.reserved < 0
          ORDER BY s.id",
    )
    .fetch_all(&mut **tx)
    .await
}

/// Counts the stock rows checked (for the report).
pub async fn rows(tx: &mut Tx) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM inventory_stocks").fetch_one(&mut **tx).await
}

/// Sets `reserved` to what the reservations hold, on every drifted row, with a movement each.
/// Rows whose held units exceed the stock are left for a person to decide (the constraint
/// `reserved <= stock` would refuse the fix); they are answered.
pub async fn repair(tx: &mut Tx) -> Result<(usize, Vec<Drift>), sqlx::Error> {
    let drifts = check(tx).await?;
    let mut fixed = 0;
    let mut left = Vec::new();
    for d in drifts {
        let row: Option<(i32, i32)> =
            sqlx::query_as("SELECT stock, reserved FROM inventory_stocks WHERE id = $1 FOR UPDATE")
                .bind(d.stock_id)
                .fetch_optional(&mut **tx)
                .await?;
        let Some((stock, reserved)) = row else { continue };
        let held: i64 = sqlx::query_scalar("SELECT coalesce(sum(quantity), 0)::bigint FROM inventory_reservations WHERE stock_id = $1 AND status = 'active'")
            .bind(d.stock_id)
            .fetch_one(&mut **tx)
            .await?;
        if held > stock as i64 || stock < 0 {
            left.push(d);
            continue;
        }
        let held = held as i32;
        if held == reserved {
            continue;
        }
        sqlx::query("UPDATE inventory_stocks SET reserved = $2, updated_at = now() WHERE id = $1")
            .bind(d.stock_id)
            .bind(held)
            .execute(&mut **tx)
            .await?;
        let after = StockLevel {
            id: d.stock_id,
            variant_id: d.variant_id,
            location_id: d.location_id,
            stock,
            reserved: held,
            updated_at: chrono::Utc::now(),
        };
        record_movement(
            tx,
            d.store_id,
            &after,
            0,
            held - reserved,
            MovementReason::Repair,
            Actor::Operator,
            None,
            Some("inventory check --repair"),
        )
        .await?;
        fixed += 1;
    }
    Ok((fixed, left))
}
