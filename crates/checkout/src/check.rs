//! Checkout's part of `tenpo check`: the invariants of orders, their payments and shipments,
//! their derived status, their numbers and their events, over the transaction's tenant.

use db::Tx;
use kernel::consistency::{Checked, Violation};

use crate::order::{OrderStatus, PaymentMethod, PaymentStatus, ShipmentStatus, derive_status};

/// Each order has one payment of its total in its currency, one shipment per vendor with
/// physical lines (and none for others), a subtotal that is the sum of its lines and a discount
/// that is the sum of the lines' shares.
pub async fn orders(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let checked: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut **tx).await?;
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "WITH pay AS (SELECT order_id, count(*) AS n, min(amount) AS amount, min(currency) AS currency
                        FROM payments GROUP BY order_id),
              lines AS (SELECT order_id, sum(price_amount * quantity)::bigint AS subtotal,
                               sum(discount_amount)::bigint AS discount
                          FROM order_items GROUP BY order_id),
              shipping AS (SELECT DISTINCT order_id, vendor_id FROM order_items WHERE fulfillment_type = 'physical'),
              ships AS (SELECT order_id, vendor_id, count(*) AS n FROM shipments GROUP BY order_id, vendor_id)
         SELECT o.order_number, 'has ' || coalesce(p.n, 0) || ' payments, not 1'
           FROM orders o LEFT JOIN pay p ON p.order_id = o.id WHERE coalesce(p.n, 0) <> 1
         UNION ALL
         SELECT o.order_number, 'payment of ' || p.amount || ' ' || p.currency || ' for a total of '
                || o.total_amount || ' ' || o.currency
           FROM orders o JOIN pay p ON p.order_id = o.id
          WHERE p.n = 1 AND (p.amount <> o.total_amount OR p.currency <> o.currency)
         UNION ALL
         SELECT o.order_number, 'subtotal ' || o.subtotal_amount || ' but its lines sum to ' || coalesce(l.subtotal, 0)
           FROM orders o LEFT JOIN lines l ON l.order_id = o.id WHERE o.subtotal_amount <> coalesce(l.subtotal, 0)
         UNION ALL
         SELECT o.order_number, 'discount ' || o.discount_amount || ' but its lines carry ' || coalesce(l.discount, 0)
           FROM orders o LEFT JOIN lines l ON l.order_id = o.id WHERE o.discount_amount <> coalesce(l.discount, 0)
         UNION ALL
         SELECT o.order_number, 'vendor ' || s.vendor_id || ' has physical lines and ' || coalesce(x.n, 0) || ' shipments, not 1'
           FROM shipping s JOIN orders o ON o.id = s.order_id
           LEFT JOIN ships x ON x.order_id = s.order_id AND x.vendor_id = s.vendor_id
          WHERE coalesce(x.n, 0) <> 1
         UNION ALL
         SELECT o.order_number, 'a shipment for vendor ' || x.vendor_id || ', which has nothing to ship'
           FROM ships x JOIN orders o ON o.id = x.order_id
          WHERE NOT EXISTS (SELECT 1 FROM shipping s WHERE s.order_id = x.order_id AND s.vendor_id = x.vendor_id)
         ORDER BY 1",
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(Checked::new(checked, rows.into_iter().map(|(n, d)| Violation::new(format!("order {n}"), d)).collect()))
}

/// What an order's status is derived from.
#[derive(sqlx::FromRow)]
struct StatusInputs {
    order_number: i64,
    status: OrderStatus,
    payment_method: PaymentMethod,
    payment: Option<PaymentStatus>,
    canceled: bool,
    shipments: Vec<String>,
}

