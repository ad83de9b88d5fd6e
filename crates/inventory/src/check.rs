//! The consistency check behind `tenpo inventory check`: per stock row, `reserved` must equal
//! the sum of its active reservations, and no number may be negative. `--repair` sets
//! `reserved` to what the reservations hold, with a `repair` movement, so the fix is on record.
//! [`stock`], [`ledger`] and [`reservations`] are inventory's part of `tenpo check`.

use db::Tx;
use kernel::access::Actor;
use kernel::consistency::{Checked, Violation};
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

/// `tenpo check`'s `stock`: the drift [`check`] finds, over every stock row.
pub async fn stock(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let checked = rows(tx).await?;
    let drifts = check(tx).await?;
    Ok(Checked::new(
        checked,
        drifts
            .iter()
            .map(|d| Violation::new(format!("variant {} at location {}", d.variant_id, d.location_id), d.describe()))
            .collect(),
    ))
}

/// Every stock row's movements add up to its numbers: nothing changed stock or `reserved`
/// without a movement on record.
pub async fn ledger(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let checked = rows(tx).await?;
    let rows: Vec<(VariantId, LocationId, i32, i32, i64, i64)> = sqlx::query_as(
        "SELECT s.variant_id, s.location_id, s.stock, s.reserved,
                coalesce(m.stock, 0)::bigint, coalesce(m.reserved, 0)::bigint
           FROM inventory_stocks s
           LEFT JOIN (SELECT stock_id, sum(stock_delta) AS stock, sum(reserved_delta) AS reserved
                        FROM inventory_movements GROUP BY stock_id) m ON m.stock_id = s.id
          WHERE s.stock <> coalesce(m.stock, 0) OR s.reserved <> coalesce(m.reserved, 0)
          ORDER BY s.id",
    )
    .fetch_all(&mut **tx)
    .await?;
    let violations = rows
        .into_iter()
        .map(|(variant, location, stock, reserved, m_stock, m_reserved)| {
            Violation::new(
                format!("variant {variant} at location {location}"),
                format!("stock {stock} reserved {reserved}, but its movements add up to stock {m_stock} reserved {m_reserved}"),
            )
        })
        .collect();
    Ok(Checked::new(checked, violations))
}

/// Consumed holds belong to an order and add up, per variant, to its physical lines; decided
/// add-to-cart requests for physical goods hold what they were granted, one hold each.
pub async fn reservations(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let checked: i64 = sqlx::query_scalar("SELECT count(*) FROM inventory_reservations").fetch_one(&mut **tx).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "WITH held AS (SELECT order_id, variant_id, sum(quantity)::bigint AS q FROM inventory_reservations
                        WHERE status = 'consumed' AND order_id IS NOT NULL GROUP BY order_id, variant_id),
              sold AS (SELECT order_id, variant_id, sum(quantity)::bigint AS q FROM order_items
                        WHERE fulfillment_type = 'physical' GROUP BY order_id, variant_id)
         SELECT 'reservation ' || r.id, 'consumed without an order'
           FROM inventory_reservations r WHERE r.status = 'consumed' AND r.order_id IS NULL
         UNION ALL
         SELECT 'order ' || o.order_number, 'variant ' || coalesce(h.variant_id, s.variant_id) || ': consumed holds of '
                || coalesce(h.q, 0) || ' for lines of ' || coalesce(s.q, 0)
           FROM held h FULL JOIN sold s ON s.order_id = h.order_id AND s.variant_id = h.variant_id
           JOIN orders o ON o.id = coalesce(h.order_id, s.order_id)
          WHERE coalesce(h.q, 0) <> coalesce(s.q, 0)
         UNION ALL
         SELECT 'request ' || q.id, 'granted without a hold'
           FROM inventory_reservation_requests q JOIN variants v ON v.id = q.variant_id
          WHERE q.status = 'done' AND q.reservation_id IS NULL AND v.fulfillment_type = 'physical'
         UNION ALL
         SELECT 'reservation ' || r.id, 'granted to ' || count(*) || ' requests'
           FROM inventory_reservation_requests q JOIN inventory_reservations r ON r.id = q.reservation_id
          GROUP BY r.id HAVING count(*) > 1
         ORDER BY 1",
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(Checked::new(checked, rows.into_iter().map(|(s, d)| Violation::new(s, d)).collect()))
}
