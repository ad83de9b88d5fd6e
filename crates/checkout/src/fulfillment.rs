//! After the order: confirming payments, shipping and delivering, canceling. Every change goes
//! through [`settle`], which derives the order's status from its payment and shipments
//! ([`crate::order::derive_status`]) and records the transition and its event.

use catalog::variant::FulfillmentType;
use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Actor, Permission};
use kernel::{Money, OrderId, OrderItemId, PaymentId, ShipmentId, StoreId, Validator, VendorId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::CheckoutError;
use crate::event::{self, PaymentConfirmed};
use crate::order::{self, OrderStatus, OrderView, PaymentMethod, PaymentStatus, ShipmentStatus};

#[derive(sqlx::FromRow)]
struct Locked {
    status: OrderStatus,
    payment_method: PaymentMethod,
    currency: kernel::Currency,
}

#[derive(sqlx::FromRow)]
struct PaymentState {
    id: PaymentId,
    status: PaymentStatus,
    amount: i64,
    received_amount: Option<i64>,
}

async fn lock(tx: &mut Tx, store: StoreId, order: OrderId) -> Result<Locked, CheckoutError> {
    sqlx::query_as("SELECT status, payment_method, currency FROM orders WHERE id = $1 AND store_id = $2 FOR UPDATE")
        .bind(order)
        .bind(store)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CheckoutError::OrderNotFound)
}

async fn payment(tx: &mut Tx, order: OrderId) -> Result<PaymentState, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, status, amount, received_amount FROM payments WHERE order_id = $1 ORDER BY id LIMIT 1 FOR UPDATE",
    )
    .bind(order)
    .fetch_one(&mut **tx)
    .await
}