/// Each order's stored status is the one [`derive_status`] gives for its payment and shipments.
pub async fn statuses(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let rows: Vec<StatusInputs> =
        sqlx::query_as(
            "SELECT o.order_number, o.status, o.payment_method,
                    (SELECT p.status FROM payments p WHERE p.order_id = o.id ORDER BY p.id LIMIT 1) AS payment,
                    o.canceled_at IS NOT NULL AS canceled,
                    coalesce((SELECT array_agg(s.status ORDER BY s.id) FROM shipments s WHERE s.order_id = o.id), '{}') AS shipments
               FROM orders o ORDER BY o.order_number",
        )
        .fetch_all(&mut **tx)
        .await?;
    let checked = rows.len() as i64;
    let mut violations = Vec::new();
    for StatusInputs { order_number: number, status: stored, payment_method: method, payment, canceled, shipments } in
        rows
    {
        let shipments: Vec<ShipmentStatus> = shipments
            .iter()
            .filter_map(|s| match s.as_str() {
                "pending" => Some(ShipmentStatus::Pending),
                "shipped" => Some(ShipmentStatus::Shipped),
                "delivered" => Some(ShipmentStatus::Delivered),
                "canceled" => Some(ShipmentStatus::Canceled),
                _ => None,
            })
            .collect();
        let derived = derive_status(method, payment.unwrap_or(PaymentStatus::Pending), &shipments, canceled);
        if derived != stored {
            violations.push(Violation::new(
                format!("order {number}"),
                format!("status {} but its payment and shipments make it {}", stored.as_str(), derived.as_str()),
            ));
        }
    }
    Ok(Checked::new(checked, violations))
}

/// Each store's orders are numbered 1001, 1002, ... with no gap, no repeat and no placeholder
/// left, up to its counter.
pub async fn numbers(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let rows: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT s.handle, coalesce(c.last_number, 1000),
                count(o.id), count(DISTINCT o.order_number),
                coalesce(min(o.order_number), 1001), coalesce(max(o.order_number), 1000)
           FROM stores s
           LEFT JOIN store_order_counters c ON c.store_id = s.id
           LEFT JOIN orders o ON o.store_id = s.id
          GROUP BY s.id, s.handle, c.last_number ORDER BY s.handle",
    )
    .fetch_all(&mut **tx)
    .await?;
    let checked = rows.len() as i64;
    let mut violations = Vec::new();
    for (handle, counter, count, distinct, min, max) in rows {
        let subject = format!("store {handle}");
        if count == 0 {
            if counter != 1000 {
                violations.push(Violation::new(subject, format!("no orders but the counter is at {counter}")));
            }
            continue;
        }
        if min != 1001 || max != 1000 + count || distinct != count {
            violations.push(Violation::new(
                subject.clone(),
                format!("{count} orders numbered {min} to {max} ({distinct} distinct): not 1001 to {}", 1000 + count),
            ));
        }
        if counter != max {
            violations
                .push(Violation::new(subject, format!("the counter is at {counter} but the last order is {max}")));
        }
    }
    Ok(Checked::new(checked, violations))
}

/// Each order has its `order.placed` event, each canceled order its `order.canceled`, each
/// confirmed payment its `payment.confirmed`: exactly one each, so no consumer missed or saw
/// twice what happened.
pub async fn events(tx: &mut Tx) -> Result<Checked, sqlx::Error> {
    let checked: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut **tx).await?;
    let rows: Vec<(i64, String, i64, i32)> = sqlx::query_as(
        "WITH ev AS (SELECT aggregate_id, event_type, count(*) AS n FROM outbox_events
                      WHERE aggregate_type = 'order' AND event_type IN ('order.placed', 'order.canceled', 'payment.confirmed')
                      GROUP BY aggregate_id, event_type),
              due AS (SELECT o.id, o.order_number, 'order.placed' AS event_type FROM orders o
                      UNION ALL
                      SELECT o.id, o.order_number, 'order.canceled' FROM orders o WHERE o.canceled_at IS NOT NULL
                      UNION ALL
                      SELECT o.id, o.order_number, 'payment.confirmed' FROM orders o
                        JOIN payments p ON p.order_id = o.id AND p.status = 'confirmed')
         SELECT d.order_number, d.event_type, coalesce(e.n, 0), 1
           FROM due d LEFT JOIN ev e ON e.aggregate_id = d.id::text AND e.event_type = d.event_type
          WHERE coalesce(e.n, 0) <> 1
         UNION ALL
         SELECT o.order_number, e.event_type, e.n, 0
           FROM ev e JOIN orders o ON o.id::text = e.aggregate_id
          WHERE NOT EXISTS (SELECT 1 FROM due d WHERE d.id = o.id AND d.event_type = e.event_type)
         ORDER BY 1, 2",
    )
    .fetch_all(&mut **tx)
    .await?;
    let violations = rows
        .into_iter()
        .map(|(n, t, k, want)| Violation::new(format!("order {n}"), format!("{k} {t} events, not {want}")));
    Ok(Checked::new(checked, violations.collect()))
}
