//! What shoppers can still buy: per variant, the sum over the locations that carry its product
//! (all active locations when the product names none) of `stock - reserved`, where a
//! reservation past its `expires_at` is never counted as held, even before the sweep releases it.

use std::collections::HashMap;

use db::Tx;
use kernel::VariantId;

/// The rule as a scalar SQL subquery (a `bigint`, 0 without stock rows) for the variant whose
/// id is the SQL expression `variant` and whose product's id is `product`: other domains'
/// reads embed it to show availability in the statement that reads their rows (the
/// storefront's product list reads a page with its availability in one statement).
pub fn available_sql(variant: &str, product: &str) -> String {
    format!(
        "(SELECT coalesce(sum(greatest(s.stock - s.reserved + coalesce(x.expired, 0), 0)), 0)::bigint
            FROM inventory_stocks s
            JOIN store_locations l ON l.id = s.location_id AND l.status = 'active' AND l.deleted_at IS NULL
            LEFT JOIN LATERAL (
              SELECT sum(r.quantity) AS expired FROM inventory_reservations r
               WHERE r.stock_id = s.id AND r.status = 'active' AND r.expires_at <= now()) x ON true
           WHERE s.variant_id = {variant}
             AND (NOT EXISTS (SELECT 1 FROM product_locations pl WHERE pl.product_id = {product})
                  OR EXISTS (SELECT 1 FROM product_locations pl WHERE pl.product_id = {product} AND pl.location_id = s.location_id)))"
    )
}

pub async fn of_variants(tx: &mut Tx, variants: &[VariantId]) -> Result<HashMap<VariantId, i32>, sqlx::Error> {
    if variants.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(VariantId, i64)> = sqlx::query_as(&format!(
        "SELECT v.id, {} FROM variants v WHERE v.id = ANY($1)",
        available_sql("v.id", "v.product_id")
    ))
    .bind(variants)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(id, n)| (id, n.min(i32::MAX as i64) as i32)).collect())
}
