//! Digital delivery's part of `tenpo check`, over the transaction's tenant: every digital item
//! of a paid order has one delivery once the order's `payment.confirmed` was handled, a canceled
//! order's deliveries are revoked, and each delivery's download count is what its events say
//! (the count at its last limit change, plus one per `digital.downloaded` after it). "Once
//! handled": the event was published and the variant's file existed before, since an item
//! whose file came later waits for staff to deliver it. (That a count stays within its limit
//! is a table constraint.)

use db::Tx;
use kernel::consistency::{Checked, Violation};

pub async fn deliveries(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let checked: i64 = sqlx::query_scalar("SELECT count(*) FROM digital_deliveries").fetch_one(&mut **tx).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "WITH per_item AS (SELECT order_item_id, count(*) AS n FROM digital_deliveries GROUP BY order_item_id),
              handled AS (SELECT e.aggregate_id, min(e.published_at) AS at FROM outbox_events e
                           WHERE e.aggregate_type = 'order' AND e.event_type = 'payment.confirmed' AND e.status = 'published'
                           GROUP BY e.aggregate_id),
              last_change AS (SELECT DISTINCT ON (aggregate_id) aggregate_id, sequence,
                                     (payload_json ->> 'downloaded_count')::int AS count
                                FROM outbox_events WHERE event_type = 'digital.delivery_limit_changed'
                               ORDER BY aggregate_id, sequence DESC),
              counted AS (SELECT d.id, coalesce(l.count, 0) + (SELECT count(*) FROM outbox_events e
                                  WHERE e.aggregate_type = 'digital_delivery' AND e.aggregate_id = d.id::text
                                    AND e.event_type = 'digital.downloaded' AND e.sequence > coalesce(l.sequence, 0)) AS n
                            FROM digital_deliveries d LEFT JOIN last_change l ON l.aggregate_id = d.id::text)
         SELECT 'order ' || o.order_number || ' item ' || i.id, 'paid and its file there when payment.confirmed was handled, but no delivery'
           FROM order_items i JOIN orders o ON o.id = i.order_id
           JOIN payments pay ON pay.order_id = o.id AND pay.status = 'confirmed'
           JOIN handled h ON h.aggregate_id = o.id::text
           JOIN variants v ON v.id = i.variant_id
           JOIN digital_assets a ON a.id = v.digital_asset_id AND a.created_at < h.at
           LEFT JOIN per_item p ON p.order_item_id = i.id
          WHERE i.fulfillment_type = 'digital' AND o.canceled_at IS NULL AND p.n IS NULL
         UNION ALL
         SELECT 'delivery ' || d.id, 'of a ' || i.fulfillment_type || ' item of another order'
           FROM digital_deliveries d JOIN order_items i ON i.id = d.order_item_id
          WHERE i.fulfillment_type <> 'digital' OR i.order_id <> d.order_id
         UNION ALL
         SELECT 'delivery ' || d.id, d.status || ', but order ' || o.order_number || ' was canceled'
           FROM digital_deliveries d JOIN orders o ON o.id = d.order_id
          WHERE o.canceled_at IS NOT NULL AND d.status <> 'revoked'
         UNION ALL
         SELECT 'delivery ' || d.id, d.downloaded_count || ' downloads counted, ' || c.n || ' on record'
           FROM digital_deliveries d JOIN counted c ON c.id = d.id WHERE d.downloaded_count <> c.n
         ORDER BY 1",
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(Checked::new(checked, rows.into_iter().map(|(s, d)| Violation::new(s, d)).collect()))
}
