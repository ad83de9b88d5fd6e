//! What shoppers can still buy: per variant, the sum over the locations that carry its product
//! (all active locations when the product names none) of `stock - reserved`, where a
//! reservation past its `expires_at` is never counted as held, even before the sweep releases it.

use std::collections::HashMap;

use db::Tx;
use kernel::VariantId;

pub async fn of_variants(tx: &mut Tx, variants: &[VariantId]) -> Result<HashMap<VariantId, i32>, sqlx::Error> {
    if variants.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(VariantId, i64)> = sqlx::query_as(
        "SELECT s.variant_id, coalesce(sum(greatest(s.stock - s.reserved + coalesce(x.expired, 0), 0)), 0)::bigint
           FROM inventory_stocks s
           JOIN variants v ON v.id = s.variant_id
           JOIN store_locations l ON l.id = s.location_id AND l.status = 'active' AND l.deleted_at IS NULL
           LEFT JOIN LATERAL (
             SELECT sum(r.quantity) AS expired FROM inventory_reservations r
              WHERE r.stock_id = s.id AND r.status = 'active' AND r.expires_at <= now()) x ON true
          WHERE s.variant_id = ANY($1)
            AND (NOT EXISTS (SELECT 1 FROM product_locations pl WHERE pl.product_id = v.product_id)
                 OR EXISTS (SELECT 1 FROM product_locations pl WHERE pl.product_id = v.product_id AND pl.location_id = s.location_id))
          GROUP BY s.variant_id",
    )
    .bind(variants)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(id, n)| (id, n.min(i32::MAX as i64) as i32)).collect())
}