/// Derives the order's status from its payment and shipments and records a change.
async fn settle(
    tx: &mut Tx,
    store: StoreId,
    order: OrderId,
    actor: Actor,
    note: Option<&str>,
) -> Result<OrderStatus, CheckoutError> {
    let o = lock(tx, store, order).await?;
    let p = payment(tx, order).await?;
    let shipments: Vec<ShipmentStatus> =
        sqlx::query_scalar("SELECT status FROM shipments WHERE order_id = $1").bind(order).fetch_all(&mut **tx).await?;
    let next = order::derive_status(o.payment_method, p.status, &shipments, o.status == OrderStatus::Canceled);
    if next != o.status {
        sqlx::query("UPDATE orders SET status = $2 WHERE id = $1").bind(order).bind(next).execute(&mut **tx).await?;
        order::record_history(tx, order, Some(o.status), next, actor, note).await?;
        let event = event::OrderStatusChanged { order_id: order, from: o.status, to: next };
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    Ok(next)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPayment {
    /// What arrived in the account.
    pub received: Money,
    /// Accept a short amount as full payment (the difference is written off).
    #[serde(default)]
    pub accept_short: bool,
    pub note: Option<String>,
}

/// Staff record a bank transfer. The exact amount confirms the payment; an excess confirms it
/// and records a refund owed; a short amount is recorded and flagged and the order keeps
/// waiting, unless staff accept it as it is. Amounts add up over several calls.
pub async fn confirm_bank_transfer(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    input: ConfirmPayment,
) -> Result<OrderView, CheckoutError> {
    by.require(Permission::OrdersManage)?;
    let o = lock(tx, store, order).await?;
    if o.payment_method != PaymentMethod::BankTransfer {
        return Err(CheckoutError::WrongPaymentMethod);
    }
    let p = payment(tx, order).await?;
    if o.status == OrderStatus::Canceled || p.status != PaymentStatus::Pending {
        return Err(CheckoutError::PaymentNotPending);
    }
    let mut v = Validator::new();
    if input.received.currency != o.currency {
        v.push("received.currency", "invalid", format!("the order is in {}", o.currency));
    }
    if input.received.amount <= 0 || input.received.amount > 100_000_000_000 {
        v.push("received.amount", "out_of_range", "must be above 0");
    }
    let note = input.note.as_deref().and_then(|n| v.opt_text("note", Some(n), 1000));
    v.into_result()?;
    let received = p.received_amount.unwrap_or(0) + input.received.amount;
    let short = received < p.amount;
    let confirm = !short || input.accept_short;
    sqlx::query(
        "UPDATE payments SET received_amount = $2, amount_mismatch = ($2 <> amount),
            status = CASE WHEN $3 THEN 'confirmed' ELSE status END,
            confirmed_at = CASE WHEN $3 THEN now() END, confirmed_by = CASE WHEN $3 THEN $4 END,
            refund_owed_amount = greatest($2 - amount, 0), note = coalesce($5, note)
          WHERE id = $1",
    )
    .bind(p.id)
    .bind(received)
    .bind(confirm)
    .bind(by.staff_id())
    .bind(&note)
    .execute(&mut **tx)
    .await?;
    let (due, received) = (Money::new(p.amount, o.currency), Money::new(received, o.currency));
    if confirm {
        let event = PaymentConfirmed::new(order, p.id, o.payment_method, due, received);
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    } else {
        let event = event::PaymentShort { order_id: order, payment_id: p.id, due, received };
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    settle(tx, store, order, by.actor(), note.as_deref()).await?;
    crate::vendor_part::for_staff(tx, store, by, order).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipShipment {
    /// e.g. ヤマト運輸, 佐川急便, 日本郵便
    pub carrier: String,
    pub tracking_no: String,
}

async fn lock_shipment(
    tx: &mut Tx,
    order: OrderId,
    shipment: ShipmentId,
    by: Acting<'_>,
) -> Result<(ShipmentStatus, VendorId), CheckoutError> {
    let row: (ShipmentStatus, VendorId) =
        sqlx::query_as("SELECT status, vendor_id FROM shipments WHERE id = $1 AND order_id = $2 FOR UPDATE")
            .bind(shipment)
            .bind(order)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(CheckoutError::ShipmentNotFound)?;
    if by.vendor().is_some_and(|v| v != row.1) {
        return Err(CheckoutError::ShipmentNotFound);
    }
    Ok(row)
}

/// A shipment leaves: `pending -> shipped`. A bank-transfer order ships only once paid.
pub async fn ship(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    shipment: ShipmentId,
    input: ShipShipment,
) -> Result<OrderView, CheckoutError> {
    by.require(Permission::OrdersFulfill)?;
    let mut v = Validator::new();
    let carrier = v.text("carrier", &input.carrier, 100);
    let tracking = v.text("tracking_no", &input.tracking_no, 100);
    v.into_result()?;
    crate::vendor_part::check_visible(tx, by, order).await?;
    let o = lock(tx, store, order).await?;
    // the shipment first: another vendor's is a 404 whatever the order's state
    let (status, _) = lock_shipment(tx, order, shipment, by).await?;
    match o.status {
        OrderStatus::PendingPayment => return Err(CheckoutError::OrderNotPaid),
        OrderStatus::Canceled => return Err(CheckoutError::OrderCanceled),
        _ => {}
    }
    if status != ShipmentStatus::Pending {
        return Err(CheckoutError::IllegalShipmentTransition { from: status, to: ShipmentStatus::Shipped });
    }
    sqlx::query(
        "UPDATE shipments SET status = 'shipped', carrier = $2, tracking_no = $3, shipped_at = now() WHERE id = $1",
    )
    .bind(shipment)
    .bind(&carrier)
    .bind(&tracking)
    .execute(&mut **tx)
    .await?;
    let event = event::ShipmentShipped { order_id: order, shipment_id: shipment, carrier, tracking_no: tracking };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    settle(tx, store, order, by.actor(), None).await?;
    crate::vendor_part::for_staff(tx, store, by, order).await
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverShipment {
    /// Cash on delivery: what the carrier collected with this shipment. The payment is
    /// confirmed when the last shipment is delivered.
    pub collected: Option<Money>,
}

/// A shipment arrives: `shipped -> delivered`. For cash on delivery, the amount collected is
/// recorded, and the payment confirmed (flagged if it differs) once every shipment is delivered.
pub async fn deliver(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    shipment: ShipmentId,
    input: DeliverShipment,
) -> Result<OrderView, CheckoutError> {
    by.require(Permission::OrdersFulfill)?;
    crate::vendor_part::check_visible(tx, by, order).await?;
    let o = lock(tx, store, order).await?;
    let (status, _) = lock_shipment(tx, order, shipment, by).await?;
    if o.status == OrderStatus::Canceled {
        return Err(CheckoutError::OrderCanceled);
    }
    if status != ShipmentStatus::Shipped {
        return Err(CheckoutError::IllegalShipmentTransition { from: status, to: ShipmentStatus::Delivered });
    }
    let cod = o.payment_method == PaymentMethod::Cod;
    if let Some(c) = &input.collected {
        let mut v = Validator::new();
        if !cod {
            v.push("collected", "invalid", "only cash-on-delivery orders collect on delivery");
        } else if c.currency != o.currency {
            v.push("collected.currency", "invalid", format!("the order is in {}", o.currency));
        } else if c.amount < 0 || c.amount > 100_000_000_000 {
            v.push("collected.amount", "out_of_range", "must not be negative");
        }
        v.into_result()?;
    }
    let others_open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM shipments WHERE order_id = $1 AND id <> $2 AND status IN ('pending', 'shipped')",
    )
    .bind(order)
    .bind(shipment)
    .fetch_one(&mut **tx)
    .await?;
    let p = payment(tx, order).await?;
    let last = others_open == 0;
    if cod && last && p.status == PaymentStatus::Pending && input.collected.is_none() {
        return Err(CheckoutError::Validation(kernel::ValidationErrors::one(
            "collected",
            "required",
            "the last shipment of a cash-on-delivery order records what was collected",
        )));
    }
    sqlx::query("UPDATE shipments SET status = 'delivered', delivered_at = now() WHERE id = $1")
        .bind(shipment)
        .execute(&mut **tx)
        .await?;
    let event = event::ShipmentDelivered { order_id: order, shipment_id: shipment };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    if let (true, Some(c)) = (cod, &input.collected) {
        let received = p.received_amount.unwrap_or(0) + c.amount;
        sqlx::query(
            "UPDATE payments SET received_amount = $2, amount_mismatch = ($2 <> amount),
                status = CASE WHEN $3 THEN 'confirmed' ELSE status END,
                confirmed_at = CASE WHEN $3 THEN now() END, confirmed_by = CASE WHEN $3 THEN $4 END,
                refund_owed_amount = greatest($2 - amount, 0)
              WHERE id = $1",
        )
        .bind(p.id)
        .bind(received)
        .bind(last)
        .bind(by.staff_id())
        .execute(&mut **tx)
        .await?;
        if last {
            let (due, received) = (Money::new(p.amount, o.currency), Money::new(received, o.currency));
            let event = PaymentConfirmed::new(order, p.id, o.payment_method, due, received);
            events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
        }
    }
    settle(tx, store, order, by.actor(), None).await?;
    crate::vendor_part::for_staff(tx, store, by, order).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelOrder {
    pub reason: String,
}

/// Cancels an order that has not shipped: its units go back to their locations (movements),
/// its promotion use is released, its shipments are canceled, and a payment already received
/// becomes a refund owed (refunds are paid offline); a pending payment fails.
pub async fn cancel(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    input: CancelOrder,
) -> Result<OrderView, CheckoutError> {
    by.require(Permission::OrdersManage)?;
    let mut v = Validator::new();
    let reason = v.text("reason", &input.reason, 500);
    v.into_result()?;
    cancel_whole(tx, store, by, order, reason).await
}

/// [`cancel`], once the caller may.
async fn cancel_whole(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    reason: String,
) -> Result<OrderView, CheckoutError> {
    let o = lock(tx, store, order).await?;
    if o.status == OrderStatus::Canceled {
        return Err(CheckoutError::OrderCanceled);
    }
    let moved: i64 =
        sqlx::query_scalar("SELECT count(*) FROM shipments WHERE order_id = $1 AND status IN ('shipped', 'delivered')")
            .bind(order)
            .fetch_one(&mut **tx)
            .await?;
    if moved > 0 {
        return Err(CheckoutError::OrderAlreadyShipped);
    }
    let restocked = inventory::reservation::restock_order(tx, store, order, by.actor()).await?;
    crate::promotions::release_use(tx, order).await?;
    let p = payment(tx, order).await?;
    let refund = if p.status == PaymentStatus::Confirmed { p.received_amount.unwrap_or(0) } else { 0 };
    sqlx::query(
        "UPDATE payments SET status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END,
            refund_owed_amount = CASE WHEN status = 'confirmed' THEN coalesce(received_amount, 0) ELSE refund_owed_amount END
          WHERE id = $1",
    )
    .bind(p.id)
    .execute(&mut **tx)
    .await?;
    if p.status == PaymentStatus::Pending {
        let event = event::PaymentFailed { order_id: order, payment_id: p.id, reason: reason.clone() };
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    let canceled: Vec<ShipmentId> = sqlx::query_scalar(
        "UPDATE shipments SET status = 'canceled' WHERE order_id = $1 AND status = 'pending' RETURNING id",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    for shipment in canceled {
        let event = event::ShipmentCanceled { order_id: order, shipment_id: shipment };
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    sqlx::query(
        "UPDATE order_items SET canceled_at = now(), cancel_reason = $2 WHERE order_id = $1 AND canceled_at IS NULL",
    )
    .bind(order)
    .bind(&reason)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE orders SET status = 'canceled', canceled_at = now(), cancel_reason = $2 WHERE id = $1")
        .bind(order)
        .bind(&reason)
        .execute(&mut **tx)
        .await?;
    order::record_history(tx, order, Some(o.status), OrderStatus::Canceled, by.actor(), Some(&reason)).await?;
    let event = event::OrderCanceled {
        order_id: order,
        reason,
        restocked_units: restocked,
        refund_owed: Money::new(refund, o.currency),
    };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    crate::vendor_part::for_staff(tx, store, by, order).await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelLines {
    pub reason: String,
    /// The lines to cancel. A vendor's staff may leave it out: all of their vendor's lines that
    /// are not canceled yet. The mall's staff name the lines.
    pub line_ids: Option<Vec<OrderItemId>>,
}

#[derive(sqlx::FromRow)]
struct LiveLine {
    id: OrderItemId,
    vendor_id: VendorId,
    variant_id: kernel::VariantId,
    fulfillment_type: FulfillmentType,
    canceled: bool,
}

/// Cancels some lines of an order that have not left (docs/MALL.md, "Cancellation"): a vendor's
/// staff cancel their own vendor's lines, the mall's staff any. Those lines' units go back to
/// stock; the order's amounts and its tax per rate are those of the lines left (each keeps its
/// shares of the discount and fees, so nothing left costs more); the payment asks for less (a
/// COD collects less), and what was paid above it is a refund owed; a vendor shipment with no
/// line left is canceled. The other vendors' lines are untouched. When no line is left, the
/// order is canceled as [`cancel`] does.
pub async fn cancel_lines(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    input: CancelLines,
) -> Result<OrderView, CheckoutError> {
    by.require(Permission::OrdersCancelLines)?;
    let mut v = Validator::new();
    let reason = v.text("reason", &input.reason, 500);
    match &input.line_ids {
        None if by.vendor().is_none() => v.push("line_ids", "required", "name the lines to cancel"),
        Some(ids) if ids.is_empty() || ids.len() > 500 => v.push("line_ids", "out_of_range", "1 to 500 lines"),
        _ => {}
    }
    v.into_result()?;
    crate::vendor_part::check_visible(tx, by, order).await?;
    let o = lock(tx, store, order).await?;
    if o.status == OrderStatus::Canceled {
        return Err(CheckoutError::OrderCanceled);
    }
    let lines: Vec<LiveLine> = sqlx::query_as(
        "SELECT id, vendor_id, variant_id, fulfillment_type, canceled_at IS NOT NULL AS canceled
           FROM order_items WHERE order_id = $1 ORDER BY id FOR UPDATE",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    let targets: Vec<&LiveLine> = match &input.line_ids {
        Some(ids) => {
            let mut out = Vec::new();
            for id in ids {
                match lines.iter().find(|l| l.id == *id && by.sees_vendor(l.vendor_id)) {
                    Some(l) if l.canceled => return Err(CheckoutError::LineCanceled),
                    Some(l) => out.push(l),
                    None => return Err(CheckoutError::LineNotFound),
                }
            }
            out.sort_by_key(|l| l.id);
            out.dedup_by_key(|l| l.id);
            out
        }
        None => lines.iter().filter(|l| !l.canceled && by.sees_vendor(l.vendor_id)).collect(),
    };
    if targets.is_empty() {
        return Err(CheckoutError::LineCanceled);
    }
    let p = payment(tx, order).await?;
    // what has left cannot be canceled: a physical line whose vendor's shipment moved, a digital
    // line once paid (its download was delivered)
    let moved: Vec<VendorId> = sqlx::query_scalar(
        "SELECT vendor_id FROM shipments WHERE order_id = $1 AND status IN ('shipped', 'delivered')",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    for l in &targets {
        if l.fulfillment_type == FulfillmentType::Physical && moved.contains(&l.vendor_id) {
            return Err(CheckoutError::OrderAlreadyShipped);
        }
        if l.fulfillment_type != FulfillmentType::Physical && p.status == PaymentStatus::Confirmed {
            return Err(CheckoutError::LineDelivered);
        }
    }
    if targets.len() == lines.iter().filter(|l| !l.canceled).count() {
        // nothing would be left: the whole order goes
        return cancel_whole(tx, store, by, order, reason).await;
    }
    let ids: Vec<OrderItemId> = targets.iter().map(|l| l.id).collect();
    sqlx::query("UPDATE order_items SET canceled_at = now(), cancel_reason = $2 WHERE id = ANY($1)")
        .bind(&ids)
        .bind(&reason)
        .execute(&mut **tx)
        .await?;
    let variants: Vec<kernel::VariantId> = targets.iter().map(|l| l.variant_id).collect();
    let restocked = inventory::reservation::restock_variants(tx, store, order, &variants, by.actor()).await?;
    // the order is what is left
    let left: Vec<order::OrderLine> = sqlx::query_as(&format!(
        "SELECT {} FROM order_items WHERE order_id = $1 AND canceled_at IS NULL ORDER BY id",
        order::LINE_COLUMNS
    ))
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    let part = crate::vendor_part::PartTotals::of(&left);
    sqlx::query(
        "UPDATE orders SET subtotal_amount = $2, discount_amount = $3, shipping_fee_amount = $4, cod_fee_amount = $5,
            total_amount = $6 WHERE id = $1",
    )
    .bind(order)
    .bind(part.subtotal)
    .bind(part.discount)
    .bind(part.shipping_fee)
    .bind(part.cod_fee)
    .bind(part.total)
    .execute(&mut **tx)
    .await?;
    let tax = part.tax_lines();
    sqlx::query("DELETE FROM order_tax_lines WHERE order_id = $1").bind(order).execute(&mut **tx).await?;
    sqlx::query(
        "INSERT INTO order_tax_lines (tenant_id, order_id, rate_bps, taxable_amount, tax_amount)
         SELECT $1, $2, u.rate_bps, u.taxable_amount, u.tax_amount
           FROM UNNEST($3::int4[], $4::int8[], $5::int8[]) AS u(rate_bps, taxable_amount, tax_amount)",
    )
    .bind(tx.tenant())
    .bind(order)
    .bind(tax.iter().map(|t| t.rate_bps as i32).collect::<Vec<_>>())
    .bind(tax.iter().map(|t| t.taxable_amount).collect::<Vec<_>>())
    .bind(tax.iter().map(|t| t.tax_amount).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    // the payment asks for what is left; paid above it is owed back
    let refund: i64 = sqlx::query_scalar(
        "UPDATE payments SET amount = $2,
            amount_mismatch = (received_amount IS NOT NULL AND received_amount <> $2),
            refund_owed_amount = CASE WHEN status = 'confirmed' THEN greatest(coalesce(received_amount, 0) - $2, 0)
                                      ELSE refund_owed_amount END
          WHERE id = $1 RETURNING refund_owed_amount",
    )
    .bind(p.id)
    .bind(part.total)
    .fetch_one(&mut **tx)
    .await?;
    // a vendor's shipment with nothing left to ship
    let canceled: Vec<ShipmentId> = sqlx::query_scalar(
        "UPDATE shipments s SET status = 'canceled' WHERE s.order_id = $1 AND s.status = 'pending'
            AND NOT EXISTS (SELECT 1 FROM order_items oi WHERE oi.order_id = s.order_id AND oi.vendor_id = s.vendor_id
                              AND oi.fulfillment_type = 'physical' AND oi.canceled_at IS NULL)
          RETURNING s.id",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    for shipment in canceled {
        let event = event::ShipmentCanceled { order_id: order, shipment_id: shipment };
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    let c = o.currency;
    let event = event::OrderLinesCanceled {
        order_id: order,
        vendor_id: by.vendor(),
        line_ids: ids,
        reason: reason.clone(),
        restocked_units: restocked,
        total: Money::new(part.total, c),
        refund_owed: Money::new(refund, c),
    };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    settle(tx, store, order, by.actor(), Some(reason.as_str())).await?;
    crate::vendor_part::for_staff(tx, store, by, order).await
}

/// Records that an owed refund was paid (offline).
pub async fn mark_refunded(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
) -> Result<OrderView, CheckoutError> {
    by.require(Permission::OrdersManage)?;
    let o = lock(tx, store, order).await?;
    let refunded: Option<i64> = sqlx::query_scalar(
        "UPDATE payments SET refunded_at = now() WHERE order_id = $1 AND refund_owed_amount > 0 AND refunded_at IS NULL
         RETURNING refund_owed_amount",
    )
    .bind(order)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(refunded) = refunded else { return Err(CheckoutError::NoRefundOwed) };
    let event = event::PaymentRefunded { order_id: order, refunded: Money::new(refunded, o.currency) };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    crate::vendor_part::for_staff(tx, store, by, order).await
}

/// Cancels the tenant's bank-transfer orders unpaid at their due date (the worker).
pub async fn cancel_overdue(db: &db::Db, tenant: kernel::TenantId, batch: i64) -> Result<usize, sqlx::Error> {
    // a store the database's workers leave alone (a move in progress) waits
    let skip = db.stores_left_alone().await?;
    let mut tx = db.begin(tenant).await?;
    let due: Vec<(OrderId, StoreId, DateTime<Utc>)> = sqlx::query_as(
        "SELECT o.id, o.store_id, p.due_at FROM payments p JOIN orders o ON o.id = p.order_id
          WHERE p.method = 'bank_transfer' AND p.status = 'pending' AND p.due_at <= now() AND o.status = 'pending_payment'
            AND NOT o.store_id = ANY($2)
          ORDER BY p.due_at LIMIT $1",
    )
    .bind(batch)
    .bind(&skip)
    .fetch_all(&mut *tx)
    .await?;
    let mut n = 0;
    for (order, store, _) in due {
        sqlx::query("SAVEPOINT overdue").execute(&mut *tx).await?;
        match cancel(&mut tx, store, Acting::System, order, CancelOrder { reason: "unpaid by the due date".into() })
            .await
        {
            Ok(_) => {
                sqlx::query("RELEASE SAVEPOINT overdue").execute(&mut *tx).await?;
                n += 1;
            }
            Err(CheckoutError::Db(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(order_id = %order, error = %e, "could not cancel an overdue order");
                sqlx::query("ROLLBACK TO SAVEPOINT overdue").execute(&mut *tx).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(n)
}
